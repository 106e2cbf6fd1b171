"""Group commit: concurrent appends share a transaction, and nobody returns before it is durable."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from sidecar import db
from sidecar.audit.group import GroupCommit
from sidecar.audit.payloads import DocumentRead
from sidecar.audit.store import SqlAuditStore, append_event

THREADS = 12


class Journal:
    """A fake transaction: records what happened, in order; ``fail_commit`` makes the commit fail."""

    def __init__(self) -> None:
        self.log: list[str] = []
        self.fail_commit = False
        self.lock = threading.Lock()

    def note(self, line: str) -> None:
        with self.lock:
            self.log.append(line)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        session = _FakeSession(self)
        self.note("begin")
        try:
            yield session  # type: ignore[misc]
        except Exception:
            self.note("rollback")
            raise
        time.sleep(0.02)  # gives a caller woken too early the time to return before the commit
        if self.fail_commit:
            self.note("commit failed")
            raise OSError("disk full")
        self.note("commit")


class _FakeSession:
    def __init__(self, journal: Journal) -> None:
        self.journal = journal
        self.info: dict[str, Any] = {}

    @contextmanager
    def begin_nested(self) -> Iterator[None]:
        self.journal.note("savepoint")
        try:
            yield
        except Exception:
            self.journal.note("rollback to savepoint")
            raise


def _noting(journal: Journal, number: int) -> Callable[[Session], int]:
    """A unit that notes that it ran, and returns its number."""

    def work(_session: Session) -> int:
        journal.note(f"unit {number}")
        return number

    return work


def _wait_until(condition: Callable[[], bool]) -> None:
    """Poll ``condition`` (threads under load take their time; no deadline but the test's timeout)."""
    while not condition():
        time.sleep(0.001)


def _concurrently(
    group: GroupCommit,
    works: Sequence[Callable[[Session], Any]],
    returned: Callable[[Any], None] = lambda _result: None,
) -> list[Any]:
    """Run the first work alone until every other caller is queued behind it, in order, then let it finish.

    ``returned`` is called in each caller's thread as soon as its ``run`` returns.
    """
    release = threading.Event()
    results: list[Any] = [None] * len(works)

    def first(session: Session) -> Any:
        release.wait()
        return works[0](session)

    def call(number: int, work: Callable[[Session], Any]) -> None:
        try:
            results[number] = group.run(work)
            returned(results[number])
        except Exception as error:  # noqa: BLE001  # compared by the test
            results[number] = error

    threads = [threading.Thread(target=call, args=(0, first))]
    threads[0].start()
    _wait_until(lambda: group.queued == 0)  # the first leads: its unit left the queue
    for number, work in enumerate(works[1:], start=1):  # queued in order: unit n is n-th in the batch
        threads.append(threading.Thread(target=call, args=(number, work)))
        threads[-1].start()
        _wait_until(lambda number=number: group.queued == number)  # type: ignore[misc]
    release.set()
    for thread in threads:
        thread.join()
    return results


def test_callers_queued_behind_a_transaction_share_the_next_one() -> None:
    journal = Journal()
    group = GroupCommit(journal.transaction)
    works = [_noting(journal, n) for n in range(THREADS)]
    assert _concurrently(group, works) == list(range(THREADS))
    assert journal.log.count("begin") == 2  # the first alone, then all the others together
    assert journal.log.count("commit") == 2
    assert "savepoint" not in journal.log  # nothing failed: no unit paid for one
    second = journal.log[journal.log.index("begin", 1) :]
    assert sorted(line for line in second if line.startswith("unit")) == sorted(
        f"unit {n}" for n in range(1, THREADS)
    )


def test_nobody_returns_before_the_commit_that_holds_their_unit() -> None:
    journal = Journal()
    group = GroupCommit(journal.transaction)
    works = [_noting(journal, n) for n in range(THREADS)]
    _concurrently(group, works, returned=lambda n: journal.note(f"returned {n}"))
    for number in range(THREADS):
        unit, back = journal.log.index(f"unit {number}"), journal.log.index(f"returned {number}")
        assert "commit" in journal.log[unit:back], f"unit {number} returned before its commit"


def test_a_unit_that_fails_fails_alone() -> None:
    journal = Journal()
    group = GroupCommit(journal.transaction)

    def bad(_session: Session) -> int:
        raise ValueError("unit 3 is refused")

    works: list[Callable[[Session], Any]] = [_noting(journal, n) for n in range(6)]
    works[3] = bad
    results = _concurrently(group, works)
    assert isinstance(results[3], ValueError)
    assert [r for n, r in enumerate(results) if n != 3] == [0, 1, 2, 4, 5]
    assert journal.log.count("rollback") == 1  # the batch without savepoints, as far as unit 3
    assert journal.log.count("rollback to savepoint") == 1  # then again with them: unit 3's alone
    assert journal.log.count("commit") == 2  # the first unit's, then the batch's
    last = journal.log[journal.log.index("rollback") :]
    assert [line for line in last if line.startswith("unit")] == [f"unit {n}" for n in (1, 2, 4, 5)]


def test_a_commit_that_fails_fails_every_unit_in_it() -> None:
    journal = Journal()
    group = GroupCommit(journal.transaction)
    journal.fail_commit = True
    results = _concurrently(group, [_noting(journal, n) for n in range(5)])
    assert all(isinstance(result, OSError) for result in results), results
    ran = [line for line in journal.log if line.startswith("unit")]
    assert sorted(ran) == sorted(set(ran))  # what a failed commit did is unknown: no unit runs twice
    journal.fail_commit = False
    assert group.run(lambda _s: "later") == "later"  # the group is not left stuck


def test_concurrent_reads_on_a_real_database_are_all_recorded_in_a_valid_chain(url: str) -> None:
    """Against SQLite and PostgreSQL: 12 threads reading at once, every read's event recorded once."""
    audit = SqlAuditStore.open(url)
    try:
        start = threading.Barrier(THREADS)
        errors: list[BaseException] = []

        def read(number: int) -> None:
            try:
                start.wait()
                for n in range(10):
                    audit.record_read(DocumentRead(f"m/doc-{number}-{n}.pdf", "ab" * 32, 8), actor="agent")
            except BaseException as error:  # noqa: BLE001  # reported by the main thread
                errors.append(error)

        threads = [threading.Thread(target=read, args=(number,)) for number in range(THREADS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        events = audit.events(limit=10_000)
        paths = sorted(str(e.payload["path"]) for e in events if e.kind == "read")
        assert paths == sorted(f"m/doc-{t}-{n}.pdf" for t in range(THREADS) for n in range(10))
        report = audit.check_chain()
        assert report.broken is None
        assert report.events == THREADS * 10
    finally:
        audit.close()


def test_an_event_a_failed_unit_appended_leaves_no_gap_in_the_chain(url: str) -> None:
    """A unit appends an event, then fails: its savepoint takes the event; the next one follows the last kept.

    Appends in one transaction remember the last (seq, hash) rather than read
    it back; a unit rolled back to its savepoint must take that memory with it.
    """
    audit = SqlAuditStore.open(url)
    try:
        group = GroupCommit(lambda: db.appending(db.session_factory(audit.engine)))

        def appends_then_fails(session: Session) -> Any:
            _reading(99)(session)
            raise ValueError("refused after its append")

        works = [_reading(0), _reading(1), appends_then_fails, _reading(3), _reading(4)]
        results = _concurrently(group, works)
        assert isinstance(results[2], ValueError)
        report = audit.check_chain()
        assert report.broken is None, report.broken
        paths = [str(e.payload["path"]) for e in audit.events(limit=100) if e.kind == "read"]
        assert sorted(paths) == [f"m/doc-{n}.pdf" for n in (0, 1, 3, 4)]
    finally:
        audit.close()


def test_a_unit_whose_statement_fails_fails_alone_on_a_real_database(url: str) -> None:
    """A unit's failed statement (on PostgreSQL it aborts the transaction) costs the others nothing."""
    audit = SqlAuditStore.open(url)
    try:
        group = GroupCommit(lambda: db.appending(db.session_factory(audit.engine)))

        def bad_statement(session: Session) -> Any:
            return session.execute(text("SELECT * FROM no_such_table")).all()

        results = _concurrently(group, [_reading(0), _reading(1), bad_statement, _reading(3), _reading(4)])
        assert isinstance(results[2], DBAPIError)
        assert audit.check_chain().broken is None
        paths = [str(e.payload["path"]) for e in audit.events(limit=100) if e.kind == "read"]
        assert sorted(paths) == [f"m/doc-{n}.pdf" for n in (0, 1, 3, 4)]
    finally:
        audit.close()


def _reading(number: int) -> Callable[[Session], Any]:
    """A unit that appends a 'read' event of ``m/doc-<number>.pdf``."""

    def work(session: Session) -> Any:
        read = DocumentRead(f"m/doc-{number}.pdf", "ab" * 32, 8)
        return append_event(session, db.utc_now(), kind="read", digest=None, actor="agent", payload=read)

    return work
