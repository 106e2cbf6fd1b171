"""Migrations: they build the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from planner.cli.main import main
from sidecar import db
from sidecar.audit.store import SqlAuditStore
from sidecar.audit.tables import Base
from tests.databases import TABLES


def test_the_migrated_schema_matches_the_models(url: str) -> None:
    """Alembic's autogenerate comparison finds no difference between the migrations and the models."""
    engine = db.make_engine(url)
    try:
        with engine.connect() as connection:
            opts = {"compare_type": True, "include_name": _ours}
            context = MigrationContext.configure(connection, opts=opts)
            assert compare_metadata(context, Base.metadata) == []
    finally:
        engine.dispose()


def _ours(name: str | None, kind: str, _parents: object) -> bool:
    """Procrastinate's tables (the job queue, migration 0005) are its own, not the models'."""
    return not (kind == "table" and name is not None and name.startswith("procrastinate_"))


def test_the_store_expects_the_newest_migration() -> None:
    """sidecar.db.SCHEMA_REVISION is the head of migrations/versions, and there is one head."""
    scripts = ScriptDirectory.from_config(db.alembic_config("sqlite://"))
    assert scripts.get_heads() == [db.SCHEMA_REVISION]


def test_upgrade_builds_an_empty_database_and_downgrade_removes_it(empty_url: str) -> None:
    """Upgrade creates every table (and a SQLite file's folder); downgrade to base drops them."""
    db.upgrade(empty_url)
    db.upgrade(empty_url)  # a second upgrade is a no-op
    engine = db.make_engine(empty_url)
    try:
        assert set(TABLES) <= set(inspect(engine).get_table_names())
        queue = "procrastinate_jobs" in inspect(engine).get_table_names()
        assert queue is (engine.dialect.name == "postgresql")  # the job queue: PostgreSQL only
        assert db.current_revision(engine) == db.SCHEMA_REVISION
        command.downgrade(db.alembic_config(empty_url), "base")
        assert set(TABLES).isdisjoint(inspect(engine).get_table_names())
        assert not [name for name in inspect(engine).get_table_names() if name.startswith("procrastinate")]
        assert db.current_revision(engine) is None
    finally:
        engine.dispose()


def test_pva_db_upgrade_migrates_the_database_given(
    empty_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """``pva db upgrade --db URL`` migrates, after which the store opens."""
    assert main(["db", "upgrade", "--db", empty_url]) == 0
    assert f"is at revision {db.SCHEMA_REVISION}" in capsys.readouterr().out
    SqlAuditStore.open(empty_url).close()


def test_pva_db_upgrade_defaults_to_the_settings(
    cwd: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without --db the URL comes from PVA_DATABASE_URL, else var/pva.db under the current folder."""
    monkeypatch.delenv("PVA_DATABASE_URL", raising=False)
    assert main(["db", "upgrade"]) == 0
    assert (cwd / "var" / "pva.db").is_file()
    monkeypatch.setenv("PVA_DATABASE_URL", f"sqlite:///{cwd / 'elsewhere.db'}")
    assert main(["db", "upgrade"]) == 0
    assert (cwd / "elsewhere.db").is_file()
    assert main(["audit", "verify"]) == 0
    assert "audit chain intact: 0 events" in capsys.readouterr().out


def test_a_bad_database_url_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    """An unsupported database URL is exit 2 (to fix), an unreachable database exit 3; one line each."""
    assert main(["db", "upgrade", "--db", "mysql://x@localhost/y"]) == 2
    assert main(["audit", "list", "--db", "postgresql://nobody@127.0.0.1:1/none"]) == 3
    err = capsys.readouterr().err.splitlines()
    assert err[0] == "pva: unsupported database 'mysql': use sqlite or postgresql"
    assert err[1].startswith(
        "pva: cannot open the audit database postgresql+psycopg://nobody@127.0.0.1:1/none"
    )
    assert len(err) == 2
