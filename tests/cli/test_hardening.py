"""Apply and revert on a real store: the trash is checked, inverses are whole, outcomes say what happened."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from planner.cli.main import main
from tests.cli.test_apply_commands import options, plan_file


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
