"""The journal's records: one JSON form each, read back as written, the old journals' lines included."""

from __future__ import annotations

import json
from datetime import UTC
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from planner import Plan
from planner.core.entry import Entry
from planner.core.report import Code, Diagnostic
from sidecar.apply.compile import MakeDir, Rename, StageCopy
from sidecar.apply.engine import Engine
from sidecar.apply.journal import FileJournals
from sidecar.apply.journal_records import (
    Audited,
    Batch,
    Checked,
    Commit,
    Done,
    Intent,
    JournalRecord,
    Rollback,
    RolledBack,
    Staged,
    Undone,
    decode,
    encode,
)
from sidecar.apply.recovery import Recovered
from sidecar.audit.memory import MemoryAudit
from sidecar.audit.records import OpRecord, TrashedFile
from sidecar.backends.local import LocalBackend
from sidecar.backends.memory import MemoryBackend
from sidecar.errors import RecoveryError

texts = st.text(max_size=6)
counts = st.integers(min_value=0, max_value=2**40)
maybe_counts = st.none() | counts
entries = st.builds(
    Entry,
    path=texts,
    kind=st.sampled_from(["file", "dir"]),
    size=maybe_counts,
    sha256=st.none() | texts,
    generation=maybe_counts,
)
steps = st.one_of(
    st.builds(MakeDir, dst=texts, op=counts),
    st.builds(Rename, dst=texts, src=texts, op=counts),
    st.builds(StageCopy, dst=texts, src=texts, op=counts),
)
op_records = st.builds(
    OpRecord,
    index=counts,
    kind=st.sampled_from(["mkdir", "move", "rename", "write", "copy", "delete"]),
    path=texts,
    src=st.none() | texts,
    before=st.none() | entries,
    after=st.none() | entries,
    trash=st.none() | texts,
)
trashed_files = st.builds(TrashedFile, path=texts, trash=texts, sha256=st.none() | texts, size=maybe_counts)
diagnostics = st.builds(
    Diagnostic,
    code=st.sampled_from(list(Code)),
    severity=st.sampled_from(["error", "warning"]),
    op_index=maybe_counts,
    field=st.none() | texts,
    path=st.none() | texts,
    message=texts,
)
documents = st.recursive(
    st.none() | st.booleans() | counts | texts,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3),
    max_leaves=8,
)


def tuples(elements: st.SearchStrategy[Any]) -> st.SearchStrategy[tuple[Any, ...]]:
    return st.lists(elements, max_size=4).map(tuple)


intents = st.builds(
    Intent,
    digest=texts,
    attempt=texts,
    actor=texts,
    started=st.datetimes(timezones=st.just(UTC)),
    locks=tuples(texts),
    steps=tuples(steps),
    batches=tuples(st.tuples(counts, counts)),
    ops=tuples(op_records),
    trashed=tuples(trashed_files),
    warnings=tuples(diagnostics),
    prediction=st.dictionaries(texts, st.none() | entries, max_size=4),
    inverse=st.none() | st.dictionaries(texts, documents, max_size=3),
)
records: st.SearchStrategy[JournalRecord] = st.one_of(
    intents,
    st.builds(Batch, n=counts),
    st.builds(Undone, n=counts),
    st.builds(Rollback, error=st.none() | texts),
    st.sampled_from([Staged(), Commit(), RolledBack(), Audited(), Checked(), Done()]),
)


@given(records)
def test_a_record_reads_back_as_written(record: JournalRecord) -> None:
    """Encoding a record to its journal line and decoding the line gives the same record."""
    line = json.dumps(encode(record), sort_keys=True, separators=(",", ":"))
    assert decode(json.loads(line)) == record


@pytest.mark.parametrize(
    "body",
    [
        {"type": "teleport"},
        {"type": "batch"},
        {"type": "batch", "n": "one"},
        {"type": "intent", "digest": "d"},
        {"kind": "mkdir"},
        ["staged"],
        "staged",
    ],
)
def test_a_record_of_an_unknown_kind_is_refused(body: object) -> None:
    """A JSON value that is not a record pva writes is a RecoveryError that shows it, never a guess."""
    with pytest.raises(RecoveryError, match="not a journal record pva writes"):
        decode(body)


def test_an_intent_with_an_unknown_step_is_refused() -> None:
    """A step of a kind pva never writes makes its intent unreadable: recovery must not run it."""
    body = encode(_intent())
    body["steps"] = [{"kind": "delete", "dst": "m/new", "op": 0}]
    with pytest.raises(RecoveryError, match="not a journal step"):
        decode(body)


DIGEST = "d" * 64

