"""Concurrent writers on one database keep one gapless, valid chain."""

from __future__ import annotations

import threading

from sidecar.audit.records import Incident
from sidecar.audit.store import SqlAuditStore

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
