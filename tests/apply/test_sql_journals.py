"""Apply journals in the database (``SqlJournals``): written only under a live lease, settled by one replica.

On SQLite and PostgreSQL. Leases come from ``SqlLocks`` on the same
database; a replica whose lease ran out is played by removing its lease row,
as the next taker of its paths does.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, text

from sidecar.apply.journal import JournalBusy
from sidecar.apply.journal_records import Batch, Commit, Intent, Rollback, RolledBack, Staged
from sidecar.apply.leases import SqlLocks
from sidecar.apply.sqljournals import SqlJournals
from sidecar.db import make_engine
from sidecar.errors import LeaseLost

INTENT = Intent(
    digest="d" * 64,
    attempt="a1",
    actor="ops",
    started=datetime(2026, 12, 4, tzinfo=UTC),
    locks=("matters/acme",),
    steps=(),
    batches=(),
    ops=(),
    trashed=(),
    warnings=(),
    prediction={},
    inverse=None,
)


@pytest.fixture
def engine(url: str) -> Iterator[Engine]:
    made = make_engine(url)
    yield made
    made.dispose()


def _expire(engine: Engine, fence: int) -> None:
    """The lease ``fence`` ran out and another replica removed it."""
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM apply_locks WHERE fence = :fence"), {"fence": fence})


def test_a_journal_keeps_its_records_in_order_until_retired(engine: Engine) -> None:
    journals = SqlJournals(engine)
    with SqlLocks(engine).hold(["matters/acme"], timeout=5) as lease:
        with journals.create("d.1", INTENT, lease) as journal:
            journal.append(Staged())
            journal.append(Batch(0))
            assert journal.kinds == {Intent, Staged, Batch}
        assert journals.names() == ["d.1"]
        assert journal.records() == [INTENT, Staged(), Batch(0)]
        journals.retire(journal)
    assert journals.names() == []


def test_a_journal_is_busy_while_its_writers_lease_is_live(engine: Engine) -> None:
    journals = SqlJournals(engine)
    with (
        SqlLocks(engine).hold(["matters/acme"], timeout=5) as lease,
        journals.create("d.1", INTENT, lease),
        pytest.raises(JournalBusy),
        journals.hold("d.1"),
    ):
        pass
    with journals.hold("d.1") as journal:  # its writer let go without retiring it: an interrupted apply
        assert journal.records() == [INTENT]


def test_a_writer_whose_lease_ran_out_writes_nothing_more(engine: Engine) -> None:
    journals = SqlJournals(engine)
    with (
        SqlLocks(engine).hold(["matters/acme"], timeout=5) as lease,
        journals.create("d.1", INTENT, lease) as journal,
    ):
        journal.append(Staged())
        _expire(engine, lease.fence)
        with pytest.raises(LeaseLost):
            journal.append(Commit())
        with pytest.raises(LeaseLost):
            journals.retire(journal)
    with journals.hold("d.1") as found:
        assert found.records() == [INTENT, Staged()]
    with SqlLocks(engine).hold(["matters/beta"], timeout=5) as lease:
        _expire(engine, lease.fence)
        with pytest.raises(LeaseLost), journals.create("d.2", INTENT, lease):
            pass
    assert journals.names() == ["d.1"]


def test_one_replica_claims_a_dead_journal_and_the_dead_writer_is_fenced_off(engine: Engine) -> None:
    journals = SqlJournals(engine)
    locks = SqlLocks(engine)
    with ExitStack() as stalled:  # a writer that stopped mid-apply and never left its block
        dead_lease = stalled.enter_context(locks.hold(["matters/acme"], timeout=5))
        dead_writer = stalled.enter_context(journals.create("d.1", INTENT, dead_lease))
        _expire(engine, dead_lease.fence)  # its lease ran out
        with (
            journals.hold("d.1") as first,  # two replicas find it
            journals.hold("d.1") as second,
            locks.hold(["matters/acme"], timeout=5) as lease,
        ):
            first.claim(lease)
            with pytest.raises(JournalBusy):
                second.claim(lease)  # the fence moved on: the first replica settles it
            with pytest.raises(LeaseLost):
                dead_writer.append(Commit())  # it woke up: too late
            first.append(Rollback(None))
            first.append(RolledBack())
            journals.retire(first)
    assert first.records() == [INTENT, Rollback(None), RolledBack()]
    assert journals.names() == []
