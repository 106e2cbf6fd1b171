"""Alembic environment of the audit database.

The URL comes from ``pva db upgrade --db URL`` (``config.attributes["url"]``)
or from the settings (``PVA_DATABASE_URL``); there is no alembic.ini. SQLite
migrations run in batch mode, since SQLite alters few things in place.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from sidecar.audit.tables import Base
from sidecar.db import database_url, make_engine
from sidecar.settings import Settings

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    url = config.attributes.get("url")
    return str(url) if url else Settings().database_url


def _configure(**options: object) -> None:
    context.configure(target_metadata=target_metadata, compare_type=True, **options)  # type: ignore[arg-type]


def run_offline() -> None:
    """Print the SQL instead of running it (``alembic upgrade --sql``)."""
    url = database_url(_url())
    _configure(url=url, literal_binds=True, render_as_batch=url.get_backend_name() == "sqlite")
    with context.begin_transaction():
        context.run_migrations()


def _run(connection: Connection) -> None:
    _configure(connection=connection, render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    given = config.attributes.get("connection")
    if given is not None:
        _run(given)
        return
    engine = make_engine(_url())
    try:
        with engine.connect() as connection:
            _run(connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
