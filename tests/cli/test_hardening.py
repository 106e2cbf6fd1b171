"""Apply and revert on a real store: the trash is checked, inverses are whole, outcomes say what happened."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from planner import Plan
from planner.cli.main import main
from planner.core.footprint import Read, footprint
from planner.core.report import Code, Diagnostic
from sidecar.audit.records import ApplyRecord
from sidecar.cli.outcome import render_outcome
from tests.cli.test_apply_commands import options, plan_file

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _trashed(site: dict[str, str], name: str) -> Path:
    """The one trash copy of ``name`` the applies so far left."""
    [found] = (Path(site["store"]) / ".pva" / "trash").glob(f"*/*/{name}")
    return found


def test_revert_refuses_a_trash_copy_that_was_altered(
    site: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    """An altered trash copy is not restored: the revert fails, says which file, and nothing changes."""
    assert (
        main(["apply", plan_file(site, {"op": "delete", "path": "m/notes.txt"}), *options(site), "--json"])
        == 0
    )
    digest = json.loads(capsys.readouterr().out)["digest"]
    _trashed(site, "notes.txt").write_bytes(b"forged notes")
    store = Path(site["store"])
    code = main(["revert", digest, *options(site), "--apply"])
    out = capsys.readouterr().out
    assert code == 1
    assert not out.startswith("Applied")
    assert "Nothing changed." in out
    assert hashlib.sha256(b"old notes").hexdigest()[:12] in out
    assert "m/notes.txt" in out
    assert not (store / "m" / "notes.txt").exists()
    assert main(["audit", "verify", "--db", site["db"]]) == 0


def test_applying_a_plan_again_after_its_revert_says_it_changed_nothing(
    site: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    """Applying an applied plan again says it was applied before, and reverted since; nothing changes."""
    plan = plan_file(
        site, {"op": "mkdir", "path": "m/alice"}, {"op": "move", "src": "m/notes.txt", "dst": "m/alice/n.txt"}
    )
    assert main(["apply", plan, *options(site), "--json"]) == 0
    digest = json.loads(capsys.readouterr().out)["digest"]
    assert main(["revert", digest, *options(site), "--apply", "--json"]) == 0
    inverse = json.loads(capsys.readouterr().out)["digest"]
    assert main(["apply", plan, *options(site)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"Already applied: 'File the inbox' ({digest[:12]})")
    assert f"reverted by plan {inverse[:12]}" in out
    assert "nothing changed now" in out.lower()
    assert "\n  1 mkdir, 1 move" not in out
    assert "then: 1 mkdir, 1 move" in out
    assert (Path(site["store"]) / "m" / "notes.txt").read_bytes() == b"old notes"


def test_the_inverse_restores_a_file_deleted_after_its_folder_moved(
    site: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    """A plan that moves a folder, then deletes a file in it, reverts whole: the file comes back."""
    store = Path(site["store"])
    (store / "m" / "contracts").mkdir()
    (store / "m" / "contracts" / "nda.pdf").write_bytes(b"nda")
    plan = plan_file(
        site,
        {"op": "move", "src": "m/contracts", "dst": "m/archive"},
        {"op": "delete", "path": "m/archive/nda.pdf"},
    )
    assert main(["apply", plan, *options(site), "--json"]) == 0
    outcome = json.loads(capsys.readouterr().out)
    assert [d["code"] for d in outcome["diagnostics"]] == []
    assert main(["revert", outcome["digest"], *options(site), "--apply"]) == 0
    assert capsys.readouterr().out.startswith("Applied: 'Revert: File the inbox'")
    assert (store / "m" / "contracts" / "nda.pdf").read_bytes() == b"nda"
    assert not (store / "m" / "archive").exists()


def test_an_applied_plan_with_a_partial_inverse_says_so() -> None:
    """The apply summary names the files its inverse cannot restore (a no_inverse warning)."""
    warning = Diagnostic(
        code=Code.NO_INVERSE, severity="warning", op_index=0, path="m/scan.tif", message="hash unknown"
    )
    record = ApplyRecord("d" * 64, "applied", "ops", T0, T0, diagnostics=(warning,))
    shown = render_outcome("t", record)
    assert "Partly revertible: the inverse plan cannot restore 1 file" in shown
    assert "'m/scan.tif'" in shown
    assert "Partly" not in render_outcome("t", ApplyRecord("d" * 64, "applied", "ops", T0, T0))


def test_the_footprint_hashes_moved_content_that_a_later_op_deletes() -> None:
    """A delete of a path a move filled is read, hashed, where the content is before the plan."""
    plan = Plan.model_validate(
        {
            "pva": "plan/v1",
            "title": "t",
            "scope": ["m"],
            "ops": [
                {"op": "move", "src": "m/contracts", "dst": "m/archive"},
                {"op": "rename", "path": "m/archive", "name": "old"},
                {"op": "delete", "path": "m/old/nda.pdf"},
            ],
        }
    )
    assert Read("m/contracts/nda.pdf", tree=True, hashed=True) in footprint(plan)


HOSTILE_TITLE = "Q3 filing\x1b[2J\x1b[1A\rapproved by counsel\u202e\nseq 9 forged line"


def test_control_characters_in_titles_are_escaped_in_every_human_view(
    site: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    """ESC, CR, LF and bidi overrides in a title reach the terminal escaped in apply and audit views."""
    path = Path(site["tmp"]) / "hostile.json"
    path.write_text(
        json.dumps(
            {
                "pva": "plan/v1",
                "title": HOSTILE_TITLE,
                "scope": ["m"],
                "ops": [{"op": "mkdir", "path": "m/x"}],
            }
        )
    )
    assert main(["apply", str(path), *options(site), "--json"]) == 0
    digest = json.loads(capsys.readouterr().out)["digest"]
    shown = []
    for argv in (
        ["apply", str(path), *options(site)],
        ["verify", str(path), "--root", site["store"]],
        ["audit", "list", "--db", site["db"]],
        ["audit", "show", digest[:12], "--db", site["db"]],
        ["revert", digest[:12], *options(site)],
    ):
        main(argv)
        captured = capsys.readouterr()
        shown.append(captured.out + captured.err)
    for out in shown:
        assert "\x1b" not in out
        assert "\r" not in out
        assert "\u202e" not in out
        assert not any(line.startswith("seq 9") for line in out.splitlines())
    assert any("\\x1b[2J" in out for out in shown)
