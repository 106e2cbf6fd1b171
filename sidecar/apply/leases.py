"""Path locks shared by every replica through the database: leases with fencing tokens.

Several sidecars on one database and one bucket must serialise overlapping
applies among them all, and a replica that dies must not hold its paths for
ever. ``SqlLocks`` keeps the lock table in the database (``apply_locks``):
one row per held lock set, its folded paths, its holder, and when its lease
runs out. The holder renews the lease while it holds it (every third of the
lease); a row whose lease ran out belongs to a replica that died or lost
touch with the database, and the next taker removes it.

Each row's ``fence`` comes from a counter that never goes back. A holder
checks its lease before it writes (``Lease.check``); the SQL journal makes
that check in the same statement as the write, so a replica whose lease ran
out can write nothing more, even when it wakes up later. Times are the
database's own clock, so the replicas' clocks need not agree.

Checking the table and adding to it happen in one transaction under the
database's writer lock (``db.exclusive``), so they are one step for every
replica.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError

from planner.core.paths import fold
from sidecar.apply.locks import Fenced, overlaps
from sidecar.db import exclusive
from sidecar.errors import LeaseLost, LockTimeout

# Transaction-scoped advisory lock key that serialises the lock table ("pva-lock").
LOCKS_KEY = 0x7076612D6C6B
DEFAULT_LEASE = timedelta(seconds=10)
log = logging.getLogger(__name__)


def now_us(connection: Connection) -> str:
    """SQL for the database's current time in microseconds since the epoch."""
    if connection.dialect.name == "postgresql":
        return "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000000 AS BIGINT)"
    return "CAST((julianday('now') - 2440587.5) * 86400000000 AS INTEGER)"


@dataclass
class Lease:
    """A held lock set: its fencing token, renewed in the background while it is held."""

    fence: int
    engine: Engine
    length: timedelta
    lost: threading.Event = field(default_factory=threading.Event)

    def renew(self) -> bool:
        """Push the lease's end one length on; False (and lost) when it had already run out."""
        with self.engine.begin() as connection:
            clock = now_us(connection)
            renewed = connection.execute(
                text(
                    f"UPDATE apply_locks SET expires = {clock} + :length "  # noqa: S608  # constant SQL
                    f"WHERE fence = :fence AND expires >= {clock}"
                ),
                {"fence": self.fence, "length": _micros(self.length)},
            ).rowcount
        if renewed != 1:
            self.lost.set()
        return renewed == 1

    def check(self) -> None:
        """LeaseLost unless the lease is still held (asked of the database, not of memory)."""
        if self.lost.is_set() or not live(self.engine, self.fence):
            self.lost.set()
            raise LeaseLost(f"the lock lease {self.fence} ran out: another replica may own these paths now")


@dataclass(frozen=True)
class Work:
    """The apply a thread works on (applying it, or settling it after a crash), and under which lease."""

    lease: Fenced | None  # None under locks that are not shared leases (a local store's)
    journal: str  # the apply journal's name


# Set while a thread works on an apply: what the apply's folder moves are journaled under (their
# journals are named after it) and which of them a settle may take over (only that apply's).
working_on: ContextVar[Work | None] = ContextVar("working_on", default=None)


@contextmanager
def working(lease: Fenced | None, journal: str) -> Iterator[Work]:
    """Say, for the block, that this thread works on the apply ``journal`` under ``lease``."""
    work = Work(lease, journal)
    token = working_on.set(work)
    try:
        yield work
    finally:
        working_on.reset(token)


def live(engine: Engine, fence: int) -> bool:
    """True while the lease ``fence`` has not run out."""
    with engine.connect() as connection:
        found = connection.execute(
            text(f"SELECT 1 FROM apply_locks WHERE fence = :fence AND expires >= {now_us(connection)}"),  # noqa: S608  # constant SQL
            {"fence": fence},
        ).first()
    return found is not None


class SqlLocks:
    """Path locks in the database, for every replica that shares it."""

    def __init__(self, engine: Engine, *, lease: timedelta = DEFAULT_LEASE, poll: float = 0.05) -> None:
        self.engine = engine
        self.lease = lease
        self.poll = poll
        self.holder = f"{socket.gethostname()}:{os.getpid()}"

    @contextmanager
    def hold(self, paths: Iterable[str], *, timeout: float) -> Iterator[Lease]:
        """Hold the paths for the block, renewing the lease; LockTimeout after ``timeout`` s of waiting."""
        mine = frozenset(fold(path) for path in paths)
        deadline = time.monotonic() + timeout
        while (fence := self._try(mine)) is None:
            if time.monotonic() >= deadline:
                raise LockTimeout(f"paths still locked by another apply after {timeout:g} s")
            time.sleep(self.poll)
        lease = Lease(fence, self.engine, self.lease)
        stop = threading.Event()
        renewer = threading.Thread(target=_renewing, args=(lease, stop), name=f"lease-{fence}", daemon=True)
        renewer.start()
        try:
            yield lease
        finally:
            stop.set()
            renewer.join()
            with self.engine.begin() as connection:
                connection.execute(text("DELETE FROM apply_locks WHERE fence = :fence"), {"fence": fence})

    def _try(self, mine: frozenset[str]) -> int | None:
        with exclusive(self.engine, LOCKS_KEY) as connection:
            clock = now_us(connection)
            connection.execute(text(f"DELETE FROM apply_locks WHERE expires < {clock}"))  # noqa: S608  # constant SQL
            held = connection.execute(text("SELECT paths FROM apply_locks")).scalars()
            if any(overlaps(mine, frozenset(json.loads(theirs))) for theirs in held):
                return None
            fence: int = connection.execute(
                text(
                    "INSERT INTO apply_locks (holder, paths, expires) "  # noqa: S608  # constant SQL
                    f"VALUES (:holder, :paths, {clock} + :length) RETURNING fence"
                ),
                {"holder": self.holder, "paths": json.dumps(sorted(mine)), "length": _micros(self.lease)},
            ).scalar_one()
            return fence


def _renewing(lease: Lease, stop: threading.Event) -> None:
    """Renew ``lease`` every third of its length until ``stop``; give up once it is lost."""
    interval = lease.length.total_seconds() / 3
    while not stop.wait(interval):
        try:
            if not lease.renew():
                log.warning("the lock lease %d ran out before it was renewed", lease.fence)
                return
        except DBAPIError as error:  # the database is out of reach: the next try may succeed
            log.warning("cannot renew the lock lease %d: %s", lease.fence, str(error).splitlines()[0])


def _micros(length: timedelta) -> int:
    return round(length.total_seconds() * 1_000_000)
