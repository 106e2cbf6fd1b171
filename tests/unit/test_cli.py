"""The pva command line: output, exit codes, and one-line errors."""

from __future__ import annotations

import gc
import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from planner import Entry, Plan, parse_plan, tree_of, verify
from planner.agent.snapshot import ScanStats
from planner.cli.main import main
from planner.cli.progress import Progress
from planner.cli.shell import ONE_SHOT_COLLECTION, one_shot_collection, write_atomically
from planner.cli.views import report_json
from planner.core.schema import plan_json_schema


@pytest.fixture
def store(tmp_path: Path) -> Path:
    root = tmp_path / "store"
    (root / "m" / "inbox").mkdir(parents=True)
    (root / "m" / "inbox" / "1.pdf").write_bytes(b"one")
    return root


def write_plan(tmp_path: Path, *ops: Mapping[str, object]) -> Path:
    path = tmp_path / "plan.json"
    path.write_text(json.dumps({"pva": "plan/v1", "title": "t", "scope": ["m"], "ops": list(ops)}))
    return path


GOOD = ({"op": "mkdir", "path": "m/alice"}, {"op": "move", "src": "m/inbox/1.pdf", "dst": "m/alice/1.pdf"})


def test_verify_valid_plan_exits_zero_with_summary(
    tmp_path: Path, store: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A valid plan exits 0 and prints a terraform-style summary line."""
    code = main(["verify", str(write_plan(tmp_path, *GOOD)), "--root", str(store)])
    out = capsys.readouterr().out
    assert code == 0
    assert "Plan: 1 mkdir, 1 move, 0 rename, 0 write, 0 copy, 0 delete; 0 errors, 0 warnings." in out
    assert "m/inbox/1.pdf -> m/alice/1.pdf" in out


def test_verify_collects_garbage_less_often_and_puts_the_collector_back(
    tmp_path: Path, store: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Inside a one-shot command the youngest generation waits for 200,000 objects; after it, as before."""
    original = gc.get_threshold()
    before = (700, 10, 10)  # Python's defaults, whatever an earlier test left
    gc.set_threshold(*before)
    inside = []

    def failing_command() -> None:
        with one_shot_collection():
            inside.append(gc.get_threshold())
            raise RuntimeError("a command that fails")

    try:
        with pytest.raises(RuntimeError):
            failing_command()
        assert inside == [(ONE_SHOT_COLLECTION, *before[1:])]
        assert gc.get_threshold() == before
        assert main(["verify", str(write_plan(tmp_path, *GOOD)), "--root", str(store)]) == 0
        assert gc.get_threshold() == before
    finally:
        gc.set_threshold(*original)
    capsys.readouterr()


def test_verify_plan_with_errors_exits_one(
    tmp_path: Path, store: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A plan with error diagnostics exits 1 and lists each one."""
    plan = write_plan(tmp_path, {"op": "delete", "path": "m/nope"}, {"op": "mkdir", "path": "../x"})
    code = main(["verify", str(plan), "--root", str(store)])
    out = capsys.readouterr().out
    assert code == 1
    assert "error[not_found] op 0.path" in out
    assert "error[invalid_path] op 1.path" in out


def test_verify_json_report_is_versioned(
    tmp_path: Path, store: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--json prints the versioned report with digest, effect and inverse plan."""
    plan_path = write_plan(tmp_path, *GOOD)
    code = main(["verify", str(plan_path), "--root", str(store), "--json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0
    assert report["version"] == "report/v1"
    assert report["ok"] is True
    assert report["digest"] == parse_plan(plan_path.read_bytes()).digest()
    assert report["effect"]["moved"] == [{"src": "m/inbox/1.pdf", "dst": "m/alice/1.pdf"}]
    assert [op["op"] for op in report["inverse"]["ops"]] == ["move", "delete"]
    assert parse_plan(json.dumps(report["inverse"])).title == "Revert: t"


def test_json_report_is_the_text_json_dumps_gives() -> None:
    """The compiled serialiser writes the report byte for byte as json.dumps(indent=2, ensure_ascii=False)."""
    odd = 'Caf\u00e9 \U0001f600 "q" \\ \u2028 \x7f'
    plan = Plan.model_validate(
        {
            "pva": "plan/v1",
            "title": odd,
            "scope": ["m"],
            "ops": [
                {"op": "mkdir", "path": "m/Caf\u00e9 \U0001f600"},
                {"op": "mkdir", "path": "m/bad\u202ename"},
                {"op": "mkdir", "path": "m/esc\x1b\x7f\u2028"},
                {"op": "move", "src": "m/a", "dst": "m/b", "reason": "tab\there\nnew " + odd},
                {"op": "write", "path": "m/c", "content": odd},
            ],
        }
    )
    tree = tree_of([Entry("m", "dir"), Entry("m/a", "file", 3, "ab" * 32)])
    for report in (
        verify(plan, tree),
        verify(Plan.model_validate({**plan.model_dump(), "ops": [plan.ops[3]]}), tree),
    ):
        assert report_json(report) == json.dumps(report.model_dump(mode="json"), indent=2, ensure_ascii=False)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("{", "not JSON"),
        ('{"pva": "plan/v1", "pva": "plan/v1"}', "duplicate key"),
        ('{"pva": "plan/v1", "title": "t", "scope": ["m"], "ops": [{"op": "move", "src": "m/a"}]}', "/ops/0"),
    ],
    ids=["not-json", "duplicate-key", "schema"],
)
def test_malformed_plan_exits_two_with_one_line(
    tmp_path: Path, store: Path, capsys: pytest.CaptureFixture[str], text: str, fragment: str
) -> None:
    """Malformed input exits 2 with a one-line message on stderr, no traceback."""
    plan = tmp_path / "bad.json"
    plan.write_text(text)
    code = main(["verify", str(plan), "--root", str(store)])
    err = capsys.readouterr().err
    assert code == 2
    assert fragment in err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_missing_plan_file_exits_two(tmp_path: Path, store: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A plan file that does not exist is exit 2 with the file named."""
    code = main(["verify", str(tmp_path / "absent.json"), "--root", str(store)])
    assert code == 2
    assert "absent.json" in capsys.readouterr().err


def test_verify_without_a_tree_source_is_misuse(tmp_path: Path) -> None:
    """verify needs --root or --manifest: argparse exits 2."""
    with pytest.raises(SystemExit) as exit_:
        main(["verify", str(write_plan(tmp_path, *GOOD))])
    assert exit_.value.code == 2


def test_snapshot_then_verify_against_manifest(
    tmp_path: Path, store: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A manifest written by snapshot verifies plans like the folder itself, and no temp file is left."""
    manifest = tmp_path / "snap.jsonl"
    assert main(["snapshot", str(store), "-o", str(manifest)]) == 0
    assert "wrote 3 entries" in capsys.readouterr().err
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".snap")] == []
    lines = manifest.read_text().splitlines()
    assert json.loads(lines[0])["pva"] == "manifest/v1"
    assert json.loads(lines[3])["sha256"] is not None
    assert main(["verify", str(write_plan(tmp_path, *GOOD)), "--manifest", str(manifest)]) == 0


def test_snapshot_skips_and_counts_a_name_that_is_not_utf8(
    tmp_path: Path, store: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A name no manifest can carry (not UTF-8, no plan can name it) is left out and counted, like a link."""
    (Path(os.fsdecode(bytes(store) + b"/bad\xffname.txt"))).write_bytes(b"x")
    whole = tmp_path / "whole.jsonl"
    assert main(["snapshot", str(store), "-o", str(whole)]) == 0
    assert "skipped 1 links, special or hard-linked files or names not UTF-8" in capsys.readouterr().err
    (Path(os.fsdecode(bytes(store) + b"/bad\xffname.txt"))).unlink()
    assert main(["snapshot", str(store), "-o", str(tmp_path / "without.jsonl")]) == 0
    assert whole.read_text() == (tmp_path / "without.jsonl").read_text()


def test_snapshot_no_hash_to_stdout(store: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """snapshot --no-hash streams to stdout without sha256 fields."""
    assert main(["snapshot", str(store), "--no-hash"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert json.loads(lines[0])["hashed"] is False
    assert all("sha256" not in json.loads(line) for line in lines[1:])


def test_schema_and_digest_commands(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """schema prints the plan JSON Schema; digest prints the plan's sha256 identity."""
    assert main(["schema"]) == 0
    assert json.loads(capsys.readouterr().out) == plan_json_schema()
    plan_path = write_plan(tmp_path, *GOOD)
    assert main(["digest", str(plan_path)]) == 0
    assert capsys.readouterr().out.strip() == parse_plan(plan_path.read_bytes()).digest()


def test_progress_draws_only_on_a_terminal() -> None:
    """Progress writes to a TTY and stays silent when stderr is a pipe or file."""

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    terminal, pipe = Terminal(), io.StringIO()
    stats = ScanStats(entries=1234, bytes_hashed=2 * 1024**2)
    for stream in (terminal, pipe):
        progress = Progress(stream)
        progress.update(stats)
        progress.done()
    assert "1,234 entries, 2.0 MiB hashed" in terminal.getvalue()
    assert pipe.getvalue() == ""


def test_console_script_reports_errors_without_traceback(tmp_path: Path) -> None:
    """The installed pva command exits 2 on a malformed plan with one line and no traceback."""
    plan = tmp_path / "bad.json"
    plan.write_text('{"pva": NaN}')
    pva = Path(sys.executable).with_name("pva")
    result = subprocess.run([str(pva), "digest", str(plan)], capture_output=True, text=True, check=False)
    assert result.returncode == 2
    assert result.stderr.startswith("pva: malformed plan:")
    assert "Traceback" not in result.stderr


def test_closed_stdout_exits_quietly(tmp_path: Path) -> None:
    """When the reader of pva's output goes away, pva exits 141 without a traceback."""
    pva = Path(sys.executable).with_name("pva")
    with subprocess.Popen([str(pva), "schema"], stdout=subprocess.PIPE, stderr=subprocess.PIPE) as child:
        assert child.stdout is not None
        child.stdout.close()
        _, err = child.communicate()
    assert child.returncode == 141
    assert err == b""


def test_manifest_that_is_not_utf8_exits_two(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A manifest with invalid UTF-8 is a one-line error and exit 2."""
    manifest = tmp_path / "bad.jsonl"
    manifest.write_bytes(
        b'{"pva": "manifest/v1", "root": "/r", "hashed": true}\n{"path": "\xff", "kind": "dir"}\n'
    )
    code = main(["verify", str(write_plan(tmp_path, *GOOD)), "--manifest", str(manifest)])
    assert code == 2
    assert "not UTF-8" in capsys.readouterr().err


def test_an_output_into_a_missing_folder_is_named_as_the_user_gave_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """-o into a folder that is not there: exit 2, naming the file asked for, not a temporary one."""
    (tmp_path / "store").mkdir()
    target = tmp_path / "missing" / "snapshot.jsonl"
    assert main(["snapshot", str(tmp_path / "store"), "-o", str(target)]) == 2
    assert capsys.readouterr().err.strip() == f"pva: No such file or directory: {target}"


def test_an_output_cut_off_midway_leaves_the_file_as_it_was(tmp_path: Path) -> None:
    """A failure while writing -o (a download cut off) keeps the old file and leaves no temporary one."""
    target = tmp_path / "log.csv"
    target.write_bytes(b"the old log")

    def cut_off() -> Iterator[bytes]:
        yield b"half of the new"
        raise ConnectionError("the sidecar went away")

    with pytest.raises(ConnectionError):
        write_atomically(target, cut_off())
    assert target.read_bytes() == b"the old log"
    assert sorted(tmp_path.iterdir()) == [target]
