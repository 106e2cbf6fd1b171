"""The audit database's connections: the pool keeps what it holds; a lone read runs in no transaction."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Connection, Engine, event

from sidecar import db
from sidecar.settings import Settings
from sidecar.wiring import open_services


def opened_by_bursts(engine: Engine, connections: int, bursts: int) -> int:
    """Connections the engine opened while ``connections`` were checked out at once, ``bursts`` times over."""
    opened: list[object] = []
    event.listen(engine, "connect", lambda connection, _record: opened.append(connection))
    for _ in range(bursts):
        held = [engine.connect() for _ in range(connections)]
        for connection in held:
            assert connection.exec_driver_sql("SELECT 1").scalar() == 1
            connection.close()
    return len(opened)


def test_a_sqlite_sidecar_keeps_a_connection_for_each_request_thread(tmp_path: Path) -> None:
    """40 requests at once, again and again: 40 connections opened, once (SQLAlchemy's pool of 5 kept 5)."""
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    db.upgrade(url)
    engine = db.make_engine(url, create=False)
    try:
        assert opened_by_bursts(engine, db.SQLITE_POOL, bursts=3) == db.SQLITE_POOL
    finally:
        engine.dispose()


def test_the_pool_setting_sizes_the_pool_on_both_databases(url: str) -> None:
    """``pool`` connections are kept; the overflow beyond it is opened again at every burst."""
    engine = db.make_engine(url, create=False, pool=3)
    try:
        assert opened_by_bursts(engine, 3, bursts=3) == 3
    finally:
        engine.dispose()
    engine = db.make_engine(url, create=False, pool=3)
    try:
        assert opened_by_bursts(engine, 5, bursts=3) == 3 + 2 * 3
    finally:
        engine.dispose()


def test_pva_database_pool_reaches_the_sidecar_s_engine(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'pva.db'}"
    db.upgrade(url)
    (tmp_path / "store").mkdir()
    settings = Settings(store=str(tmp_path / "store"), database_url=url, state_dir=str(tmp_path / "state"))
    for setting, size in ((None, db.SQLITE_POOL), (7, 7)):
        with open_services(settings.model_copy(update={"database_pool": setting})) as services:
            assert services.audit.engine.pool.size() == size  # type: ignore[attr-defined]  # a QueuePool


def in_transaction(connection: Connection) -> bool:
    """Whether the database has a transaction open on this connection, as its driver hears it."""
    driver = connection.connection.dbapi_connection
    if connection.dialect.name == "sqlite":
        return bool(driver.in_transaction)  # type: ignore[union-attr]  # sqlite3: SQLite's own autocommit flag
    return bool(driver.info.transaction_status != 0)  # type: ignore[union-attr]  # psycopg: as the server says


def insert_then_fail(engine: Engine) -> None:
    with db.writing(engine) as connection:
        connection.exec_driver_sql("INSERT INTO scratch VALUES (1)")
        raise RuntimeError("rolled back")


def test_a_lone_read_runs_in_no_transaction_and_the_connection_goes_back_as_it_was(url: str) -> None:
    """``db.reading`` sends no BEGIN (nor, so, a ROLLBACK); the next user of the connection begins as ever."""
    engine = db.make_engine(url, create=False, pool=1)  # one connection: the next user gets the same
    try:
        with engine.connect() as connection:
            assert connection.exec_driver_sql("SELECT 1").scalar() == 1
            assert in_transaction(connection)  # the control: a plain connection begins
        for _ in range(2):
            with db.reading(engine) as connection:
                assert connection.exec_driver_sql("SELECT 1").scalar() == 1
                assert not in_transaction(connection)
        with engine.connect() as connection:
            connection.exec_driver_sql("SELECT 1")
            assert in_transaction(connection)
        with db.writing(engine) as connection:
            connection.exec_driver_sql("CREATE TABLE scratch (n INTEGER)")
        with pytest.raises(RuntimeError, match="rolled back"):
            insert_then_fail(engine)
        with db.reading(engine) as connection:
            assert connection.exec_driver_sql("SELECT count(*) FROM scratch").scalar() == 0
    finally:
        with db.writing(engine) as connection:
            connection.exec_driver_sql("DROP TABLE IF EXISTS scratch")
        engine.dispose()
