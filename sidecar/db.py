"""The audit database connection: engines, sessions, the append lock and the schema check.

SQLite (the default, one file) runs in WAL mode with foreign keys on, a busy
timeout and full fsync; PostgreSQL (production, shared by several sidecars)
through psycopg 3. Nothing is built at import time: callers make an engine
from a URL. Migrations live in the ``migrations/`` folder at the root of the
checkout and ship inside the package as ``sidecar/migrations`` (a link in the
checkout, a copy in the wheel); ``pva db upgrade`` runs them.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self, TypeVar

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlalchemy.orm import Session, sessionmaker

import sidecar
from sidecar.errors import AuditError, BadDatabaseUrl, NotMigrated

# The newest migration; opening a store refuses a database at any other.
# tests/audit/test_migrations.py checks it is the head of migrations/versions.
SCHEMA_REVISION = "0012"
# In a checkout, sidecar/migrations links to the top-level migrations/; a wheel holds a copy.
MIGRATIONS = Path(sidecar.__file__).resolve().parent / "migrations"
BUSY_TIMEOUT_MS = 30_000
# pg_advisory_xact_lock key that serialises appends to the event chain ("pva-audit").
EVENTS_LOCK_KEY = 0x7076612D6175
_IMMEDIATE = "pva_begin_immediate"
_ONE_READ = "pva_one_read"  # reading(): no BEGIN on SQLite
# Connections each engine keeps open (PVA_DATABASE_POOL overrides). A SQLite connection costs the
# database nothing, so there are more than `pva serve`'s request and background threads use at once,
# and none is closed between requests: at SQLAlchemy's 5, a busy sidecar opened and closed a
# connection (a file and four pragmas) for most requests. On PostgreSQL each costs the server a
# process, and replicas share its max_connections: SQLAlchemy's 5.
SQLITE_POOL = 40
POSTGRES_POOL = 5
POOL_OVERFLOW = 10  # opened beyond the pool under load, closed when given back


def database_url(url: str) -> URL:
    """Parse a URL; a bare ``postgresql://`` means psycopg 3 (the driver pva installs)."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise BadDatabaseUrl(f"not a database URL: {url!r}") from None
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise BadDatabaseUrl(f"unsupported database {parsed.get_backend_name()!r}: use sqlite or postgresql")
    return parsed


def describe(url: str | URL) -> str:
    """The URL for messages, password hidden."""
    parsed = url if isinstance(url, URL) else make_url(url)
    return parsed.render_as_string(hide_password=True)


def make_engine(url: str, *, create: bool = True, pool: int | None = None) -> Engine:
    """An engine for the audit database at ``url``, keeping ``pool`` connections open (None: the default).

    A SQLite file (and its folder) is made on demand when ``create``; without
    it, a missing file is refused as NotMigrated rather than made empty.
    """
    parsed = database_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed, create=create, pool=pool or SQLITE_POOL)
    return create_engine(
        parsed, pool_pre_ping=True, pool_size=pool or POSTGRES_POOL, max_overflow=POOL_OVERFLOW
    )


def _sqlite_engine(url: URL, *, create: bool, pool: int) -> Engine:
    sizes: dict[str, int] = {}  # an in-memory database has SQLAlchemy's one connection a thread
    if url.database and url.database != ":memory:" and not url.database.startswith("file:"):
        if not create and not Path(url.database).is_file():
            raise NotMigrated(f"no audit database at {url.database}: run 'pva db upgrade'")
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        sizes = {"pool_size": pool, "max_overflow": POOL_OVERFLOW}
    engine = create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000}, **sizes)
    event.listen(engine, "connect", _sqlite_connect)
    event.listen(engine, "begin", _sqlite_begin)
    return engine


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # sqlite3's own transaction handling never emits BEGIN IMMEDIATE; SQLAlchemy emits BEGIN instead.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    for pragma in (
        "journal_mode=WAL",
        "foreign_keys=ON",
        f"busy_timeout={BUSY_TIMEOUT_MS}",
        "synchronous=FULL",
    ):
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()


def _sqlite_begin(connection: Connection) -> None:
    # A writer takes the write lock when it begins, so two writers queue on the busy
    # timeout instead of failing when a read transaction tries to upgrade.
    options = connection.get_execution_options()
    if options.get(_ONE_READ, False):
        return  # reading(): the statement runs in SQLite's autocommit, its own transaction
    connection.exec_driver_sql("BEGIN IMMEDIATE" if options.get(_IMMEDIATE, False) else "BEGIN")


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def appending(sessions: sessionmaker[Session]) -> Iterator[Session]:
    """A transaction holding the single-writer lock of the event chain until it commits.

    Appends read the last event and write the next one under this lock, so
    concurrent writers (threads, processes, sidecars sharing PostgreSQL) never
    fork the chain. The unique ``seq`` is the backstop.
    """
    with sessions() as session, _queued(session.get_bind()), session.begin():
        connection = session.connection(execution_options={_IMMEDIATE: True})
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": EVENTS_LOCK_KEY})
        yield session


_WRITERS: weakref.WeakKeyDictionary[Engine, threading.RLock] = weakref.WeakKeyDictionary()
_WRITERS_LOCK = threading.Lock()


