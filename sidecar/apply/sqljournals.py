"""Journals in the database, for replicas that share it: any replica settles any apply.

A journal on a VM's disk can be settled only by that VM. With several
sidecars on one PostgreSQL database and one bucket, the journals live in the
database instead: ``journals`` (one row each) and ``journal_records`` (its
records in order). Two kinds, through the interfaces their file versions
have: an apply's write-ahead journal (``SqlJournals``, as
``sidecar.apply.journal``) and the journals of that apply's folder moves on
a flat bucket (``SqlMoveJournals``, as
``sidecar.backends.gcs.movejournals``).

Who holds a journal is a lock lease (``sidecar.apply.leases``): the row
names the fence of the lease its writer holds on the plan's paths, and every
write is made only while that lease is live, in the same statement. A
journal whose lease ran out belongs to a replica that died (or stalled past
its lease); another replica settles it: it takes the paths' lock itself and
claims the journal for its own lease (a compare-and-swap on the fence), so
exactly one replica settles it and the old writer, should it wake, can write
nothing more. A folder move's journal is named after its apply's
(``digest.attempt/move/uuid``) and settled only by whoever works on that
apply (``leases.working``), under that apply's locks.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, TextClause, text

from sidecar.apply.journal import Journal, JournalBusy, RecordType
from sidecar.apply.journal_records import Intent, JournalRecord, decode, encode
from sidecar.apply.leases import Work, now_us, working_on
from sidecar.apply.locks import Fenced
from sidecar.errors import LeaseLost

# The statements, each with {clock} for the database's time (leases.now_us): a write is made only
# while the lease the journal names (or the new lease, for a claim) is live.
APPEND = (
    "INSERT INTO journal_records (name, seq, body)"
    " SELECT CAST(:name AS VARCHAR(200)), CAST(:seq AS INTEGER), CAST(:body AS TEXT)"
    " WHERE EXISTS (SELECT 1 FROM journals j WHERE j.name = :name AND j.fence = :fence)"
    " AND EXISTS (SELECT 1 FROM apply_locks l WHERE l.fence = :fence AND l.expires >= {clock})"
)
CLAIM = (
    "UPDATE journals SET fence = :new WHERE name = :name AND fence = :old AND NOT done"
    " AND EXISTS (SELECT 1 FROM apply_locks l WHERE l.fence = :new AND l.expires >= {clock})"
)
CREATE = (
    "INSERT INTO journals (name, kind, fence, done)"
    " SELECT CAST(:name AS VARCHAR(200)), CAST(:kind AS VARCHAR(8)), CAST(:fence AS BIGINT), FALSE"
    " WHERE EXISTS (SELECT 1 FROM apply_locks l WHERE l.fence = :fence AND l.expires >= {clock})"
)
RETIRE = (
    "UPDATE journals SET done = TRUE WHERE name = :name AND fence = :fence"
    " AND EXISTS (SELECT 1 FROM apply_locks l WHERE l.fence = :fence AND l.expires >= {clock})"
)
REMOVE = (
    "DELETE FROM journals WHERE name = :name AND fence = :fence"
    " AND EXISTS (SELECT 1 FROM apply_locks l WHERE l.fence = :fence AND l.expires >= {clock})"
)
FIND = (
    "SELECT j.name, j.fence,"
    " EXISTS (SELECT 1 FROM apply_locks l WHERE l.fence = j.fence AND l.expires >= {clock}) AS live,"
    " (SELECT count(*) FROM journal_records r WHERE r.name = j.name) AS records"
    " FROM journals j WHERE j.name = :name AND NOT j.done"
)
FIND_BELOW = (
    "SELECT j.name, j.fence,"
    " EXISTS (SELECT 1 FROM apply_locks l WHERE l.fence = j.fence AND l.expires >= {clock}) AS live,"
    " (SELECT count(*) FROM journal_records r WHERE r.name = j.name) AS records"
    " FROM journals j WHERE j.kind = 'move' AND NOT j.done AND j.name >= :start AND j.name < :end"
    " ORDER BY j.name"
)


def _sql(template: str, connection: Connection) -> TextClause:
    return text(template.format(clock=now_us(connection)))


Record = dict[str, Any]  # one JSON object, as stored


def _body(record: Mapping[str, object]) -> str:
    return json.dumps(record, sort_keys=True, separators=(",", ":"))


class SqlRows:
    """A journal's rows in the database, written under its holder's lease: records as JSON objects."""

    def __init__(self, engine: Engine, name: str, fence: int, records: int) -> None:
        self.engine = engine
        self.name = name
        self.fence = fence  # the lease this journal is written under
        self._next = records  # the sequence number of the next record

    def append_body(self, body: Mapping[str, object]) -> None:
        """Append one record durably, if this journal's lease is still live; else LeaseLost."""
        with self.engine.begin() as connection:
            added = connection.execute(
                _sql(APPEND, connection),
                {"name": self.name, "seq": self._next, "body": _body(body), "fence": self.fence},
            ).rowcount
        if added != 1:
            raise LeaseLost(f"journal {self.name}: its lock lease {self.fence} ran out; no more records")
        self._next += 1

    def bodies(self) -> list[Record]:
        with self.engine.connect() as connection:
            bodies = connection.execute(
                text("SELECT body FROM journal_records WHERE name = :name ORDER BY seq"), {"name": self.name}
            ).scalars()
            return [json.loads(body) for body in bodies]

    def claim(self, lease: Fenced | None) -> None:
        """Write from now on under ``lease`` (recovery's); JournalBusy if another replica claimed it first."""
        lease = _shared(lease)
        with self.engine.begin() as connection:
            claimed = connection.execute(
                _sql(CLAIM, connection), {"name": self.name, "old": self.fence, "new": lease.fence}
            ).rowcount
        if claimed != 1:
            raise JournalBusy(self.name)
        self.fence = lease.fence

    def retire(self) -> None:
        """Mark it done (kept: part of the record), under its lease; LeaseLost if that ran out."""
        with self.engine.begin() as connection:
            retired = connection.execute(
                _sql(RETIRE, connection), {"name": self.name, "fence": self.fence}
            ).rowcount
        if retired != 1:
            raise LeaseLost(f"journal {self.name}: its lock lease {self.fence} ran out before it retired")


