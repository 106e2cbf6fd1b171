"""The apply engine on in-memory fakes: outcomes, rollback, idempotency, recovery."""

from __future__ import annotations

import hashlib
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from planner import Plan, simulate
from planner.core.footprint import footprint
from sidecar.apply.batches import plan_batches
from sidecar.apply.compile import MakeDir, Rename, Step
from sidecar.apply.engine import Engine
from sidecar.apply.journal import FileJournals
from sidecar.apply.locks import PathLocks
from sidecar.audit.memory import MemoryAudit
from sidecar.backends.memory import MemoryBackend
from sidecar.errors import LockTimeout, StoreFault
from tests.support.plans import make_plan


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def plan(*ops: dict[str, Any], title: str = "t") -> Plan:
    return make_plan(*ops, title=title, scope=["m"])


def scene() -> MemoryBackend:
    backend = MemoryBackend()
    backend.put("m/inbox/1.pdf", b"one")
    backend.put("m/inbox/2.pdf", b"two")
    backend.put("m/index.csv", b"a,b\n")
    return backend


def engine(tmp_path: Path, backend: MemoryBackend | None = None, **kwargs: Any) -> Engine:
    tmp_path.mkdir(parents=True, exist_ok=True)
    return Engine(backend or scene(), MemoryAudit(), FileJournals(tmp_path, "journal"), **kwargs)


def store(backend: MemoryBackend) -> list[tuple[str, str, str | None]]:
    """Every visible entry as (path, kind, sha256), reserved area excluded."""
    return [(e.path, e.kind, e.sha256) for e in backend.walk("")]


FILE_THE_INBOX = (
    {"op": "mkdir", "path": "m/alice"},
    {"op": "move", "src": "m/inbox/1.pdf", "dst": "m/alice/1.pdf", "expect": {"sha256": sha(b"one")}},
    {"op": "write", "path": "m/alice/notes.txt", "content": "from Alice"},
    {
        "op": "write",
        "path": "m/index.csv",
        "content": "new",
        "overwrite": True,
        "expect": {"sha256": sha(b"a,b\n")},
    },
    {"op": "copy", "src": "m/alice/1.pdf", "dst": "m/alice/1 copy.pdf"},
    {"op": "delete", "path": "m/inbox/2.pdf"},
)


def test_apply_makes_the_store_match_the_prediction(tmp_path: Path) -> None:
    """After an apply the store holds exactly what the verifier predicted, with the bytes written."""
    pva = engine(tmp_path)
    the_plan = plan(*FILE_THE_INBOX)
    predicted = simulate(the_plan, pva.backend.read_tree(footprint(the_plan))).tree
    record = pva.apply(the_plan, actor="ops")
    assert record.status == "applied", record.message
    backend = pva.backend
    assert isinstance(backend, MemoryBackend)
    for entry in predicted.walk():
        assert backend.stat(entry.path) == entry
    assert backend.read_bytes("m/alice/notes.txt") == b"from Alice"
    assert backend.read_bytes("m/index.csv") == b"new"
    assert backend.stat("m/inbox/2.pdf") is None
    assert [op.kind for op in record.ops] == ["mkdir", "move", "write", "write", "copy", "delete"]


def test_replaced_and_deleted_files_go_to_trash_and_are_recorded(tmp_path: Path) -> None:
    """Nothing is destroyed: overwritten and deleted files sit in the trash, listed in the record."""
    pva = engine(tmp_path)
    record = pva.apply(plan(*FILE_THE_INBOX), actor="ops")
    trashed = {(f.path, f.sha256) for f in record.trashed}
    assert trashed == {("m/index.csv", sha(b"a,b\n")), ("m/inbox/2.pdf", sha(b"two"))}
    backend = pva.backend
    assert isinstance(backend, MemoryBackend)
    for file in record.trashed:
        entry = backend.tree.stat(file.trash)
        assert entry is not None
        assert entry.sha256 == file.sha256


