"""The command catalogue: ``pva --help`` lists every command, and a command imports only what it runs."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest

from planner.cli import catalogue
from planner.cli.main import _plugins, build_parser, main
from planner.cli.shell import UsageError
from sidecar.cli import catalogue as sidecar_catalogue

# What `pva verify` never needs: the sidecar's web stack, database, migrations and stores.
HEAVY = ("fastapi", "starlette", "sqlalchemy", "alembic", "google.cloud", "uvicorn", "psycopg", "sidecar")
PROBE = """
import contextlib, io, json, sys
from planner.cli.main import main
try:
    with contextlib.redirect_stdout(io.StringIO()):
        code = main(sys.argv[1:])
except SystemExit as exit_:  # --help
    code = exit_.code
print(json.dumps({"code": code, "modules": sorted(sys.modules)}))
"""


def _listed(parser: argparse.ArgumentParser) -> list[tuple[str, str | None]]:
    """The commands ``pva --help`` lists, with their help, in order."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return [(choice.dest, choice.help) for choice in action._choices_actions]
    raise AssertionError("pva has no commands")


def _imported_by(*argv: str) -> tuple[int, set[str]]:
    """Run ``pva ARGV`` in a fresh interpreter; its exit code and every module it imported."""
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *argv], capture_output=True, text=True, check=True, timeout=120
    )
    found = json.loads(done.stdout)
    return found["code"], set(found["modules"])


def test_help_lists_every_command_as_the_full_parser_does() -> None:
    """The lazy parser of ``pva --help`` lists the same commands with the same help, in the same order."""
    full = _listed(build_parser())
    assert _listed(build_parser(None, lazy=True)) == full
    assert {name for name, _ in full} >= {command.name for command in catalogue.BUILTIN}


def test_catalogue_help_is_the_commands_own() -> None:
    """Each catalogue entry's help line is the one its module declares (they cannot drift apart)."""
    entries = [*catalogue.BUILTIN, *catalogue.FALLBACKS.values(), *_plugins()]
    for entry in entries:
        parser = argparse.ArgumentParser()
        commands = parser.add_subparsers()
        entry.declare(commands)
        assert dict(_listed(parser))[entry.name] == entry.help, entry.name


def test_the_sidecar_names_its_commands_by_entry_point() -> None:
    """Every sidecar command is a ``pva.commands`` entry point naming a catalogue ``Command``."""
    declared = {
        value.name for value in vars(sidecar_catalogue).values() if isinstance(value, catalogue.Command)
    }
    assert {command.name for command in _plugins()} == declared


def test_lazy_parser_declares_only_the_command_run() -> None:
    """Lazily, the command run gets its arguments; another is listed, with no arguments of its own."""
    parser = build_parser("verify", lazy=True)
    args = parser.parse_args(["verify", "plan.json", "--manifest", "m.jsonl", "--json"])
    assert args.json is True
    with pytest.raises(SystemExit):
        build_parser("schema", lazy=True).parse_args(["verify", "plan.json", "--manifest", "m.jsonl"])


def test_help_of_a_command_shows_its_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    """``pva verify --help`` shows verify's own options, loaded for it."""
    with pytest.raises(SystemExit) as exit_:
        main(["verify", "--help"])
    assert exit_.value.code == 0
    assert "--manifest" in capsys.readouterr().out


def test_an_unknown_command_is_refused_naming_the_commands(capsys: pytest.CaptureFixture[str]) -> None:
    """``pva nosuch`` exits 2 and lists the commands there are, the sidecar's included."""
    with pytest.raises(SystemExit) as exit_:
        main(["nosuch"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "invalid choice: 'nosuch'" in err
    assert "'verify'" in err
    assert "'serve'" in err


def test_a_command_whose_extra_is_missing_says_how_to_get_it() -> None:
    """A plugin needing a module not installed is listed and says what to install; apply goes remote."""
    missing = ("no_such_module_pva",)
    plugins = [
        catalogue.Command("ghost", "haunts", "sidecar.cli.db", needs=missing),
        catalogue.Command("apply", "applies", "sidecar.cli.apply", needs=missing),
    ]
    listed = dict(_listed(build_parser(None, lazy=True, plugins=plugins)))
    assert listed["ghost"] == catalogue.MISSING_HELP
    assert listed["apply"] == catalogue.FALLBACKS["apply"].help
    args = build_parser("ghost", lazy=True, plugins=plugins).parse_args(["ghost", "--db", "x"])
    with pytest.raises(UsageError, match=r"pip install 'pva\[sidecar\]'"):
        args.run(args)
    args = build_parser("apply", lazy=True, plugins=plugins).parse_args(["apply", "0" * 64])
    with pytest.raises(UsageError, match="no sidecar given"):  # the remote form: it needs a server
        args.run(args)


def test_a_dotted_need_whose_package_is_missing_is_unavailable() -> None:
    """A needed module inside a package that is not installed makes the command unavailable, not a crash."""
    assert not catalogue.Command("ghost", "haunts", "x", needs=("no_such_package_pva.sub",)).available()
    assert catalogue.Command("db", "h", "sidecar.cli.db", needs=sidecar_catalogue.NEEDS).available()


def test_verify_imports_nothing_of_the_sidecar(tmp_path: Path) -> None:
    """``pva verify`` with a manifest imports no web framework, database, migration, cloud or HTTP library."""
    manifest = tmp_path / "store.jsonl"
    manifest.write_text(
        '{"pva": "manifest/v1", "root": "/s", "hashed": false}\n{"path": "m", "kind": "dir"}\n',
        encoding="utf-8",
    )
    plan = tmp_path / "plan.json"
    plan.write_text(
        json.dumps({"pva": "plan/v1", "title": "t", "scope": ["m"], "ops": [{"op": "mkdir", "path": "m/a"}]})
    )
    code, modules = _imported_by("verify", str(plan), "--manifest", str(manifest), "--json")
    assert code == 0
    loaded = sorted(name for name in modules if any(name == h or name.startswith(h + ".") for h in HEAVY))
    assert loaded == []
    assert "jsonschema" not in modules  # a valid plan needs no schema wording
    assert "httpx" not in modules  # the HTTP client only for --server-holds (it was a fifth of the start-up)


def test_help_imports_no_command() -> None:
    """``pva --help`` imports no command's module: not the verifier, not the models, not the sidecar's."""
    code, modules = _imported_by("--help")
    assert code == 0
    assert not {name for name in modules if name.startswith(("planner.cli.", "sidecar.cli."))} - {
        "planner.cli.main",
        "planner.cli.catalogue",
        "planner.cli.shell",
        "planner.cli.text",
        "sidecar.cli.catalogue",
    }
    assert not {name for name in modules if any(name.startswith(h) for h in HEAVY[:-1])}
    assert "pydantic" not in modules  # no model is built to print a list


def test_the_package_exports_resolve() -> None:
    """Every name ``planner`` exports (imported when first used) is the object of its home module."""
    import planner
    from planner.core.verify import verify

    assert all(getattr(planner, name) is not None for name in planner.__all__)
    assert planner.verify is verify
    assert set(planner.__all__) <= set(dir(planner))
    with pytest.raises(AttributeError):
        _ = planner.nothing_here
