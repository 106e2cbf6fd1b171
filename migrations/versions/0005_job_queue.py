"""The apply job queue: Procrastinate's schema, on PostgreSQL only.

Applies run as durable jobs (sidecar/jobs). On PostgreSQL the queue is
Procrastinate's tables, functions and triggers, installed here from the
schema the pinned Procrastinate ships (pyproject pins one minor release:
moving to another means a migration that runs its migration files). On
SQLite there is no shared queue (a worker thread in ``pva serve`` re-takes
plans left ``applying``): this migration does nothing there.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = (
    "procrastinate_events",
    "procrastinate_periodic_defers",
    "procrastinate_jobs",
    "procrastinate_workers",
)
TYPES = ("procrastinate_job_to_defer_v1", "procrastinate_job_event_type", "procrastinate_job_status")


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    from procrastinate.schema import SchemaManager  # noqa: PLC0415  # only PostgreSQL needs it

    op.get_bind().exec_driver_sql(SchemaManager.get_schema().replace("%", "%%"))


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TABLES:
        op.execute(f"DROP TABLE IF EXISTS {table} CASCADE")
    functions = op.get_bind().execute(
        sa.text(
            "SELECT p.oid::regprocedure::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace"
            " WHERE n.nspname = current_schema() AND starts_with(p.proname, 'procrastinate')"
        )
    )
    for (function,) in functions.fetchall():
        op.execute(f"DROP FUNCTION IF EXISTS {function} CASCADE")
    for kind in TYPES:
        op.execute(f"DROP TYPE IF EXISTS {kind} CASCADE")
