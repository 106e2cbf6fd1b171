"""Audit database: the hash-chained events and the tables projected from them.

Revision ID: 0001
Revises:
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of sidecar.audit.tables' types: a migration must not change when the models do.
SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
PATH = sa.Text().with_variant(sa.Text(collation="C"), "postgresql")  # byte-wise order on PostgreSQL
TIME = sa.DateTime(timezone=True)
HEX64 = sa.String(length=64)
NAME = sa.String(length=200)


def _event_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(["event_seq"], ["events.seq"], name=op.f(f"fk_{table}_event_seq_events"))


def _indexes(table: str, *columns: tuple[str, ...]) -> None:
    for names in columns:
        op.create_index(op.f(f"ix_{table}_{'_'.join(names)}"), table, list(names))


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column("seq", SEQ, autoincrement=False, nullable=False),
        sa.Column("time", TIME, nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("digest", HEX64, nullable=True),
        sa.Column("actor", NAME, nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("prev_hash", HEX64, nullable=False),
        sa.Column("hash", HEX64, nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_events")),
        sa.UniqueConstraint("hash", name=op.f("uq_events_hash")),
    )
    _indexes("events", ("actor", "seq"), ("digest", "seq"), ("time",))

    op.create_table(
        "plans",
        sa.Column("digest", HEX64, nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("author", NAME, nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created", TIME, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.PrimaryKeyConstraint("digest", name=op.f("pk_plans")),
    )
    _indexes("plans", ("author", "created"), ("created",), ("status", "created"))

    op.create_table(
        "plan_scopes",
        sa.Column("digest", HEX64, nullable=False),
        sa.Column("root", PATH, nullable=False),
        sa.ForeignKeyConstraint(["digest"], ["plans.digest"], name=op.f("fk_plan_scopes_digest_plans")),
        sa.PrimaryKeyConstraint("digest", "root", name=op.f("pk_plan_scopes")),
    )
    _indexes("plan_scopes", ("root",))

    op.create_table(
        "op_records",
        sa.Column("event_seq", SEQ, nullable=False),
        sa.Column("ordinal", sa.Integer(), nullable=False),
        sa.Column("digest", HEX64, nullable=False),
        sa.Column("time", TIME, nullable=False),
        sa.Column("op_index", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("path", PATH, nullable=False),
        sa.Column("src", PATH, nullable=True),
        sa.Column("before_sha256", HEX64, nullable=True),
        sa.Column("before_size", sa.BigInteger(), nullable=True),
        sa.Column("after_sha256", HEX64, nullable=True),
        sa.Column("after_size", sa.BigInteger(), nullable=True),
        sa.Column("trash", PATH, nullable=True),
        _event_fk("op_records"),
        sa.PrimaryKeyConstraint("event_seq", "ordinal", name=op.f("pk_op_records")),
    )
    _indexes("op_records", ("digest", "ordinal"), ("path",), ("src",), ("time",))

    op.create_table(
        "trashed_files",
        sa.Column("event_seq", SEQ, nullable=False),
        sa.Column("ordinal", sa.Integer(), nullable=False),
        sa.Column("digest", HEX64, nullable=False),
        sa.Column("path", PATH, nullable=False),
        sa.Column("trash", PATH, nullable=False),
        sa.Column("sha256", HEX64, nullable=True),
        sa.Column("size", sa.BigInteger(), nullable=True),
        _event_fk("trashed_files"),
        sa.PrimaryKeyConstraint("event_seq", "ordinal", name=op.f("pk_trashed_files")),
    )
    _indexes("trashed_files", ("path",), ("sha256", "event_seq"))

    op.create_table(
        "approvals",
        sa.Column("event_seq", SEQ, nullable=False),
        sa.Column("digest", HEX64, nullable=False),
        sa.Column("approver", NAME, nullable=False),
        sa.Column("decision", sa.String(length=16), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("time", TIME, nullable=False),
        _event_fk("approvals"),
        sa.PrimaryKeyConstraint("event_seq", name=op.f("pk_approvals")),
    )
    _indexes("approvals", ("digest", "event_seq"))


def downgrade() -> None:
    for table in ("approvals", "trashed_files", "op_records", "plan_scopes", "plans", "events"):
        op.drop_table(table)