class SqlJournal(SqlRows):
    """An apply's journal in the database (``journal.Journal``): its typed records, one JSON form each."""

    def __init__(self, engine: Engine, name: str, fence: int, records: int) -> None:
        super().__init__(engine, name, fence, records)
        self._kinds: set[RecordType] | None = None

    @property
    def kinds(self) -> set[RecordType]:
        """The types of the records it holds."""
        if self._kinds is None:
            self._kinds = {type(record) for record in self.records()}
        return self._kinds

    def append(self, record: JournalRecord) -> None:
        self.append_body(encode(record))
        self.kinds.add(type(record))

    def records(self) -> list[JournalRecord]:
        return [decode(body) for body in self.bodies()]


class SqlMoveJournal(SqlRows):
    """A folder move's journal in the database (``movejournals.MoveJournal``)."""

    def append(self, record: Mapping[str, object]) -> None:
        self.append_body(record)

    def retire(self) -> None:
        """Remove it, under its lease (LeaseLost if that ran out): a finished move is no record.

        Its apply's journal is (the steps, the batches, the outcome), as with
        the move journals on a VM's disk, which are deleted when done; a
        folder of 100,000 objects would otherwise leave 100,000 pairs behind.
        """
        with self.engine.begin() as connection:
            connection.execute(text("DELETE FROM journal_records WHERE name = :name"), {"name": self.name})
            removed = connection.execute(
                _sql(REMOVE, connection), {"name": self.name, "fence": self.fence}
            ).rowcount
            if removed != 1:  # raised inside the transaction: the records stay too
                raise LeaseLost(f"journal {self.name}: its lock lease {self.fence} ran out before it retired")

    def records(self) -> list[Record]:
        return self.bodies()


