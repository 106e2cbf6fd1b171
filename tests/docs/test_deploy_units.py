"""The example deployment in docs/deploy/ stays true to the CLI and to the settings.

Each systemd unit that runs pva runs a command the CLI has (its whole command
line parses, and the command is the sidecar's own, not the word printed when
the sidecar is missing), hardened as docs/operations.md says. Every ``PVA_``
name in ``pva.env.example`` is a setting, every setting is named there, and
the file is a production configuration ``pva serve`` starts with.
"""

from __future__ import annotations

import argparse
import configparser
import re
import shlex
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from planner.cli.main import build_parser
from sidecar.backends.gcs.location import GcsLocation
from sidecar.settings import Settings, unsafe

DEPLOY = Path(__file__).resolve().parents[2] / "docs" / "deploy"
ENV_EXAMPLE = DEPLOY / "pva.env.example"
UNITS = sorted(DEPLOY.glob("*.service"))
PVA_UNITS = ["pva-serve.service", "pva-worker.service"]
VENV_PVA = "/opt/pva/venv/bin/pva"
VARIABLE = re.compile(r"\bPVA_[A-Z0-9_]+\b")


def unit(name: str) -> configparser.ConfigParser:
    """A unit file read as systemd would: sections, case-sensitive keys, ``%`` specifiers left alone."""
    parser = configparser.ConfigParser(strict=False, interpolation=None, comment_prefixes=("#", ";"))
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # systemd keys are case-sensitive
    parser.read_string((DEPLOY / name).read_text(encoding="utf-8"), source=name)
    return parser


def exec_start(name: str) -> list[str]:
    return shlex.split(unit(name)["Service"]["ExecStart"])


def example_settings() -> Settings:
    """The settings ``pva.env.example`` gives, with nothing from this process's environment."""
    return Settings(_env_file=ENV_EXAMPLE)


def setting_variables() -> set[str]:
    return {f"PVA_{name.upper()}" for name in Settings.model_fields}


def commands(parser: argparse.ArgumentParser) -> set[str]:
    """The commands ``pva --help`` lists: the choices of its subparsers."""
    return {
        name
        for action in parser._actions
        if isinstance(action, argparse._SubParsersAction)
        for name in action.choices
    }


@pytest.fixture(autouse=True)
def _no_pva_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The environment wins over an env file: clear it, so the file alone is read."""
    for name in [*setting_variables(), "PVA_SETTINGS_FILE"]:
        monkeypatch.delenv(name, raising=False)


def test_the_deployment_has_its_three_units() -> None:
    """docs/deploy holds the serve, worker and Cloud SQL proxy units the operations guide links."""
    assert [path.name for path in UNITS] == ["cloud-sql-proxy.service", *PVA_UNITS]


@pytest.mark.parametrize("name", PVA_UNITS)
def test_a_pva_unit_runs_a_sidecar_command_that_exists(name: str) -> None:
    """ExecStart names the venv's pva and a command pva --help lists, and its whole line parses."""
    argv = exec_start(name)
    assert argv[0] == VENV_PVA
    parser = build_parser()
    assert argv[1] in commands(parser), f"{name}: pva has no command {argv[1]!r}"
    try:
        args = parser.parse_args(argv[1:])
    except SystemExit as refused:
        pytest.fail(f"{name}: pva rejects {shlex.join(argv[1:])} (exit {refused.code})")
    # The sidecar's command itself, not the stand-in that says the sidecar is not installed.
    assert args.run.__module__ == f"sidecar.cli.{argv[1]}"


@pytest.mark.parametrize("name", [path.name for path in UNITS])
def test_every_unit_is_hardened_and_restarts(name: str) -> None:
    """Each unit starts after the network, restarts on failure, and runs with no new privileges."""
    found = unit(name)
    assert "network-online.target" in found["Unit"]["After"].split()
    assert "network-online.target" in found["Unit"]["Wants"].split()
    service = found["Service"]
    assert service["Restart"] == "on-failure"
    assert service["NoNewPrivileges"] == "true"
    assert service["ProtectSystem"] == "strict"
    assert service["PrivateTmp"] == "true"
    assert service["CapabilityBoundingSet"] == ""


@pytest.mark.parametrize("name", PVA_UNITS)
def test_a_pva_unit_runs_as_pva_with_the_settings_file_and_may_write_its_folders(name: str) -> None:
    """User pva, /etc/pva/pva.env, and every folder the example settings name is writable."""
    service = unit(name)["Service"]
    assert service["User"] == "pva"
    assert service["EnvironmentFile"] == "/etc/pva/pva.env"
    writable = [Path(path) for path in service["ReadWritePaths"].split()]
    settings = example_settings()
    for folder in (settings.state_dir, settings.checkpoint_dir):
        assert folder is not None
        assert any(Path(folder).is_relative_to(root) for root in writable), f"{name}: {folder} read-only"


def test_the_proxy_listens_where_the_database_url_points() -> None:
    """The Cloud SQL Auth Proxy serves the loopback address and port PVA_DATABASE_URL connects to."""
    argv = exec_start("cloud-sql-proxy.service")
    assert argv[0].endswith("/cloud-sql-proxy")
    url = urlsplit(example_settings().database_url)
    assert url.scheme == "postgresql+psycopg"
    assert argv[argv.index("--address") + 1] == url.hostname == "127.0.0.1"
    assert int(argv[argv.index("--port") + 1]) == url.port


def test_every_pva_variable_in_the_env_example_is_a_setting() -> None:
    """A misspelt PVA_ name would be ignored without a word: the example names only real settings."""
    named = set(VARIABLE.findall(ENV_EXAMPLE.read_text(encoding="utf-8")))
    assert named, "the example names no setting"
    assert named <= setting_variables(), f"not settings: {sorted(named - setting_variables())}"


def test_the_env_example_names_every_setting() -> None:
    """Each setting is set in the example, so a new one is a decision for production, not a default."""
    assigned = {
        line.split("=", 1)[0]
        for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines()
        if VARIABLE.match(line)
    }
    assert setting_variables() <= assigned, f"not in the example: {sorted(setting_variables() - assigned)}"


def test_the_env_example_is_a_production_configuration_pva_serve_starts_with() -> None:
    """It parses, and pva serve's unsafe-settings check finds neither a refusal nor a warning in it."""
    settings = example_settings()
    assert settings.environment == "production"
    assert settings.apply_mode == "jobs"
    assert GcsLocation.parse(settings.store).bucket == "firm-projects"
    assert unsafe(settings, empty_policy=False) == ([], [])
