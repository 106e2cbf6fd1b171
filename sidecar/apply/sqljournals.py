"""Apply journals in the database, for replicas that share it: any replica settles any apply.

A journal on a VM's disk can be settled only by that VM. With several
sidecars on one PostgreSQL database and one bucket, the journals live in the
database instead (``apply_journals``, one row each, and ``journal_records``,
its records in order), written by the same ``Journal`` interface as the
files (``sidecar.apply.journal``).

Who holds a journal is a lock lease (``sidecar.apply.leases``): the journal
row names the fence of the lease its writer holds on the plan's paths, and
every write is made only while that lease is live, in the same statement. A
journal whose lease ran out belongs to a replica that died (or stalled past
its lease); another replica settles it: it takes the paths' lock itself and
claims the journal for its own lease (a compare-and-swap on the fence), so
exactly one replica settles it and the dead one, should it wake, can write
nothing more.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine, TextClause, text

from sidecar.apply.journal import JournalBusy, Record
from sidecar.apply.leases import Lease, now_us
from sidecar.errors import LeaseLost

# The statements, each with {clock} for the database's time (leases.now_us): a write is made only
# while the lease the journal names (or the new lease, for a claim) is live.
APPEND = (
    "INSERT INTO journal_records (name, seq, body)"
    " SELECT CAST(:name AS VARCHAR(200)), CAST(:seq AS INTEGER), CAST(:body AS TEXT)"
    " WHERE EXISTS (SELECT 1 FROM apply_journals j WHERE j.name = :name AND j.fence = :fence)"
    " AND EXISTS (SELECT 1 FROM apply_locks l WHERE l.fence = :fence AND l.expires >= {clock})"
)
CLAIM = (
    "UPDATE apply_journals SET fence = :new WHERE name = :name AND fence = :old AND NOT done"
    " AND EXISTS (SELECT 1 FROM apply_locks l WHERE l.fence = :new AND l.expires >= {clock})"
)
CREATE = (
    "INSERT INTO apply_journals (name, fence, done)"
    " SELECT CAST(:name AS VARCHAR(200)), CAST(:fence AS BIGINT), FALSE"
    " WHERE EXISTS (SELECT 1 FROM apply_locks l WHERE l.fence = :fence AND l.expires >= {clock})"
)
RETIRE = (
    "UPDATE apply_journals SET done = TRUE WHERE name = :name AND fence = :fence"
    " AND EXISTS (SELECT 1 FROM apply_locks l WHERE l.fence = :fence AND l.expires >= {clock})"
)
FIND = (
    "SELECT j.fence,"
    " EXISTS (SELECT 1 FROM apply_locks l WHERE l.fence = j.fence AND l.expires >= {clock}) AS live,"
    " (SELECT count(*) FROM journal_records r WHERE r.name = j.name) AS records"
    " FROM apply_journals j WHERE j.name = :name AND NOT j.done"
)


def _sql(template: str, connection: Connection) -> TextClause:
    return text(template.format(clock=now_us(connection)))


class SqlJournal:
    """One apply's journal in the database, written under its holder's lease."""

    def __init__(self, engine: Engine, name: str, fence: int, records: int) -> None:
        self.engine = engine
        self.name = name
        self.fence = fence  # the lease this journal is written under
        self._next = records  # the sequence number of the next record
        self._kinds: set[str] | None = None

    @property
    def kinds(self) -> set[str]:
        """The types of the records it holds."""
        if self._kinds is None:
            self._kinds = {record["type"] for record in self.records()}
        return self._kinds

    def append(self, record: Record) -> None:
        """Append one record durably, if this journal's lease is still live; else LeaseLost."""
        body = json.dumps(record, sort_keys=True, separators=(",", ":"))
        with self.engine.begin() as connection:
            added = connection.execute(
                _sql(APPEND, connection),
                {"name": self.name, "seq": self._next, "body": body, "fence": self.fence},
            ).rowcount
        if added != 1:
            raise LeaseLost(
                f"journal {self.name}: the lock lease {self.fence} ran out; nothing more is written"
            )
        self._next += 1
        self.kinds.add(record["type"])

    def records(self) -> list[Record]:
        with self.engine.connect() as connection:
            bodies = connection.execute(
                text("SELECT body FROM journal_records WHERE name = :name ORDER BY seq"), {"name": self.name}
            ).scalars()
            return [json.loads(body) for body in bodies]

    def claim(self, lease: Lease) -> None:
        """Write from now on under ``lease`` (recovery's); JournalBusy if another replica claimed it first."""
        with self.engine.begin() as connection:
            claimed = connection.execute(
                _sql(CLAIM, connection),
                {"name": self.name, "old": self.fence, "new": lease.fence},
            ).rowcount
        if claimed != 1:
            raise JournalBusy(self.name)
        self.fence = lease.fence

    def close(self) -> None:
        """Nothing to release: the lease is the hold."""


class SqlJournals:
    """Journals in the audit database, for every replica sharing it."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def names(self) -> list[str]:
        """Journals not yet retired: applies in progress or interrupted."""
        with self.engine.connect() as connection:
            return list(
                connection.execute(
                    text("SELECT name FROM apply_journals WHERE NOT done ORDER BY name")
                ).scalars()
            )

    @contextmanager
    def create(self, name: str, intent: Record, lease: Lease) -> Iterator[SqlJournal]:
        """Create a journal holding ``intent``, written under ``lease``; LeaseLost if it already ran out."""
        body = json.dumps(intent, sort_keys=True, separators=(",", ":"))
        with self.engine.begin() as connection:
            made = connection.execute(
                _sql(CREATE, connection),
                {"name": name, "fence": lease.fence},
            ).rowcount
            if made != 1:
                raise LeaseLost(f"journal {name}: the lock lease {lease.fence} ran out before it began")
            connection.execute(
                text("INSERT INTO journal_records (name, seq, body) VALUES (:name, 0, :body)"),
                {"name": name, "body": body},
            )
        journal = SqlJournal(self.engine, name, lease.fence, 1)
        journal._kinds = {intent["type"]}  # noqa: SLF001  # a new journal knows what it holds
        yield journal

    @contextmanager
    def hold(self, name: str) -> Iterator[SqlJournal]:
        """An unretired journal whose writer's lease ran out; JournalBusy while that lease is live."""
        with self.engine.connect() as connection:
            found = _journal_row(connection, name)
        if found is None:
            raise JournalBusy(name)  # retired (settled) meanwhile
        fence, live, count = found
        if live:
            raise JournalBusy(name)
        yield SqlJournal(self.engine, name, fence, count)

    def retire(self, journal: SqlJournal) -> None:
        """Mark a finished journal done (kept: it is part of the record), under its lease."""
        with self.engine.begin() as connection:
            retired = connection.execute(
                _sql(RETIRE, connection),
                {"name": journal.name, "fence": journal.fence},
            ).rowcount
        if retired != 1:
            raise LeaseLost(
                f"journal {journal.name}: the lock lease {journal.fence} ran out before it retired"
            )


def _journal_row(connection: Connection, name: str) -> tuple[int, bool, int] | None:
    """An unretired journal's fence, whether its lease is live, and how many records it holds."""
    row = connection.execute(_sql(FIND, connection), {"name": name}).first()
    return None if row is None else (int(row.fence), bool(row.live), int(row.records))