def test_staging_and_journal_are_cleaned_up(tmp_path: Path) -> None:
    """A finished apply leaves no staging content and no open journal (it is archived)."""
    pva = engine(tmp_path)
    pva.apply(plan(*FILE_THE_INBOX), actor="ops")
    backend = pva.backend
    assert isinstance(backend, MemoryBackend)
    assert backend.tree.names(".pva/staging") == []
    assert pva.journals.names() == []
    archived = list((tmp_path / "journal" / "done").iterdir())
    assert [path.name.count(".") for path in archived] == [2]  # <digest>.<attempt>.jsonl


def test_applying_twice_applies_once(tmp_path: Path) -> None:
    """The same plan applied again returns the first outcome and changes nothing more."""
    pva = engine(tmp_path)
    first = pva.apply(plan(*FILE_THE_INBOX), actor="ops")
    second = pva.apply(plan(*FILE_THE_INBOX), actor="someone else")
    assert second == first
    audit = pva.audit
    assert isinstance(audit, MemoryAudit)
    assert len(audit.applies) == 1


def test_failed_precondition_is_stale_and_changes_nothing(tmp_path: Path) -> None:
    """A plan whose expect no longer holds is refused as stale before anything changes."""
    pva = engine(tmp_path)
    backend = pva.backend
    assert isinstance(backend, MemoryBackend)
    before = store(backend)
    wrong = {"op": "move", "src": "m/inbox/1.pdf", "dst": "m/1.pdf", "expect": {"sha256": sha(b"other")}}
    record = pva.apply(plan({"op": "mkdir", "path": "m/alice"}, wrong), actor="ops")
    assert record.status == "stale"
    assert store(backend) == before
    assert "m/inbox/1.pdf" in record.message or any(d.path == "m/inbox/1.pdf" for d in record.diagnostics)


def test_drift_from_the_approved_state_is_stale(tmp_path: Path) -> None:
    """A store that changed since approval makes the apply stale, naming the changed path."""
    pva = engine(tmp_path)
    the_plan = plan({"op": "delete", "path": "m/inbox"})
    base = pva.backend.read_tree(footprint(the_plan))
    backend = pva.backend
    assert isinstance(backend, MemoryBackend)
    backend.put("m/inbox/3.pdf", b"new evidence")
    record = pva.apply(the_plan, actor="ops", base=base)
    assert record.status == "stale"
    assert [d.path for d in record.diagnostics if d.code == "precondition_failed"] == ["m/inbox/3.pdf"]
    assert backend.stat("m/inbox/3.pdf") is not None


def test_a_new_sibling_of_a_target_does_not_make_the_apply_stale(tmp_path: Path) -> None:
    """Only what the plan names counts as drift: a file filed beside its target leaves it valid."""
    pva = engine(tmp_path)
    the_plan = plan({"op": "move", "src": "m/inbox/1.pdf", "dst": "m/filed.pdf"})
    base = pva.backend.read_tree(footprint(the_plan))
    backend = pva.backend
    assert isinstance(backend, MemoryBackend)
    backend.put("m/inbox/3.pdf", b"new evidence")  # in the listing of the source's folder
    backend.put("m/other.pdf", b"next to the target")  # in the listing of the target's folder
    record = pva.apply(the_plan, actor="ops", base=base)
    assert record.status == "applied", record.message
    assert backend.stat("m/filed.pdf") is not None


class FailingBackend(MemoryBackend):
    """Fails the n-th rename with EIO, like a disk going bad mid-apply."""

    def __init__(self, fail_at: int) -> None:
        super().__init__()
        self.renames = 0
        self.fail_at = fail_at

    def rename(self, src: str, dst: str) -> None:
        self.renames += 1
        if self.renames == self.fail_at:
            raise StoreFault(dst, "input/output error", errno=5)
        super().rename(src, dst)


