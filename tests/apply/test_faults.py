"""Storage faults during an apply: ENOSPC or EIO anywhere means failed and rolled back, never success.

Each test sweeps a failing system call over every call of its kind that an
apply makes, on the real local backend, and checks the store is exactly as
before (failed) or exactly as after (the fault hit after the commit point,
where it only affects cleanup).
"""

from __future__ import annotations

import errno
import hashlib
import os
from pathlib import Path

import pytest

from planner import Plan
from sidecar.apply.engine import Engine
from sidecar.apply.journal import FileJournals
from sidecar.audit.memory import MemoryAudit
from sidecar.backends.base import JOURNAL
from sidecar.backends.local import LocalBackend
from sidecar.errors import StoreError
from tests.backends.faults import Fault, FaultyCalls
from tests.support.files import store_state, write_files

PLAN = Plan.model_validate(
    {
        "pva": "plan/v1",
        "title": "File and tidy",
        "scope": ["m"],
        "ops": [
            {"op": "mkdir", "path": "m/alice"},
            {"op": "move", "src": "m/inbox/1.pdf", "dst": "m/alice/1.pdf"},
            {"op": "write", "path": "m/alice/index.csv", "content": "1.pdf\n"},
            {
                "op": "write",
                "path": "m/notes.txt",
                "content": "new notes",
                "overwrite": True,
                "expect": {"sha256": hashlib.sha256(b"old notes").hexdigest()},
            },
            {"op": "copy", "src": "m/templates", "dst": "m/alice/templates"},
            {"op": "delete", "path": "m/Thumbs.db"},
        ],
    }
)


FILES = {
    "m/inbox/1.pdf": b"contract",
    "m/notes.txt": b"old notes",
    "m/templates/cover.docx": b"cover",
    "m/Thumbs.db": b"junk",
}


def make_store(root: Path) -> Path:
    return write_files(root, FILES)


def engine(root: Path, calls: FaultyCalls, audit: MemoryAudit | None = None) -> Engine:
    return Engine(LocalBackend(root, calls=calls), audit or MemoryAudit(), FileJournals(root))


@pytest.fixture(scope="module")
def reference(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[dict[str, str], dict[str, str], dict[str, int]]:
    """The before and after states of the plan, and how many calls of each kind a clean apply makes."""
    root = make_store(tmp_path_factory.mktemp("clean"))
    before = store_state(root)
    calls = FaultyCalls(durable=False)
    record = engine(root, calls).apply(PLAN, actor="test")
    assert record.status == "applied", record.message
    return before, store_state(root), dict(calls.counts)


SWEPT = [
    ("write", errno.ENOSPC),
    ("fsync", errno.EIO),
    ("syncfs", errno.EIO),
    ("renameat2", errno.EIO),
    ("mkdirat", errno.ENOSPC),
]


@pytest.mark.parametrize(("method", "code"), SWEPT, ids=[m for m, _ in SWEPT])
def test_a_fault_at_any_call_leaves_before_or_after(
    tmp_path: Path, reference: tuple[dict[str, str], dict[str, str], dict[str, int]], method: str, code: int
) -> None:
    """A failing call anywhere in an apply yields failed with the store unchanged, or a completed apply."""
    before, after, counts = reference
    assert counts.get(method, 0) > 0, f"a clean apply makes no {method} call to fail"
    for nth in range(1, counts[method] + 1):
        root = make_store(tmp_path / f"{method}-{nth}")
        calls = FaultyCalls(Fault(method, code, nth=nth), durable=False)
        try:
            record = engine(root, calls).apply(PLAN, actor="test")
        except StoreError:
            # The fault hit cleanup after the commit point: the plan is applied; recovery finishes it.
            engine(root, FaultyCalls(durable=False)).recover()
            assert store_state(root) == after, f"{method} #{nth}"
            continue
        state = store_state(root)
        if record.status == "applied":
            assert state == after, f"{method} #{nth}"
        else:
            assert record.status == "failed", f"{method} #{nth}: {record.status}"
            assert os.strerror(code) in record.message, record.message
            assert state == before, f"{method} #{nth}: store changed by a failed apply"
        assert list((root / JOURNAL).glob("*.jsonl")) == [], f"{method} #{nth}: journal left open"


def test_a_fault_that_breaks_rollback_leaves_it_to_recovery(
    tmp_path: Path, reference: tuple[dict[str, str], dict[str, str], dict[str, int]]
) -> None:
    """When the last rename of the steps and every rename after it fail, rollback cannot finish.

    Recovery, once the storage works again, restores the before state.
    """
    before, _, counts = reference
    root = make_store(tmp_path / "store")
    audit = MemoryAudit()
    broken = FaultyCalls(Fault("renameat2", errno.EIO, nth=counts["renameat2"], times=0), durable=False)
    with pytest.raises(StoreError):
        engine(root, broken, audit).apply(PLAN, actor="test")
    assert audit.applies == []  # no outcome claimed while the store is half done
    assert len(list((root / JOURNAL).glob("*.jsonl"))) == 1
    engine(root, FaultyCalls(durable=False), audit).recover()
    assert store_state(root) == before
    assert [record.status for record in audit.applies] == ["failed"]
