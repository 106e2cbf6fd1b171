"""SqlAuditStore as the apply engine uses it, and its query side, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from planner.core.report import Code, Diagnostic
from sidecar import db
from sidecar.audit.chain import event_hash, parse_iso
from sidecar.audit.payloads import DocumentRead
from sidecar.audit.records import Incident, OpRecord, TrashedFile
from sidecar.audit.store import SqlAuditStore
from sidecar.errors import NotMigrated, UnknownPlan
from tests.audit.conftest import applied, file, make_plan, record

MOVE = {"op": "move", "src": "m/inbox/1.pdf", "dst": "m/alice/1.pdf"}
MOVED = OpRecord(0, "move", "m/alice/1.pdf", "m/inbox/1.pdf", after=file("m/alice/1.pdf", "one"))


def test_record_plan_is_idempotent_by_digest(store: SqlAuditStore) -> None:
    """Recording the same plan twice leaves one plan and one event."""
    plan = make_plan(MOVE)
    store.record_plan(plan, author="agent-1")
    store.record_plan(plan, author="someone-else")
    detail = store.show(plan.digest())
    assert detail.plan.author == "agent-1"
    assert [event.kind for event in detail.events] == ["plan_recorded"]
    assert detail.plan.status == "pending"
    assert detail.body == json.loads(plan.canonical_json())


def test_outcome_rebuilds_the_terminal_record_from_its_event(store: SqlAuditStore) -> None:
    """outcome() returns an ApplyRecord equal to the one recorded, ops, trash and diagnostics included."""
    plan = make_plan(MOVE, {"op": "delete", "path": "m/old.txt"})
    store.record_plan(plan, author="agent-1")
    gone = OpRecord(1, "delete", "m/old.txt", before=file("m/old.txt", "old"), trash=".pva/trash/d/0/old.txt")
    diagnostic = Diagnostic(code=Code.UNVERIFIED, severity="warning", op_index=0, message="no hash")
    record_ = applied(
        plan, MOVED, gone, trashed=(TrashedFile("m/old.txt", ".pva/trash/d/0/old.txt", "ab" * 32, 3),)
    )
    record_ = replace(record_, diagnostics=(diagnostic,), message="ok", recovered=True, attempt="a-1")
    store.record_apply(record_)
    assert store.outcome(plan.digest()) == record_


def test_outcome_is_none_before_any_apply_and_the_latest_after_several(store: SqlAuditStore) -> None:
    """outcome() is None for a plan never applied, then the last of several applies."""
    plan = make_plan(MOVE)
    store.record_plan(plan, author="agent-1")
    assert store.outcome(plan.digest()) is None
    store.record_apply(applied(plan, status="stale"))
    store.record_apply(applied(plan, MOVED))
    outcome = store.outcome(plan.digest())
    assert outcome is not None
    assert outcome.status == "applied"
    assert store.show(plan.digest()).plan.status == "applied"


def test_an_apply_of_an_unrecorded_plan_is_refused(store: SqlAuditStore) -> None:
    """record_apply raises UnknownPlan, and records nothing, when the plan was never recorded."""
    with pytest.raises(UnknownPlan):
        store.record_apply(applied(make_plan(MOVE), MOVED))
    assert store.events() == []


def test_an_apply_that_did_not_take_effect_projects_no_ops(store: SqlAuditStore) -> None:
    """A failed apply records its event and status but no op_records or trashed files."""
    plan = make_plan(MOVE)
    store.record_plan(plan, author="agent-1")
    trashed = (TrashedFile("m/x", ".pva/trash/x", "cd" * 32, 1),)
    store.record_apply(applied(plan, MOVED, trashed=trashed, status="failed"))
    assert store.plan_ops(plan.digest()) == []
    assert store.trash_locations("cd" * 32) == []
    assert store.show(plan.digest()).plan.status == "failed"
    assert store.verify_chain() is None


def test_trash_locations_are_newest_first(store: SqlAuditStore) -> None:
    """trash_locations() lists every trashed copy of a content, the most recent first."""
    for n in range(3):
        plan = make_plan({"op": "delete", "path": f"m/{n}.txt"})
        trashed = (TrashedFile(f"m/{n}.txt", f".pva/trash/{n}/0/{n}.txt", "ee" * 32, 5),)
        store.record_plan(plan, author="agent-1")
        store.record_apply(applied(plan, trashed=trashed))
    assert store.trash_locations("ee" * 32) == [f".pva/trash/{n}/0/{n}.txt" for n in (2, 1, 0)]
    assert store.trash_locations("ff" * 32) == []


def test_recording_the_same_attempt_twice_counts_once(store: SqlAuditStore) -> None:
    """record_apply ignores an outcome whose attempt is already recorded (recovery after a crash)."""
    plan = make_plan(MOVE)
    store.record_plan(plan, author="agent-1")
    outcome = replace(applied(plan, MOVED), attempt="attempt-1")
    store.record_apply(outcome)
    store.record_apply(replace(outcome, recovered=True))
    store.record_apply(replace(outcome, attempt="attempt-2", status="stale", ops=()))
    assert [e.payload["attempt"] for e in store.events(digest=plan.digest())[1:]] == [
        "attempt-1",
        "attempt-2",
    ]
    assert len(store.plan_ops(plan.digest())) == 1
    assert store.outcome(plan.digest()) == replace(outcome, attempt="attempt-2", status="stale", ops=())


def test_blob_size_is_the_newest_trashed_size(store: SqlAuditStore) -> None:
    """blob_size() gives the size of the newest trashed file with that content, None if unknown."""
    plan = make_plan({"op": "delete", "path": "m/a"})
    store.record_plan(plan, author="agent-1")
    trashed = (
        TrashedFile("m/a", ".pva/trash/a", "aa" * 32, 7),
        TrashedFile("m/b", ".pva/trash/b", "bb" * 32, None),
    )
    store.record_apply(applied(plan, trashed=trashed))
    assert store.blob_size("aa" * 32) == 7
    assert store.blob_size("bb" * 32) is None
    assert store.blob_size("cc" * 32) is None


def test_incidents_are_chained_events(store: SqlAuditStore) -> None:
    """record_incident appends an 'incident' event that the chain covers."""
    store.record_incident(Incident("d" * 64, "store differs from the prediction", ("m/a",)))
    (event,) = store.events()
    assert event.kind == "incident"
    assert event.payload == {"message": "store differs from the prediction", "paths": ["m/a"]}
    assert store.verify_chain() is None


def test_events_are_hash_chained_with_utc_times(store: SqlAuditStore) -> None:
    """Each event's hash covers its fields and the previous hash; times come back timezone-aware UTC."""
    record(store, make_plan(MOVE), MOVED)
    first, second = store.events()
    assert (first.seq, second.seq) == (1, 2)
    assert first.prev_hash == "0" * 64
    assert second.prev_hash == first.hash
    assert first.time.tzinfo is UTC
    payload = json.dumps(second.payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    fields: dict[str, Any] = {
        "seq": 2,
        "time": second.time,
        "kind": "apply",
        "digest": second.digest,
        "actor": "operator",
    }
    assert event_hash(**fields, payload=payload, prev_hash=first.hash) == second.hash


def test_list_plans_filters_by_status_author_and_path(store: SqlAuditStore) -> None:
    """list_plans() filters by status, author, and a path inside, holding or equal to the scope."""
    acme = make_plan({"op": "mkdir", "path": "matters/acme/x"}, scope="matters/acme")
    evil = make_plan({"op": "mkdir", "path": "matters/acme-evil/x"}, scope="matters/acme-evil")
    store.record_plan(acme, author="agent-1")
    store.record_plan(evil, author="agent-2")
    store.record_apply(applied(acme))
    assert [p.digest for p in store.list_plans()] == [evil.digest(), acme.digest()]
    assert [p.digest for p in store.list_plans(status="applied")] == [acme.digest()]
    assert [p.digest for p in store.list_plans(author="agent-2")] == [evil.digest()]
    assert [p.digest for p in store.list_plans(path="matters/acme/x/y.pdf")] == [acme.digest()]
    assert [p.digest for p in store.list_plans(path="matters/acme")] == [acme.digest()]
    assert {p.digest for p in store.list_plans(path="matters")} == {acme.digest(), evil.digest()}
    assert store.list_plans(path="other") == []
    assert len(store.list_plans(limit=1, offset=1)) == 1


def test_show_an_unknown_plan_raises(store: SqlAuditStore) -> None:
    """show() raises UnknownPlan for a digest never recorded."""
    with pytest.raises(UnknownPlan):
        store.show("0" * 64)


def test_events_filter_by_path_digest_actor_and_time(store: SqlAuditStore) -> None:
    """events() filters by a touched path (or a folder above or below it), plan, actor and time."""
    first, second = make_plan(MOVE), make_plan({"op": "mkdir", "path": "n/x"}, scope="n")
    record(store, first, MOVED, actor="alice")
    record(store, second, OpRecord(0, "mkdir", "n/x"), actor="bob")
    assert [e.seq for e in store.events(path="m/inbox/1.pdf")] == [2]
    assert [e.seq for e in store.events(path="m/alice")] == [2]
    assert [e.seq for e in store.events(path="n")] == [4]
    assert [e.seq for e in store.events(digest=second.digest())] == [3, 4]
    assert [e.seq for e in store.events(actor="bob")] == [4]
    third = store.events()[2].time
    assert [e.seq for e in store.events(since=third)] == [3, 4]
    assert [e.seq for e in store.events(until=third, limit=1)] == [1]


def test_export_jsonl_and_csv_keep_every_hashed_field(store: SqlAuditStore) -> None:
    """Both exports hold each event's fields exactly as hashed, so the hashes check offline."""
    record(store, make_plan(MOVE), MOVED)
    lines, table = io.StringIO(), io.StringIO()
    assert store.export(lines, fmt="jsonl") == 2
    assert store.export(table, fmt="csv") == 2
    rows = list(csv.DictReader(io.StringIO(table.getvalue())))
    for line, row in zip(lines.getvalue().splitlines(), rows, strict=True):
        event = json.loads(line)
        fields = {k: row[k] for k in ("kind", "actor", "payload", "prev_hash")}
        rehashed = event_hash(
            seq=int(row["seq"]), time=parse_iso(row["time"]), digest=row["digest"], **fields
        )
        assert rehashed == row["hash"] == event["hash"]
        assert event["payload"] == json.loads(row["payload"])


def test_an_export_line_is_one_line_whatever_the_names_in_it(store: SqlAuditStore) -> None:
    """A document named with U+2028 or U+0085 (a store may hold one) keeps its export line whole."""
    odd = "m/a\u2028b\x85c\u2029.pdf"
    store.record_read(DocumentRead(odd, "generation:1", 3, None), actor="agent")
    lines = io.StringIO()
    assert store.export(lines, fmt="jsonl") == 1
    (line,) = lines.getvalue().splitlines()
    assert json.loads(line)["payload"]["path"] == odd


def test_an_unmigrated_database_is_refused(empty_url: str) -> None:
    """Opening a store on a database never migrated raises NotMigrated, and makes no SQLite file."""
    with pytest.raises(NotMigrated, match="pva db upgrade"):
        SqlAuditStore.open(empty_url)
    if empty_url.startswith("sqlite"):
        assert not Path(empty_url.removeprefix("sqlite:///")).exists()
        Path(empty_url.removeprefix("sqlite:///")).parent.mkdir()
        Path(empty_url.removeprefix("sqlite:///")).write_bytes(b"")
    with pytest.raises(NotMigrated, match="is not migrated: run 'pva db upgrade'"):
        SqlAuditStore.open(empty_url)


def test_a_database_at_another_revision_is_refused(url: str, tamper: Callable[..., None]) -> None:
    """A database whose Alembic revision is not the store's is refused, naming both revisions."""
    tamper("UPDATE alembic_version SET version_num = '0000'")
    try:
        with pytest.raises(NotMigrated, match=f"at revision 0000, not {db.SCHEMA_REVISION}"):
            SqlAuditStore.open(url)
    finally:
        # The module's database is shared: put back the revision the store expects.
        tamper(f"UPDATE alembic_version SET version_num = '{db.SCHEMA_REVISION}'")  # noqa: S608


def test_naive_times_are_refused(url: str) -> None:
    """A clock that returns a naive datetime is a programming error, not a silent local time."""
    audit = SqlAuditStore.open(url, clock=lambda: datetime(2026, 1, 1))  # noqa: DTZ001
    try:
        with pytest.raises(Exception, match="timezone-aware"):
            audit.record_plan(make_plan(MOVE), author="a")
    finally:
        audit.close()
