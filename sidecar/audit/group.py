"""Group commit: concurrent appends to the event chain share one transaction and one fsync.

Each caller hands ``GroupCommit.run`` a unit of work over a session that
holds the chain's lock. The first caller to arrive while no transaction is
being written becomes the leader: it takes every unit waiting, opens one
transaction (``db.appending``), runs each unit in a savepoint of its own,
commits, and only then wakes each caller with its unit's result. Callers that
arrive meanwhile wait; when the leader is done, the first of them leads the
next transaction. Nobody returns before the transaction holding its unit is
durable, so a caller may act on its event (serve the bytes it records, answer
the submit) exactly as after a transaction of its own.

A unit that raises rolls back its savepoint alone: its caller gets the error,
the others are committed. A commit that fails fails every unit in it.
Sequential callers pay nothing more than before; concurrent callers pay
one fsync between them. A unit must not wait for another unit: run by the
leader's thread, it would wait for itself.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from sqlalchemy.orm import Session

T = TypeVar("T")
MAX_BATCH = 64  # units in one transaction: bounds how long the lock is held and how late a leader returns


@dataclass
class _Unit(Generic[T]):
    work: Callable[[Session], T]
    woken: threading.Event = field(default_factory=threading.Event)
    lead: bool = False  # woken to lead the next transaction, not with a result
    result: Any = None
    error: BaseException | None = None


class GroupCommit:
    """Runs units of work over ``transaction()`` sessions, several to a transaction when they overlap."""

    def __init__(self, transaction: Callable[[], AbstractContextManager[Session]]) -> None:
        self._transaction = transaction
        self._lock = threading.Lock()
        self._waiting: list[_Unit[Any]] = []
        self._busy = False  # a leader is running a transaction

    @property
    def queued(self) -> int:
        """Units waiting for a transaction (not those in the one being written)."""
        with self._lock:
            return len(self._waiting)

    def run(self, work: Callable[[Session], T]) -> T:
        """``work(session)`` committed (with others' units, perhaps); its result, or its error raised."""
        unit: _Unit[T] = _Unit(work)
        with self._lock:
            self._waiting.append(unit)
            leads = not self._busy
            self._busy = True
        if not leads:
            unit.woken.wait()
        if leads or unit.lead:
            self._lead()
        if unit.error is not None:
            raise unit.error
        result: T = unit.result
        return result

    def _lead(self) -> None:
        """Commit the waiting units (up to MAX_BATCH), wake their callers, hand the lead on."""
        with self._lock:
            batch, self._waiting = self._waiting[:MAX_BATCH], self._waiting[MAX_BATCH:]
        try:
            self._commit(batch)
        finally:
            with self._lock:
                following = self._waiting[0] if self._waiting else None
                self._busy = following is not None
            for unit in batch:
                unit.woken.set()
            if following is not None:
                following.lead = True
                following.woken.set()

    def _commit(self, batch: list[_Unit[Any]]) -> None:
        try:
            with self._transaction() as session:
                if len(batch) == 1:  # alone: its failure is the transaction's, no savepoint needed
                    batch[0].result = batch[0].work(session)
                    return
                for unit in batch:
                    try:
                        with session.begin_nested():
                            unit.result = unit.work(session)
                    except Exception as error:  # noqa: BLE001 (raised to its caller): its savepoint alone is rolled back
                        unit.error = error
                        session.info.clear()  # what the unit memoised in the session went with its savepoint
        except BaseException as error:  # noqa: BLE001 (raised to every caller): nothing was committed
            for unit in batch:
                if unit.error is None:
                    unit.error = error
                unit.result = None
