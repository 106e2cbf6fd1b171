"""``pva audit`` commands: human and JSON views, exit codes, one-line errors."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from planner.cli.main import main
from sidecar.audit.records import OpRecord
from sidecar.audit.store import SqlAuditStore
from sidecar.audit.views import History, HistoryItem
from sidecar.cli import audit_views
from tests.audit.conftest import file, make_plan, record

PLAN = make_plan({"op": "move", "src": "m/inbox/1.pdf", "dst": "m/alice/1.pdf"}, title="File the inbox")


@pytest.fixture
def filled(store: SqlAuditStore) -> SqlAuditStore:
    """One plan, applied: the inbox file moved to alice's folder."""
    op = OpRecord(0, "move", "m/alice/1.pdf", "m/inbox/1.pdf", after=file("m/alice/1.pdf", "one"))
    record(store, PLAN, op, author="agent-7", actor="operator-3")
    return store


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_list_shows_plans_in_both_views(
    filled: SqlAuditStore, url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """``audit list`` prints a table, or with --json the versioned list; filters apply."""
    code, out, _ = run(capsys, "audit", "list", "--db", url)
    assert code == 0
    assert PLAN.digest()[:12] in out
    assert "applied" in out
    assert "File the inbox" in out
    code, out, _ = run(
        capsys, "audit", "list", "--db", url, "--json", "--author", "agent-7", "--path", "m/alice"
    )
    body = json.loads(out)
    assert body["version"] == "audit-plans/v1"
    assert [p["digest"] for p in body["plans"]] == [PLAN.digest()]
    code, out, _ = run(capsys, "audit", "list", "--db", url, "--status", "pending")
    assert out.strip() == "no plans"


def test_show_prints_a_plan_and_its_events(
    filled: SqlAuditStore, url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """``audit show`` lists the plan's events; --json includes the body and the payloads."""
    code, out, _ = run(capsys, "audit", "show", PLAN.digest(), "--db", url)
    assert code == 0
    assert "seq 1" in out
    assert "apply" in out
    assert "applied: 1 ops" in out
    code, out, _ = run(capsys, "audit", "show", PLAN.digest(), "--db", url, "--json")
    body = json.loads(out)
    assert body["author"] == "agent-7"
    assert [e["kind"] for e in body["events"]] == ["plan_recorded", "apply"]
    assert body["events"][1]["payload"]["ops"][0]["src"] == "m/inbox/1.pdf"


def test_show_an_unknown_plan_is_a_usage_error(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    """An unknown digest exits 2 with one line on stderr."""
    code, out, err = run(capsys, "audit", "show", "ab" * 32, "--db", url)
    assert (code, out) == (2, "")
    assert err == f"pva: no plan with digest {'ab' * 32}\n"


def test_history_in_both_views(filled: SqlAuditStore, url: str, capsys: pytest.CaptureFixture[str]) -> None:
    """``audit history`` tells who moved the document where; --json gives the items."""
    code, out, _ = run(capsys, "audit", "history", "m/alice/1.pdf", "--db", url)
    assert code == 0
    assert "moved m/inbox/1.pdf -> m/alice/1.pdf" in out
    assert "submitted by agent-7, applied by operator-3" in out
    assert "now at: m/alice/1.pdf" in out
    code, out, _ = run(capsys, "audit", "history", "m/inbox/1.pdf", "--db", url, "--json")
    body = json.loads(out)
    assert body["current"] == ["m/alice/1.pdf"]
    assert body["items"][0]["applied_by"] == "operator-3"


def test_a_history_shows_a_name_holding_a_newline_on_one_line() -> None:
    """A folder moved carries every name below it, which may hold a newline: it forges no history line."""
    odd = "m/inbox/x\nnow at: m/elsewhere.pdf"
    item = HistoryItem(
        seq=2, ordinal=0, time=datetime(2026, 12, 5, tzinfo=UTC), action="folder moved",
        name_before=odd, name_after=odd.replace("inbox", "done"), kind="move", op_index=0,
        op_path="m/done", op_src="m/inbox", sha256=None, size=1, trash=None, digest="ab" * 32,
        title="File", author="agent-7", actor="operator-3",
    )  # fmt: skip
    shown = audit_views.history(History(odd, (item,), origins=(odd,), current=(item.name_after or "",)))
    assert [line for line in shown.splitlines() if line.startswith("now at:")] == [
        "now at: m/done/x\\nnow at: m/elsewhere.pdf"
    ]
    assert len(shown.splitlines()) == 5  # the title, the item's two lines, the earliest name, now at


def test_history_of_an_invalid_path_is_a_usage_error(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    """A path that breaks the path rules exits 2 before any query."""
    code, _, err = run(capsys, "audit", "history", "/etc/passwd", "--db", url)
    assert code == 2
    assert err.startswith("pva: path '/etc/passwd' is absolute")


def test_verify_json(filled: SqlAuditStore, url: str, capsys: pytest.CaptureFixture[str]) -> None:
    """``audit verify --json`` reports the count and the head."""
    code, out, _ = run(capsys, "audit", "verify", "--db", url, "--json")
    body = json.loads(out)
    assert code == 0
    assert body["intact"] is True
    assert body["events"] == 2
    assert body["head"]["hash"] == filled.events()[-1].hash


def test_export_to_a_file_and_to_stdout(
    filled: SqlAuditStore, url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``audit export`` writes JSON lines to -o FILE, and CSV to standard output."""
    target = tmp_path / "audit.jsonl"
    code, _, err = run(capsys, "audit", "export", "--db", url, "-o", str(target))
    assert code == 0
    assert err == f"exported 2 events to {target}\n"
    assert [json.loads(line)["seq"] for line in target.read_text().splitlines()] == [1, 2]
    code, out, _ = run(capsys, "audit", "export", "--db", url, "--format", "csv")
    assert out.splitlines()[0] == "seq,time,kind,digest,actor,payload,prev_hash,hash"
    assert len(out.splitlines()) == 3


def test_every_audit_command_refuses_an_unmigrated_database(
    tmp_path: Path, url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each audit command on a database never migrated exits 2 with a one-line hint."""
    empty = tmp_path / "empty.db"
    empty.write_bytes(b"")
    for argv in (["list"], ["show", "ab" * 32], ["history", "m/x"], ["verify"], ["export"]):
        code, out, err = run(capsys, "audit", *argv, "--db", f"sqlite:///{empty}")
        assert (code, out) == (2, "")
        assert err == f"pva: the audit database sqlite:///{empty} is not migrated: run 'pva db upgrade'\n"
    assert url
