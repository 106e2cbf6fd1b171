"""Audit fixtures: every store test runs on SQLite and on PostgreSQL.

PostgreSQL must be reachable at ``PVA_TEST_POSTGRES`` (default: the local
server, user postgres, database ``test``); each test module gets a fresh
database ``pva_test_<random>``, migrated once and emptied before each test.
If the server is down the PostgreSQL cases fail, they are never skipped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from planner.core.entry import Entry
from planner.core.plan import Plan
from sidecar.audit.records import ApplyRecord, OpRecord, TrashedFile
from sidecar.audit.store import SqlAuditStore
from sidecar.db import database_url
from tests.support import plans
from tests.support.clocks import TickingClock

# The database fixtures (url, migrated_url, empty_url) come from tests/databases.py,
# registered for every suite in tests/conftest.py.


@pytest.fixture
def store(url: str) -> Iterator[SqlAuditStore]:
    audit = SqlAuditStore.open(
        url, clock=TickingClock(datetime(2026, 1, 5, 9, 0, tzinfo=UTC), timedelta(seconds=1))
    )
    yield audit
    audit.close()


@pytest.fixture
def tamper(url: str) -> Callable[..., None]:
    """Run raw SQL on the database behind the store's back, foreign keys off."""

    def run(*statements: str) -> None:
        engine = create_engine(database_url(url))
        try:
            with engine.begin() as connection:
                if connection.dialect.name == "postgresql":
                    connection.execute(text("SET session_replication_role = replica"))
                for statement in statements:
                    connection.execute(text(statement))
        finally:
            engine.dispose()  # also when the database refuses a statement

    return run


def make_plan(*ops: Mapping[str, object], title: str = "t", scope: str = "m") -> Plan:
    """A plan of ``ops`` over one scope, m unless given."""
    return plans.make_plan(*ops, title=title, scope=[scope])


def file(path: str, content: str) -> Entry:
    """An entry for a file whose sha256 and size follow from ``content`` (fake but consistent)."""
    return Entry(path, "file", len(content), (content.encode().hex() * 64)[:64])


def applied(
    plan: Plan,
    *ops: OpRecord,
    actor: str = "operator",
    trashed: tuple[TrashedFile, ...] = (),
    status: str = "applied",
) -> ApplyRecord:
    start = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
    return ApplyRecord(
        digest=plan.digest(),
        status=status,  # type: ignore[arg-type]
        actor=actor,
        started=start,
        finished=start + timedelta(seconds=2),
        ops=ops,
        trashed=trashed,
        store="local:/srv/projects",
    )


def record(
    store: SqlAuditStore, plan: Plan, *ops: OpRecord, author: str = "agent-1", actor: str = "operator"
) -> None:
    """Record a plan and an apply of it that took effect."""
    store.record_plan(plan, author=author)
    store.record_apply(applied(plan, *ops, actor=actor))


@pytest.fixture
def cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path
