"""Recovery: finish or undo applies that a crash interrupted. Idempotent.

A journal nobody holds belongs to a crashed apply. If it has its commit
record the plan is applied: recovery rolls forward (records the outcome,
checks the result, cleans up). Otherwise it rolls back: it undoes, newest
batch first, every step the store shows took effect, and records the apply
as failed. Only batches that can have started are inspected: the journal's
batch records say which. Each step's fate is read from the store
(``took_effect``), never assumed, so recovery can itself be interrupted and
run again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sidecar.apply.compile import Step, step_paths, took_effect, undo_step
from sidecar.apply.finisher import Finisher, Hook
from sidecar.apply.journal import Journal, JournalBusy, JournalStore
from sidecar.apply.journal_records import (
    Batch,
    Commit,
    Intent,
    JournalRecord,
    Rollback,
    RolledBack,
    Staged,
    Undone,
)
from sidecar.apply.leases import working
from sidecar.apply.locks import Locks
from sidecar.backends.base import Backend
from sidecar.errors import RecoveryError


@dataclass(frozen=True)
class Recovered:
    """What recovery did with one interrupted apply."""

    digest: str
    outcome: str  # "rolled forward", "rolled back" or "discarded: ..."


def roll_back(
    backend: Backend,
    journal: Journal,
    steps: Sequence[Step],
    batches: Sequence[tuple[int, int]],
    hook: Hook,
    *,
    ran: int | None = None,
) -> None:
    """Undo every step that took effect, newest batch first, and record it in the journal.

    ``ran``: the apply itself failed and knows that exactly the steps before
    this index ran; they are undone without asking the store (which another
    process may have changed meanwhile). Without it (recovery after a crash),
    each step's fate is read from the store.
    """
    records = journal.records()
    kinds = {type(record) for record in records}
    if RolledBack in kinds:
        return
    if Rollback not in kinds:
        journal.append(Rollback())
        hook("rollback")
    if Staged not in kinds:  # no step ran before staging finished: only staging to drop
        journal.append(RolledBack())
        hook("rolled back")
        return
    undone = {record.n for record in records if isinstance(record, Undone)}
    # Batch n+1 starts only once batch n's record is durable, so no batch past
    # the one after the last recorded can have run: those are not inspected
    # (their steps' sources may be made by steps that never ran either).
    durable = [record.n for record in records if isinstance(record, Batch)]
    started = min(len(batches), max(durable, default=-1) + 2)
    for number in reversed(range(started)):
        if number in undone:
            continue
        start, end = batches[number]
        for index in reversed(range(start, end)):
            if ran is None:
                _undo_if_done(backend, steps[index])
            elif index < ran:
                undo_step(backend, steps[index])
            hook(f"undo {index}")
        backend.sync()
        journal.append(Undone(number))
        hook(f"undone {number}")
    journal.append(RolledBack())
    hook("rolled back")


def _undo_if_done(backend: Backend, step: Step) -> None:
    done = took_effect(backend, step)
    if done is None:
        where = " -> ".join(step_paths(step))
        raise RecoveryError(f"cannot tell whether step {where} took effect: both or neither path exist")
    if done:
        undo_step(backend, step)


def recover(
    journals: JournalStore, locks: Locks, finisher: Finisher, *, lock_timeout: float
) -> list[Recovered]:
    """Settle every interrupted apply that no live process holds, each under its journal's path locks."""
    settled = []
    for name in journals.names():
        try:
            with journals.hold(name) as journal:
                settled.append(_settle(journal, locks, finisher, lock_timeout))
        except JournalBusy:
            continue  # a live apply
    return settled


def _settle(journal: Journal, locks: Locks, finisher: Finisher, lock_timeout: float) -> Recovered:
    records = journal.records()
    intent = records[0] if records else None
    if not isinstance(intent, Intent):
        # The apply died before its intent was durable: no step can have run.
        finisher.journals.retire(journal)
        return Recovered(journal.name.split(".")[0], "discarded: interrupted before it began")
    with locks.hold(list(intent.locks), timeout=lock_timeout) as lease:
        journal.claim(lease)  # JournalBusy when another replica took it first
        records = journal.records()  # as it stands now that nobody else may write it
        with working(lease, journal.name):
            if any(isinstance(record, Commit) for record in records):
                finisher.finish(journal, intent, status="applied", recovered=True)
                return Recovered(intent.digest, "rolled forward")
            roll_back(finisher.backend, journal, intent.steps, intent.batches, finisher.hook)
            finisher.finish(journal, intent, status="failed", recovered=True, message=_why(records))
            return Recovered(intent.digest, "rolled back")


def _why(records: list[JournalRecord]) -> str:
    failures = [r.error for r in records if isinstance(r, Rollback) and r.error]
    if failures:
        return f"rolled back: {failures[0]}"
    return "rolled back after the apply was interrupted"
