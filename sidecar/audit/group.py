"""Group commit: concurrent appends to the event chain share one transaction and one fsync.

Each caller hands ``GroupCommit.run`` a unit of work over a session that
holds the chain's lock. The first caller to arrive while no transaction is
being written becomes the leader: it takes every unit waiting, opens one
transaction (``db.appending``), runs each unit in it, commits, and only
then wakes each caller with its unit's result. Callers that
arrive meanwhile wait; when the leader is done, the first of them leads the
next transaction. Nobody returns before the transaction holding its unit is
durable, so a caller may act on its event (serve the bytes it records, answer
the submit) exactly as after a transaction of its own.

A unit that raises gets its caller the error, and the others are committed:
the batch runs again with a savepoint a unit, and that unit's alone is
rolled back. A commit that fails fails every unit in it.
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
        """Every unit in one transaction; when one raises, the batch again with a savepoint each.

        Savepoints cost two statements a unit (on PostgreSQL 0.3 ms of CPU,
        more than a read's append itself), and a unit rarely fails (a submit
        that lost a race), so the batch first runs without them. Only a unit's own error sends it
        round again: after a failed commit nothing is run twice, as what a
        commit that lost its connection did is unknown.
        """
        running: _Unit[Any] | None = None
        try:
            with self._transaction() as session:
                for running in batch:
                    running.result = running.work(session)
                running = None
        except Exception as error:  # noqa: BLE001 (raised to its caller, or every caller)
            if running is not None and len(batch) > 1:  # the others' work went with it: once more, apart
                self._isolated(batch)
                return
            _fail(batch, error)
        except BaseException as error:  # noqa: BLE001 (raised to every caller): nothing was committed
            _fail(batch, error)

    def _isolated(self, batch: list[_Unit[Any]]) -> None:
        """Every unit in one transaction, each in a savepoint: one that raises is rolled back alone."""
        try:
            with self._transaction() as session:
                for unit in batch:
                    try:
                        with session.begin_nested():
                            unit.result = unit.work(session)
                    except Exception as error:  # noqa: BLE001 (raised to its caller): its savepoint alone is rolled back
                        unit.error, unit.result = error, None
                        session.info.clear()  # what the unit memoised in the session went with its savepoint
        except BaseException as error:  # noqa: BLE001 (raised to every caller): nothing was committed
            _fail(batch, error)


def _fail(batch: list[_Unit[Any]], error: BaseException) -> None:
    """Nothing of ``batch`` was committed: each caller gets its unit's own error, or ``error``."""
    for unit in batch:
        if unit.error is None:
            unit.error = error
        unit.result = None