@pytest.mark.parametrize("fail_at", [1, 2, 3, 5])
def test_failure_midway_rolls_everything_back(tmp_path: Path, fail_at: int) -> None:
    """A storage fault during the steps undoes every step taken and reports failed, never applied."""
    backend = FailingBackend(fail_at)
    for path, data in (("m/inbox/1.pdf", b"one"), ("m/inbox/2.pdf", b"two"), ("m/index.csv", b"a,b\n")):
        backend.put(path, data)
    before = store(backend)
    pva = engine(tmp_path, backend)
    record = pva.apply(plan(*FILE_THE_INBOX), actor="ops")
    assert record.status == "failed"
    assert "input/output error" in record.message
    assert store(backend) == before
    assert pva.journals.names() == []


def test_revert_restores_deleted_and_overwritten_content_from_trash(tmp_path: Path) -> None:
    """The inverse plan, applied, brings back the original store, bytes included."""
    pva = engine(tmp_path)
    backend = pva.backend
    assert isinstance(backend, MemoryBackend)
    before = store(backend)
    forward = plan(*FILE_THE_INBOX)
    report = pva.verify(forward)
    inverse = report.inverse_plan()
    assert inverse is not None
    assert pva.apply(forward, actor="ops").status == "applied"
    record = pva.apply(inverse, actor="ops")
    assert record.status == "applied", record.message
    assert store(backend) == before
    assert backend.read_bytes("m/index.csv") == b"a,b\n"


def test_revert_is_stale_if_the_store_changed_since(tmp_path: Path) -> None:
    """A revert refuses when a file it would move back was changed after the apply."""
    pva = engine(tmp_path)
    backend = pva.backend
    assert isinstance(backend, MemoryBackend)
    forward = plan({"op": "write", "path": "m/new.txt", "content": "v1"})
    inverse = pva.verify(forward).inverse_plan()
    assert inverse is not None
    pva.apply(forward, actor="ops")
    backend.tree.delete("m/new.txt")
    backend.put("m/new.txt", b"edited by hand")
    assert pva.apply(inverse, actor="ops").status == "stale"
    assert backend.read_bytes("m/new.txt") == b"edited by hand"


class Crash(BaseException):
    """Stands for the process dying at a crash point (the real kill -9 test is in tests/crash)."""


def crash_at(label: str) -> Any:
    def hook(seen: str) -> None:
        if seen == label:
            raise Crash(seen)

    return hook


@pytest.mark.parametrize("label", ["intent", "step 0", "step 3", "batch 0", "step 7", "commit", "audited"])
def test_recovery_settles_an_interrupted_apply(tmp_path: Path, label: str) -> None:
    """After a crash at any point, recovery leaves exactly the before or the after state, audited once."""
    backend = scene()
    before = store(backend)
    the_plan = plan(*FILE_THE_INBOX)
    crashing = engine(tmp_path, backend, hook=crash_at(label))
    with pytest.raises(Crash):
        crashing.apply(the_plan, actor="ops")
    healthy = Engine(backend, crashing.audit, crashing.journals)
    settled = healthy.recover()
    assert len(settled) == 1
    audit = crashing.audit
    assert isinstance(audit, MemoryAudit)
    assert len(audit.applies) == 1
    outcome = audit.applies[0]
    if outcome.status == "applied":
        after = engine(tmp_path / "other")
        after.apply(the_plan, actor="ops")
        other = after.backend
        assert isinstance(other, MemoryBackend)
        assert store(backend) == store(other)
    else:
        assert outcome.status == "failed"
        assert store(backend) == before
    assert healthy.journals.names() == []
    assert healthy.recover() == []


def test_batches_never_hold_related_steps() -> None:
    """No two steps of a batch touch the same path, or a path and its ancestor."""
    steps: list[Step] = [
        MakeDir("m/c"),
        MakeDir("m/c/alice"),
        MakeDir("m/c/bob"),
        Rename("m/c/alice/1.pdf", "m/inbox/1.pdf"),
        Rename("m/c/bob/2.pdf", "m/inbox/2.pdf"),
        Rename("m/archive", "m/inbox"),
    ]
    assert plan_batches(steps) == [(0, 1), (1, 3), (3, 5), (5, 6)]
    assert plan_batches([]) == []


