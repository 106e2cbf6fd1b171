"""The outbox shared by several workers (threads, replicas): each delivery is held by one at a time."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert, select

from sidecar import db
from sidecar.audit.tables import OutboxRow
from sidecar.notify.notices import Notice
from sidecar.notify.outbox import Claimed, SqlOutbox
from sidecar.notify.worker import Deliverer, DeliverySettings
from tests.support.clocks import StillClock

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
LEASE = timedelta(seconds=30)


def _events(outbox: SqlOutbox, count: int) -> None:
    """Write ``count`` plan.pending events about plans in matters/acme straight into the outbox."""
    rows = []
    for n in range(count):
        told = Notice("plan.pending", T0, f"{n:064x}", f"plan {n}", "agent", "pending", "agent", "", (), ())
        rows.append(
            {
                "time": T0,
                "kind": told.kind,
                "digest": told.digest,
                "paths": json.dumps(["matters/acme"]),
                "authors": json.dumps(["agent"]),
                "payload": json.dumps(told.to_json()),
                "dispatched": None,
            }
        )
    with outbox.engine.begin() as connection:
        connection.execute(insert(OutboxRow), rows)


def test_workers_racing_dispatch_and_claim_each_delivery_once(url: str) -> None:
    """Four workers at once: every event fans out once, and no delivery is claimed by two of them."""
    clock = StillClock(T0)
    stores = [SqlOutbox(db.make_engine(url), clock=clock) for _ in range(4)]
    try:
        stores[0].add_webhook("https://a.example/hook")
        stores[0].add_webhook("https://b.example/hook", scopes=["matters/acme"])
        _events(stores[0], 30)
        claimed: list[list[Claimed]] = [[] for _ in stores]
        start = threading.Barrier(len(stores))

        def work(i: int) -> None:
            start.wait()
            while stores[i].dispatch(mail=False, limit=7):
                pass
            while found := stores[i].claim("webhook", lease=LEASE, limit=5):
                claimed[i].extend(found)

        threads = [threading.Thread(target=work, args=(i,)) for i in range(len(stores))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        ids = [taken.id for found in claimed for taken in found]
        assert len(ids) == 60  # 30 events x 2 webhooks
        assert len(set(ids)) == 60  # none twice
        assert len(stores[0].deliveries(limit=1000)) == 60
    finally:
        for store in stores:
            store.close()


def test_a_claim_whose_lease_ran_out_is_taken_over_and_the_late_worker_writes_nothing(url: str) -> None:
    """A worker that stalls past its lease loses the delivery; its late answer is not recorded."""
    clock = StillClock(T0)
    outbox = SqlOutbox(db.make_engine(url), clock=clock)
    try:
        outbox.add_webhook("https://a.example/hook")
        _events(outbox, 1)
        outbox.dispatch(mail=False)
        (stalled,) = outbox.claim("webhook", lease=LEASE)
        assert outbox.claim("webhook", lease=LEASE) == []  # held
        clock.now += LEASE + timedelta(seconds=1)
        (taken,) = outbox.claim("webhook", lease=LEASE)
        assert (taken.id, taken.attempts) == (stalled.id, 2)
        assert not outbox.finish(stalled, delivered=True, status=200)
        assert outbox.finish(taken, delivered=True, status=204)
        (shown,) = outbox.deliveries()
        assert (shown.status, shown.attempts, shown.last_status) == ("delivered", 2, 204)
    finally:
        outbox.close()


def test_settled_deliveries_and_their_events_are_pruned_past_the_retention_and_pending_ones_stay(
    url: str,
) -> None:
    """Settled deliveries older than the cut-off go, and events left with none; pending ones stay."""
    clock = StillClock(T0)
    outbox = SqlOutbox(db.make_engine(url), clock=clock)
    try:
        outbox.add_webhook("https://a.example/hook")
        _events(outbox, 3)
        outbox.dispatch(mail=False)
        first, second, third = outbox.claim("webhook", lease=LEASE)
        assert outbox.finish(first, delivered=True, status=204)
        assert outbox.finish(second, delivered=False, status=500, error="down")  # given up: no retry_at
        assert outbox.finish(third, delivered=False, status=500, error="down", retry_at=T0 + LEASE)
        assert outbox.prune(T0) == (0, 0)  # nothing is older than the cut-off yet
        clock.now = T0 + timedelta(days=31)
        assert outbox.prune(clock.now - timedelta(days=30)) == (2, 2)
        (left,) = outbox.deliveries(limit=100)
        assert (left.id, left.status) == (third.id, "pending")
        with outbox.engine.connect() as connection:
            kept = connection.execute(select(OutboxRow.id)).scalars().all()
        assert kept == [third.event_id]
    finally:
        outbox.close()


def test_the_worker_prunes_at_most_once_per_period_with_the_retention_it_was_given(url: str) -> None:
    clock = StillClock(T0)
    outbox = SqlOutbox(db.make_engine(url), clock=clock)
    settings = DeliverySettings(retention=timedelta(days=2), prune_every=timedelta(hours=1))
    worker = Deliverer(outbox, settings, clock)
    try:
        outbox.add_webhook("https://a.example/hook")
        _events(outbox, 1)
        outbox.dispatch(mail=False)
        (taken,) = outbox.claim("webhook", lease=LEASE)
        assert outbox.finish(taken, delivered=True, status=204)
        clock.now = T0 + timedelta(days=2) - timedelta(minutes=1)
        worker.run_once()  # prunes: the delivery is not yet two days old
        assert len(outbox.deliveries(limit=10)) == 1
        clock.now = T0 + timedelta(days=2, minutes=10)
        worker.run_once()  # old enough now, but the last prune was 11 minutes ago
        assert len(outbox.deliveries(limit=10)) == 1
        clock.now = T0 + timedelta(days=2, minutes=60)
        worker.run_once()  # an hour after the last prune: gone
        assert outbox.deliveries(limit=10) == []
    finally:
        worker.client.close()
        outbox.close()
