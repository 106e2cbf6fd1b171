"""Tampering with the audit behind the store's back is found by verify_chain and by ``pva audit verify``."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from planner.cli.main import main
from sidecar.audit.chain import Link
from sidecar.audit.records import OpRecord, TrashedFile
from sidecar.audit.store import SqlAuditStore
from tests.audit.conftest import applied, file, make_plan

Tamper = Callable[..., None]


@pytest.fixture
def chain(store: SqlAuditStore) -> SqlAuditStore:
    """Three plans, each recorded then applied: events 1 to 6, applies at 2, 4 and 6."""
    for n in range(3):
        plan = make_plan({"op": "mkdir", "path": f"m/{n}"}, title=f"plan {n}")
        store.record_plan(plan, author="agent")
        ops = (
            OpRecord(0, "move", f"m/{n}/a.pdf", f"m/in/{n}.pdf", after=file("a", str(n))),
            OpRecord(1, "delete", f"m/{n}/old", trash=f".pva/trash/{n}/0/old"),
        )
        trashed = (TrashedFile(f"m/{n}/old/x.txt", f".pva/trash/{n}/0/old/x.txt", "ab" * 32, 2),)
        store.record_apply(applied(plan, *ops, trashed=trashed))
    assert store.verify_chain() is None
    return store


def broken_at(store: SqlAuditStore, url: str, capsys: pytest.CaptureFixture[str]) -> tuple[int | None, str]:
    """The seq verify_chain names, after checking the CLI exits 1 and names the same seq."""
    found = store.verify_chain()
    assert found is not None
    assert main(["audit", "verify", "--db", url]) == 1
    assert f"audit chain broken at seq {found.seq}:" in capsys.readouterr().out
    return found.seq, found.problem


def test_an_intact_chain_verifies(chain: SqlAuditStore, url: str, capsys: pytest.CaptureFixture[str]) -> None:
    """An untouched audit verifies: exit 0 and the event count."""
    assert main(["audit", "verify", "--db", url]) == 0
    assert "audit chain intact: 6 events" in capsys.readouterr().out


def test_an_edited_payload_is_found(
    chain: SqlAuditStore, tamper: Tamper, url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Editing an event's payload breaks that event's hash."""
    tamper("UPDATE events SET payload = replace(payload, 'agent', 'someone') WHERE seq = 3")
    assert broken_at(chain, url, capsys) == (3, "edited row: its content does not match its hash")


