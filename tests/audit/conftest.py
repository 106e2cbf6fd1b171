"""Audit fixtures: every store test runs on SQLite and on PostgreSQL.

PostgreSQL must be reachable at ``PVA_TEST_POSTGRES`` (default: the local
server, user postgres, database ``test``); each test module gets a fresh
database ``pva_test_<random>``, migrated once and emptied before each test.
If the server is down the PostgreSQL cases fail, they are never skipped.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from planner.entry import Entry
from planner.plan import Plan
from sidecar.audit.records import ApplyRecord, OpRecord, TrashedFile
from sidecar.audit.store import SqlAuditStore
from sidecar.db import database_url, make_engine, upgrade

ADMIN_URL = os.environ.get("PVA_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
TABLES = ("approvals", "trashed_files", "op_records", "plan_scopes", "plans", "events")


@contextmanager
def postgres_database() -> Iterator[str]:
    """A fresh, empty PostgreSQL database, dropped afterwards."""
    admin = make_url(ADMIN_URL)
    name = f"pva_test_{secrets.token_hex(6)}"
    conninfo = admin.set(drivername="postgresql").render_as_string(hide_password=False)
    try:
        connection = psycopg.connect(conninfo, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as error:
        pytest.fail(f"PostgreSQL is not reachable at {ADMIN_URL} (set PVA_TEST_POSTGRES): {error}")
    with connection:
        connection.execute(f'CREATE DATABASE "{name}"')
        try:
            yield admin.set(drivername="postgresql+psycopg", database=name).render_as_string(
                hide_password=False
            )
        finally:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def migrated_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('audit') / 'audit.db'}"
        upgrade(url)
        yield url
        return
    with postgres_database() as url:
        upgrade(url)
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database that was never migrated (a SQLite file not made yet, or an empty PostgreSQL database)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'new' / 'audit.db'}"
        return
    with postgres_database() as url:
        yield url


@pytest.fixture
def url(migrated_url: str) -> str:
    """A migrated, empty audit database."""
    engine = make_engine(migrated_url)
    with engine.begin() as connection:
        for table in TABLES:
            connection.execute(text(f"DELETE FROM {table}"))  # noqa: S608  # fixed table names
    engine.dispose()
    return migrated_url


class Clock:
    """A clock that ticks one second per reading, from a fixed start."""

    def __init__(self) -> None:
        self.now = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


@pytest.fixture
def store(url: str) -> Iterator[SqlAuditStore]:
    audit = SqlAuditStore.open(url, clock=Clock())
    yield audit
    audit.close()


@pytest.fixture
def tamper(url: str) -> Callable[..., None]:
    """Run raw SQL on the database behind the store's back, foreign keys off."""

    def run(*statements: str) -> None:
        engine = create_engine(database_url(url))
        with engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                connection.execute(text("SET session_replication_role = replica"))
            for statement in statements:
                connection.execute(text(statement))
        engine.dispose()

    return run


def make_plan(*ops: dict[str, object], title: str = "t", scope: str = "m") -> Plan:
    return Plan.model_validate({"pva": "plan/v1", "title": title, "scope": [scope], "ops": list(ops)})


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