# A journal exactly as the code before the typed records wrote it: one mkdir of m/new.
OLD_INTENT = {
    "type": "intent",
    "digest": DIGEST,
    "attempt": "a1",
    "actor": "ops",
    "started": "2026-12-01T10:00:00+00:00",
    "locks": ["m/new"],
    "steps": [{"kind": "mkdir", "dst": "m/new", "op": 0}],
    "batches": [[0, 1]],
    "ops": [
        {
            "index": 0,
            "kind": "mkdir",
            "path": "m/new",
            "src": None,
            "before": None,
            "after": {"path": "m/new", "kind": "dir"},
            "trash": None,
        }
    ],
    "trashed": [],
    "warnings": [],
    "prediction": {"m/new": {"path": "m/new", "kind": "dir"}},
    "inverse": None,
}


def test_the_json_shape_is_the_old_one() -> None:
    """The typed intent writes the very line the old code wrote: old and new journals are one format."""
    assert encode(_intent()) == OLD_INTENT
    assert [encode(r) for r in (Batch(0), Rollback(), Rollback("disk"))] == [
        {"type": "batch", "n": 0},
        {"type": "rollback"},
        {"type": "rollback", "error": "disk"},
    ]


def _old_journal(tmp_path: Path, *after: dict[str, Any]) -> Engine:
    backend = MemoryBackend()
    backend.mkdir("m")
    backend.mkdir("m/new")  # the step ran
    (tmp_path / "journal").mkdir()
    lines = [json.dumps(body, sort_keys=True, separators=(",", ":")) for body in (OLD_INTENT, *after)]
    (tmp_path / "journal" / f"{DIGEST}.a1.jsonl").write_text("\n".join(lines) + "\n")
    return Engine(backend, MemoryAudit(), FileJournals(tmp_path, "journal"))


def test_recovery_rolls_an_old_committed_journal_forward(tmp_path: Path) -> None:
    """A committed journal the old code wrote is read and settled: audited as applied, ops included."""
    pva = _old_journal(tmp_path, {"type": "staged"}, {"type": "batch", "n": 0}, {"type": "commit"})
    assert pva.recover() == [Recovered(DIGEST, "rolled forward")]
    audit = pva.audit
    assert isinstance(audit, MemoryAudit)
    [record] = audit.applies
    assert (record.status, record.recovered, record.attempt) == ("applied", True, "a1")
    assert record.ops == (OpRecord(0, "mkdir", "m/new", after=Entry("m/new", "dir")),)
    assert audit.incidents == []
    assert pva.backend.stat("m/new") == Entry("m/new", "dir")
    assert pva.journals.names() == []


def test_recovery_rolls_an_old_uncommitted_journal_back(tmp_path: Path) -> None:
    """An old journal without its commit (a failed apply) is undone and audited as failed, with its error."""
    pva = _old_journal(
        tmp_path, {"type": "staged"}, {"type": "batch", "n": 0}, {"type": "rollback", "error": "disk"}
    )
    assert pva.recover() == [Recovered(DIGEST, "rolled back")]
    audit = pva.audit
    assert isinstance(audit, MemoryAudit)
    assert [(r.status, r.message) for r in audit.applies] == [("failed", "rolled back: disk")]
    assert pva.backend.stat("m/new") is None
    assert pva.journals.names() == []


def test_recovery_stops_on_a_garbled_record_and_keeps_the_journal(tmp_path: Path) -> None:
    """A complete line that is no record stops recovery with a RecoveryError; nothing is undone or retired."""
    pva = _old_journal(tmp_path, {"type": "staged"}, {"type": "batch", "n": "zero"})
    with pytest.raises(RecoveryError, match="not a journal record pva writes"):
        pva.recover()
    assert pva.backend.stat("m/new") == Entry("m/new", "dir")
    assert pva.journals.names() == [f"{DIGEST}.a1"]


def _intent() -> Intent:
    decoded = decode(OLD_INTENT)
    assert isinstance(decoded, Intent)
    return decoded


def test_the_outcome_recorded_is_the_one_the_journal_holds(tmp_path: Path) -> None:
    """An apply's outcome, as returned and as audited, holds exactly the ops its journal holds."""
    root = tmp_path / "store"
    (root / "m").mkdir(parents=True)
    (root / "m" / "a.txt").write_bytes(b"old")
    audit = MemoryAudit()
    with LocalBackend(root) as backend:
        pva = Engine(backend, audit, FileJournals(tmp_path, "journal"))
        the_plan = Plan.model_validate(
            {
                "pva": "plan/v1",
                "title": "t",
                "scope": ["m"],
                "ops": [{"op": "delete", "path": "m/a.txt"}],
            }
        )
        record = pva.apply(the_plan, actor="ops")
    assert record.status == "applied", record.message
    [line] = [
        body
        for path in (tmp_path / "journal" / "done").glob("*.jsonl")
        for body in map(json.loads, path.read_text().splitlines())
        if body["type"] == "intent"
    ]
    intent = decode(line)
    assert isinstance(intent, Intent)
    assert record.ops == intent.ops == tuple(audit.applies[0].ops)
    [op] = record.ops
    assert op.before is not None
    assert (op.before.size, op.before.mtime) == (3, None)