def _create(engine: Engine, name: str, kind: str, intent: Mapping[str, object], lease: Fenced | None) -> int:
    """Make the journal's row and its first record, under ``lease``; the lease's fence."""
    lease = _shared(lease)
    with engine.begin() as connection:
        made = connection.execute(
            _sql(CREATE, connection), {"name": name, "kind": kind, "fence": lease.fence}
        ).rowcount
        if made != 1:
            raise LeaseLost(f"journal {name}: the lock lease {lease.fence} ran out before it began")
        connection.execute(
            text("INSERT INTO journal_records (name, seq, body) VALUES (:name, 0, :body)"),
            {"name": name, "body": _body(intent)},
        )
    return lease.fence


class SqlJournals:
    """Apply journals in the audit database, for every replica sharing it."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def names(self) -> list[str]:
        """Journals not yet retired: applies in progress or interrupted."""
        with self.engine.connect() as connection:
            names = connection.execute(
                text("SELECT name FROM journals WHERE kind = 'apply' AND NOT done ORDER BY name")
            )
            return list(names.scalars())

    @contextmanager
    def create(self, name: str, intent: Intent, lease: Fenced | None) -> Iterator[SqlJournal]:
        """Create a journal holding ``intent``, written under ``lease``; LeaseLost if it already ran out."""
        journal = SqlJournal(self.engine, name, _create(self.engine, name, "apply", encode(intent), lease), 1)
        journal.kinds.add(Intent)
        yield journal

    @contextmanager
    def hold(self, name: str) -> Iterator[SqlJournal]:
        """An unretired journal whose writer's lease ran out; JournalBusy while that lease is live."""
        with self.engine.connect() as connection:
            row = connection.execute(_sql(FIND, connection), {"name": name}).first()
        if row is None or row.live:
            raise JournalBusy(name)  # retired (settled) meanwhile, or its writer is alive
        yield SqlJournal(self.engine, name, int(row.fence), int(row.records))

    def retire(self, journal: Journal) -> None:
        assert isinstance(journal, SqlJournal)
        journal.retire()


class SqlMoveJournals:
    """The journals of folder moves on a flat bucket, in the database (``movejournals.MoveJournals``).

    A move runs inside an apply, or inside the settling of an interrupted one
    (``leases.working`` says which, and under which lease): its journal is
    named after that apply, and ``dead`` settles only that apply's.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @contextmanager
    def started(self, intent: Mapping[str, object]) -> Iterator[SqlMoveJournal]:
        work = _work()
        name = f"{work.journal}/move/{uuid.uuid4().hex}"
        yield SqlMoveJournal(self.engine, name, _create(self.engine, name, "move", intent, work.lease), 1)

    def finished(self, journal: object) -> None:
        assert isinstance(journal, SqlMoveJournal)
        journal.retire()

    def dead(self) -> Iterator[SqlMoveJournal]:
        work = working_on.get()
        if work is None:
            return  # outside an apply: its own settling will settle its moves, under its locks
        prefix = f"{work.journal}/move/"
        with self.engine.connect() as connection:
            rows = connection.execute(
                _sql(FIND_BELOW, connection), {"start": prefix, "end": prefix[:-1] + chr(ord("/") + 1)}
            ).all()
        lease = _shared(work.lease)
        for row in rows:
            if row.fence == lease.fence:
                continue  # a move of this very apply, under way
            journal = SqlMoveJournal(self.engine, row.name, int(row.fence), int(row.records))
            journal.claim(lease)  # its apply is settled under this lease now
            yield journal
            journal.retire()


def _work() -> Work:
    work = working_on.get()
    if work is None:
        raise RuntimeError("a folder move outside an apply: nothing holds its paths")
    return work


def _shared(lease: Fenced | None) -> Fenced:
    """The lease journals in the database are written under: the shared locks' (SqlLocks) always give one."""
    if lease is None:
        raise RuntimeError("journals in the database need the database's locks (SqlLocks), not local ones")
    return lease