def test_disjoint_locks_hold_together_and_overlapping_wait() -> None:
    """Locks on disjoint subtrees are granted at once; a lock on an ancestor waits for release."""
    locks = PathLocks()
    order: list[str] = []
    with locks.hold(["m/a/x"], timeout=1), locks.hold(["m/b"], timeout=1):
        waiter = threading.Thread(target=lambda: _hold_then_note(locks, "m", order))
        waiter.start()
        time.sleep(0.05)
        order.append("released")
    waiter.join(timeout=2)
    assert order == ["released", "m"]


def _hold_then_note(locks: PathLocks, path: str, order: list[str]) -> None:
    with locks.hold([path], timeout=2):
        order.append(path)


def test_lock_wait_times_out() -> None:
    """A lock held past the timeout raises LockTimeout; case variants count as the same path."""
    locks = PathLocks()
    with (
        locks.hold(["m/Alice"], timeout=1),
        pytest.raises(LockTimeout),
        locks.hold(["m/alice/x"], timeout=0.05),
    ):
        pass


class LyingBackend(MemoryBackend):
    """Stores other bytes than it was given, as a failing disk or a buggy backend might."""

    def stage_bytes(self, path: str, data: bytes, *, durable: bool = True) -> None:
        super().stage_bytes(path, data + b" (corrupted)", durable=durable)


def test_a_result_unlike_the_prediction_is_an_incident(tmp_path: Path) -> None:
    """After apply, paths whose content differs from the verified prediction are recorded as an incident."""
    backend = LyingBackend()
    backend.put("m/inbox/1.pdf", b"one")
    pva = engine(tmp_path, backend)
    record = pva.apply(plan({"op": "write", "path": "m/notes.txt", "content": "hello"}), actor="ops")
    assert record.status == "applied"
    audit = pva.audit
    assert isinstance(audit, MemoryAudit)
    assert [incident.paths for incident in audit.incidents] == [("m/notes.txt",)]
    assert "differ from the verified prediction" in audit.incidents[0].message


def test_a_result_like_the_prediction_is_no_incident(tmp_path: Path) -> None:
    """An apply whose result matches the prediction records no incident."""
    pva = engine(tmp_path)
    pva.apply(plan(*FILE_THE_INBOX), actor="ops")
    audit = pva.audit
    assert isinstance(audit, MemoryAudit)
    assert audit.incidents == []


def test_recovery_discards_a_journal_that_died_before_its_intent(tmp_path: Path) -> None:
    """An empty or torn journal (a crash before the intent was durable) is retired; nothing is undone."""
    pva = engine(tmp_path)
    backend = pva.backend
    assert isinstance(backend, MemoryBackend)
    before = store(backend)
    (tmp_path / "journal").mkdir()
    (tmp_path / "journal" / "empty.jsonl").write_bytes(b"")
    (tmp_path / "journal" / "torn.jsonl").write_bytes(b'{"type": "inte')
    settled = pva.recover()
    assert sorted(item.outcome for item in settled) == ["discarded: interrupted before it began"] * 2
    assert pva.journals.names() == []
    assert store(backend) == before
    assert pva.apply(plan(*FILE_THE_INBOX), actor="ops").status == "applied"


def test_a_precondition_the_store_cannot_check_stops_the_apply(tmp_path: Path) -> None:
    """An expect the live store cannot verify (a generation on a store without them) fails the apply."""
    pva = engine(tmp_path)
    backend = pva.backend
    assert isinstance(backend, MemoryBackend)
    before = store(backend)
    record = pva.apply(
        plan({"op": "delete", "path": "m/index.csv", "expect": {"generation": 7}}), actor="ops"
    )
    assert record.status == "failed"
    assert [d.code for d in record.diagnostics] == ["unverified"]
    assert all(d.severity == "error" for d in record.diagnostics)
    assert store(backend) == before
