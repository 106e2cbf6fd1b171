"""pva apply, revert and recover end to end: a real store folder, on SQLite and on PostgreSQL."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path

import pytest

from planner.cli.main import main


def options(site: dict[str, str]) -> list[str]:
    return ["--store", site["store"], "--db", site["db"], "--actor", "paralegal"]


def plan_file(site: dict[str, str], *ops: Mapping[str, object]) -> str:
    path = Path(site["tmp"]) / f"plan{len(list(Path(site['tmp']).glob('plan*.json')))}.json"
    path.write_text(
        json.dumps({"pva": "plan/v1", "title": "File the inbox", "scope": ["m"], "ops": list(ops)})
    )
    return str(path)


FILE_IT = (
    {"op": "mkdir", "path": "m/alice"},
    {"op": "move", "src": "m/inbox/1.pdf", "dst": "m/alice/1.pdf"},
    {"op": "delete", "path": "m/notes.txt"},
)


def test_apply_changes_the_store_and_says_so(
    site: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    """pva apply applies the plan, exits 0 and summarises what it did."""
    code = main(["apply", plan_file(site, *FILE_IT), *options(site)])
    out = capsys.readouterr().out
    assert code == 0
    assert out.startswith("Applied: 'File the inbox'")
    assert (Path(site["store"]) / "m" / "alice" / "1.pdf").read_bytes() == b"contract"
    assert not (Path(site["store"]) / "m" / "notes.txt").exists()


def test_apply_twice_applies_once(site: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    """Applying the same plan again reports the first outcome and changes nothing more."""
    plan = plan_file(site, *FILE_IT)
    assert main(["apply", plan, *options(site), "--json"]) == 0
    first = json.loads(capsys.readouterr().out)
    assert main(["apply", plan, *options(site), "--json"]) == 0
    second = json.loads(capsys.readouterr().out)
    assert second == first


def test_stale_plan_exits_one_and_names_the_path(
    site: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    """A plan whose expect no longer holds is refused with exit 1, naming the path; nothing changes."""
    wrong = {
        "op": "delete",
        "path": "m/notes.txt",
        "expect": {"sha256": hashlib.sha256(b"other").hexdigest()},
    }
    code = main(["apply", plan_file(site, wrong), *options(site)])
    out = capsys.readouterr().out
    assert code == 1
    assert out.startswith("Stale:")
    assert "m/notes.txt" in out
    assert "Nothing changed." in out
    assert (Path(site["store"]) / "m" / "notes.txt").exists()


def test_dry_run_only_verifies(site: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    """--dry-run prints the verification against the live store and changes nothing."""
    code = main(["apply", plan_file(site, *FILE_IT), *options(site), "--dry-run"])
    assert code == 0
    assert "Plan: 1 mkdir, 1 move" in capsys.readouterr().out
    assert (Path(site["store"]) / "m" / "inbox" / "1.pdf").exists()


def test_revert_shows_then_applies_the_inverse(
    site: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    """pva revert shows the inverse of an applied plan; with --apply it restores the store, bytes included."""
    assert main(["apply", plan_file(site, *FILE_IT), *options(site), "--json"]) == 0
    digest = json.loads(capsys.readouterr().out)["digest"]
    assert main(["revert", digest[:10], *options(site)]) == 0
    shown = capsys.readouterr().out
    assert "Plan 'Revert: File the inbox'" in shown
    assert "--apply" in shown
    assert main(["revert", digest[:10], *options(site), "--apply"]) == 0
    assert capsys.readouterr().out.startswith("Applied: 'Revert: File the inbox'")
    store = Path(site["store"])
    assert (store / "m" / "inbox" / "1.pdf").read_bytes() == b"contract"
    assert (store / "m" / "notes.txt").read_bytes() == b"old notes"
    assert not (store / "m" / "alice").exists()


def test_revert_refuses_when_the_store_changed(
    site: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    """A revert whose paths changed since the apply is stale and changes nothing."""
    assert main(["apply", plan_file(site, *FILE_IT), *options(site), "--json"]) == 0
    digest = json.loads(capsys.readouterr().out)["digest"]
    moved = Path(site["store"]) / "m" / "alice" / "1.pdf"
    moved.write_bytes(b"edited after filing")
    assert main(["revert", digest, *options(site), "--apply"]) == 1
    assert capsys.readouterr().out.startswith("Stale:")
    assert moved.read_bytes() == b"edited after filing"


def test_revert_of_an_unknown_plan_exits_two(
    site: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    """Reverting a digest no plan has is a one-line error and exit 2."""
    assert main(["revert", "abcdef12", *options(site)]) == 2
    assert "no recorded plan's digest starts abcdef12" in capsys.readouterr().err


def test_recover_with_nothing_to_do(site: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    """pva recover says so when no apply was interrupted."""
    assert main(["recover", "--store", site["store"], "--db", site["db"]]) == 0
    assert "Nothing to recover" in capsys.readouterr().out


def test_unmigrated_database_is_refused_with_a_hint(
    site: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    """apply against an unmigrated database exits 2 and says to run pva db upgrade."""
    empty = f"sqlite:///{Path(site['tmp']) / 'empty.db'}"
    code = main(["apply", plan_file(site, *FILE_IT), "--store", site["store"], "--db", empty])
    err = capsys.readouterr().err
    assert code == 2
    assert "pva db upgrade" in err
    assert len(err.strip().splitlines()) == 1


def test_history_follows_the_document_through_apply_and_revert(
    site: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    """After apply and revert, the audit history of the document lists both moves with who did them."""
    assert main(["apply", plan_file(site, *FILE_IT), *options(site), "--json"]) == 0
    digest = json.loads(capsys.readouterr().out)["digest"]
    assert main(["revert", digest, *options(site), "--apply"]) == 0
    capsys.readouterr()
    assert main(["audit", "history", "m/inbox/1.pdf", "--db", site["db"], "--json"]) == 0
    history = json.loads(capsys.readouterr().out)
    moves = [
        (item["name_before"], item["name_after"]) for item in history["items"] if item["action"] == "moved"
    ]
    assert moves == [("m/inbox/1.pdf", "m/alice/1.pdf"), ("m/alice/1.pdf", "m/inbox/1.pdf")]
    assert {item["applied_by"] for item in history["items"]} == {"paralegal"}
