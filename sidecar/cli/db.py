"""``pva db upgrade [--db URL]``: migrate the audit database to the current schema.

The only command that accepts an unmigrated database. Alembic runs without an
ini file, from the migrations shipped in the sidecar package (see sidecar.db).
"""

from __future__ import annotations

import argparse
from typing import Any

from planner.cli.shell import EXIT_OK
from sidecar import db
from sidecar.settings import Settings


def register(commands: Any) -> None:
    parser = commands.add_parser("db", help="manage the audit database", description=__doc__)
    actions = parser.add_subparsers(title="actions", metavar="ACTION", required=True)
    upgrade = actions.add_parser("upgrade", help="create or migrate the audit database to the current schema")
    add_db_option(upgrade)
    upgrade.set_defaults(run=run_upgrade)


def add_db_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--db", metavar="URL", help="audit database URL (default: $PVA_DATABASE_URL or sqlite:///var/pva.db)"
    )


def database(args: argparse.Namespace) -> str:
    """The database URL the command was given, or the settings' one."""
    return str(args.db) if args.db else Settings.load().database_url


def run_upgrade(args: argparse.Namespace) -> int:
    url = database(args)
    db.upgrade(url)  # an AuditError carries its exit code
    print(f"audit database {db.describe(db.database_url(url))} is at revision {db.SCHEMA_REVISION}")
    return EXIT_OK