def test_an_edited_actor_is_found(
    chain: SqlAuditStore, tamper: Tamper, url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Editing who applied a plan breaks that event's hash."""
    tamper("UPDATE events SET actor = 'mallory' WHERE seq = 4")
    assert broken_at(chain, url, capsys)[0] == 4


def test_an_edited_hash_is_found(
    chain: SqlAuditStore, tamper: Tamper, url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Editing an event's stored hash is told apart from editing its content."""
    tamper("UPDATE events SET hash = '" + "f" * 64 + "' WHERE seq = 2")
    seq, problem = broken_at(chain, url, capsys)
    assert seq == 2
    assert problem.startswith("hash edited")


def test_a_rewritten_row_with_a_recomputed_hash_breaks_the_next_link(
    chain: SqlAuditStore, tamper: Tamper, url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A row edited and rehashed still fails: the next event links to the old hash."""
    event = chain.events()[2]
    payload = json.dumps(event.payload, sort_keys=True, separators=(",", ":"))
    forged = Link(3, event.time, event.kind, event.digest, "mallory", payload, event.prev_hash, "")
    tamper(f"UPDATE events SET actor = 'mallory', hash = '{forged.computed_hash()}' WHERE seq = 3")  # noqa: S608
    seq, problem = broken_at(chain, url, capsys)
    assert seq == 4
    assert problem.startswith("broken link")


def test_a_deleted_middle_row_is_found(
    chain: SqlAuditStore, tamper: Tamper, url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Removing an event leaves a gap in seq, reported at the missing seq."""
    tamper("DELETE FROM events WHERE seq = 3")
    seq, problem = broken_at(chain, url, capsys)
    assert seq == 3
    assert problem.startswith("missing row: seq 3 absent")


def test_reordered_rows_are_found(
    chain: SqlAuditStore, tamper: Tamper, url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Swapping the seq of two events is reported as a reorder at the first of them."""
    tamper(
        "UPDATE events SET seq = -1 WHERE seq = 3",
        "UPDATE events SET seq = 3 WHERE seq = 5",
        "UPDATE events SET seq = 5 WHERE seq = -1",
    )
    assert broken_at(chain, url, capsys) == (3, "reordered rows: the row at seq 3 was written as seq 5")


def test_a_deleted_op_record_is_found(
    chain: SqlAuditStore, tamper: Tamper, url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Removing an op_records row no longer matches the apply event that projected it."""
    tamper("DELETE FROM op_records WHERE event_seq = 4 AND ordinal = 1")
    assert broken_at(chain, url, capsys) == (4, "op_records do not match the event: row 1 is missing")


def test_an_edited_op_record_path_is_found(
    chain: SqlAuditStore, tamper: Tamper, url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Editing where an op says a document went is found against its event."""
    tamper("UPDATE op_records SET path = 'm/elsewhere.pdf' WHERE event_seq = 6 AND ordinal = 0")
    seq, problem = broken_at(chain, url, capsys)
    assert seq == 6
    assert (
        problem
        == "op_records do not match the event: row 0 path is 'm/elsewhere.pdf', the event says 'm/2/a.pdf'"
    )


def test_an_added_op_record_is_found(
    chain: SqlAuditStore, tamper: Tamper, url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A forged op_records row under a plan_recorded event is found."""
    tamper(
        "INSERT INTO op_records (event_seq, ordinal, digest, time, op_index, kind, path) "
        "SELECT 3, 0, digest, time, 0, 'delete', 'm/x' FROM op_records WHERE event_seq = 2 AND ordinal = 0"
    )
    assert broken_at(chain, url, capsys) == (
        3,
        "op_records do not match the event: row 0 is not in the event",
    )


def test_an_edited_trashed_file_is_found(
    chain: SqlAuditStore, tamper: Tamper, url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Editing a trashed file's hash is found against its event."""
    tamper("UPDATE trashed_files SET sha256 = '" + "00" * 32 + "' WHERE event_seq = 2")
    seq, problem = broken_at(chain, url, capsys)
    assert seq == 2
    assert problem.startswith("trashed_files do not match the event: row 0 sha256")


def test_an_edited_plan_status_is_found(
    chain: SqlAuditStore, tamper: Tamper, url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A plan's status that no event set is found, at the event that set the real one."""
    tamper("UPDATE plans SET status = 'pending' WHERE title = 'plan 1'")
    seq, problem = broken_at(chain, url, capsys)
    assert seq == 4
    assert "is 'pending', but this event set it to 'applied'" in problem


def test_an_edited_plan_author_or_body_is_found(
    chain: SqlAuditStore, tamper: Tamper, url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A plan's author must match its event, and its body must hash to its digest."""
    tamper("UPDATE plans SET author = 'mallory' WHERE title = 'plan 0'")
    assert broken_at(chain, url, capsys)[0] == 1
    tamper("UPDATE plans SET author = 'agent', body = replace(body, 'm/0', 'm/9') WHERE title = 'plan 0'")
    seq, problem = broken_at(chain, url, capsys)
    digest = chain.events()[0].digest
    assert digest is not None
    assert (seq, problem) == (1, f"plans.body of {digest[:12]} is not the plan with that digest")


def test_a_truncated_head_with_orphans_is_found(
    chain: SqlAuditStore, tamper: Tamper, url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Dropping the last event leaves its projected rows pointing past the end of the chain."""
    tamper("DELETE FROM events WHERE seq = 6")
    seq, problem = broken_at(chain, url, capsys)
    assert (seq, problem) == (6, "missing row: the chain ends at seq 5, yet op_records has rows for it")