@contextmanager
def _queued(bind: Engine | Connection) -> Iterator[None]:
    """On SQLite, wait for the file's write lock in line with this process's other writers.

    ``BEGIN IMMEDIATE`` waits on SQLite's busy handler, which sleeps between
    tries (up to 100 ms each): under many threads a writer could sleep through
    several commits and wait seconds. A lock per engine queues this process's
    writers instead, each taking the file's lock as the last lets go; other
    processes (the CLI, a worker) still wait on the busy timeout.
    PostgreSQL queues on its advisory lock, without sleeping: nothing to do.
    Re-entrant: a thread that appends while appending still meets SQLite's
    lock, and its busy timeout, as before, rather than waiting for itself.
    """
    engine = bind if isinstance(bind, Engine) else bind.engine
    if engine.dialect.name != "sqlite":
        yield
        return
    with _WRITERS_LOCK:
        lock = _WRITERS.setdefault(engine, threading.RLock())
    with lock:
        yield


@contextmanager
def reading(engine: Engine) -> Iterator[Connection]:
    """A connection for one read statement, run in the database's autocommit: no BEGIN, no ROLLBACK.

    A statement alone reads one consistent snapshot; two would not, so use it
    for one. The token lookup of every request, the holds in force and the
    case of a submit read this way: on PostgreSQL such a read is two round
    trips (the pool's ping, the statement) rather than four (a token lookup
    372 µs rather than 572).
    """
    if engine.dialect.name == "sqlite":  # sqlite3 rolls back no transaction when none began
        options: dict[str, Any] = {_ONE_READ: True}
    else:
        options = {"isolation_level": "AUTOCOMMIT"}  # psycopg's autocommit: set on the client only
    with engine.connect().execution_options(**options) as connection:
        yield connection


@contextmanager
def writing(engine: Engine) -> Iterator[Connection]:
    """A write transaction: ``BEGIN IMMEDIATE`` on SQLite (never upgrading a read lock), plain elsewhere.

    For writers that lock their own rows (``SELECT ... FOR UPDATE SKIP LOCKED``
    on PostgreSQL) rather than one key of the whole database.
    """
    with engine.connect().execution_options(**{_IMMEDIATE: True}) as connection, connection.begin():
        yield connection


@contextmanager
def exclusive(engine: Engine, key: int) -> Iterator[Connection]:
    """A transaction that holds the database's writer lock named ``key`` until it commits.

    PostgreSQL: a transaction-scoped advisory lock (each key its own); SQLite:
    ``BEGIN IMMEDIATE``, the one write lock of the file.
    """
    with engine.connect().execution_options(**{_IMMEDIATE: True}) as connection, connection.begin():
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
        yield connection


def current_revision(engine: Engine) -> str | None:
    """The database's Alembic revision (None when it was never migrated)."""
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    except DBAPIError as error:
        raise AuditError(
            f"cannot open the audit database {describe(engine.url)}: {_first_line(error)}"
        ) from None


def check_schema(engine: Engine) -> None:
    """Raise NotMigrated unless the database is at ``SCHEMA_REVISION``."""
    found = current_revision(engine)
    if found != SCHEMA_REVISION:
        where = "not migrated" if found is None else f"at revision {found}, not {SCHEMA_REVISION}"
        raise NotMigrated(f"the audit database {describe(engine.url)} is {where}: run 'pva db upgrade'")


def alembic_config(url: str) -> Config:
    """Alembic's configuration without an ini file: the migrations folder and the target URL."""
    if not (MIGRATIONS / "env.py").is_file():
        raise AuditError(f"no migrations at {MIGRATIONS}: reinstall pva (the sidecar extra ships them)")
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["url"] = url
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Migrate the database at ``url`` (created if it is a new SQLite file) to ``revision``."""
    config = alembic_config(database_url(url).render_as_string(hide_password=False))
    try:
        command.upgrade(config, revision)
    except DBAPIError as error:
        raise AuditError(f"cannot migrate {describe(url)}: {_first_line(error)}") from None


def _first_line(error: DBAPIError) -> str:
    return str(error.orig).strip().splitlines()[0] if error.orig is not None else str(error)


Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


class SqlStore:
    """A store over the audit database (the audit log, the tokens): opening it checks the schema once."""

    def __init__(self, engine: Engine, *, clock: Clock = utc_now) -> None:
        check_schema(engine)
        self.engine = engine
        self._sessions: sessionmaker[Session] = session_factory(engine)
        self._clock = clock

    @classmethod
    def open(cls, url: str, *, clock: Clock = utc_now) -> Self:
        """Connect to the database at ``url``; NotMigrated unless it is at the current schema."""
        engine = make_engine(url, create=False)
        try:
            return cls(engine, clock=clock)
        except BaseException:
            engine.dispose()
            raise

    def close(self) -> None:
        self.engine.dispose()


StoreT = TypeVar("StoreT", bound=SqlStore)


@contextmanager
def opened(kind: type[StoreT], url: str) -> Iterator[StoreT]:
    """A store of ``kind`` on ``url`` for the block; a database failure in it becomes one AuditError line.

    AuditErrors carry their exit code: 2 for what the user fixes (a bad URL,
    not migrated, an unknown plan), 3 for a database that fails.
    """
    try:
        store = kind.open(url)
        try:
            yield store
        finally:
            store.close()
    except DBAPIError as error:
        raise AuditError(f"audit database: {_first_line(error)}") from None
