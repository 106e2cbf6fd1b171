"""Concurrent writers on one database keep one gapless, valid chain."""

from __future__ import annotations

import threading
from pathlib import Path

from sqlalchemy import event

from sidecar.audit.records import Incident
from sidecar.audit.store import SqlAuditStore
from sidecar.db import make_engine, upgrade

PER_WRITER = 200


def test_two_writers_appending_at_once_keep_the_chain_valid_and_gapless(url: str) -> None:
    """Two stores (two connection pools, as two processes would have) append 200 events each at once."""
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def write(name: str) -> None:
        audit = SqlAuditStore.open(url)
        try:
            start.wait()
            for n in range(PER_WRITER):
                audit.record_incident(Incident(name * 64, f"{name} {n}"))
        except BaseException as error:  # noqa: BLE001  # reported by the main thread
            errors.append(error)
        finally:
            audit.close()

    writers = [threading.Thread(target=write, args=(name,)) for name in "ab"]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join()
    assert errors == []
    audit = SqlAuditStore.open(url)
    try:
        events = audit.events(limit=10_000)
        assert [event.seq for event in events] == list(range(1, 2 * PER_WRITER + 1))
        for name in "ab":  # each writer's events are in its own order
            mine = [int(e.payload["message"].split()[1]) for e in events if e.digest == name * 64]
            assert mine == list(range(PER_WRITER))
        assert audit.check_chain().broken is None
        assert audit.check_chain().events == 2 * PER_WRITER
    finally:
        audit.close()


def test_one_process_s_writers_queue_for_sqlite_rather_than_on_its_busy_handler(tmp_path: Path) -> None:
    """Eight threads of one store append at once with SQLite's busy timeout at 0: none is refused.

    Without the per-engine queue (``db.appending``), a writer finding the file
    locked would fail at once here; with the busy timeout it would sleep.
    """
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    upgrade(url)
    engine = make_engine(url, create=False)
    event.listen(engine, "connect", lambda connection, _record: connection.execute("PRAGMA busy_timeout=0"))
    audit = SqlAuditStore(engine)
    start = threading.Barrier(8)
    errors: list[BaseException] = []

    def write(number: int) -> None:
        try:
            start.wait()
            for n in range(25):
                audit.record_incident(Incident(f"{number:064}", f"{number} {n}"))
        except BaseException as error:  # noqa: BLE001  # reported by the main thread
            errors.append(error)

    try:
        writers = [threading.Thread(target=write, args=(number,)) for number in range(8)]
        for writer in writers:
            writer.start()
        for writer in writers:
            writer.join()
        assert errors == []
        assert audit.check_chain().events == 8 * 25
    finally:
        audit.close()
