"""Databases for tests: every database test runs on SQLite and on PostgreSQL.

PostgreSQL must be reachable at ``PVA_TEST_POSTGRES`` (default: the local
server, user postgres, database ``test``); each test module gets a fresh
database ``pva_test_<random>``, migrated once and emptied before each test.
If the server is down the PostgreSQL cases fail, they are never skipped
(``make test`` and ``.ci/run`` start it).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from sidecar.db import make_engine, upgrade

ADMIN_URL = os.environ.get("PVA_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
TABLES = (
    "apply_progress",
    "watch_files",
    "watch_marks",
    "deliveries",
    "webhooks",
    "outbox",
    "blobs",
    "holds",
    "journal_records",
    "journals",
    "apply_locks",
    "tokens",
    "plan_cases",
    "approvals",
    "trashed_files",
    "op_records",
    "plan_scopes",
    "plans",
    "events",
)


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
