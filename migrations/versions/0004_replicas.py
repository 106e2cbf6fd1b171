"""What replicas sharing the database share to apply: path-lock leases and apply journals.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the models' types: a migration must not change when the models do.
SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
NAME = sa.String(length=200)


def upgrade() -> None:
    op.create_table(
        "apply_locks",
        sa.Column("fence", SEQ, autoincrement=True, nullable=False),
        sa.Column("holder", NAME, nullable=False),
        sa.Column("paths", sa.Text(), nullable=False),
        sa.Column("expires", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("fence", name=op.f("pk_apply_locks")),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "journals",
        sa.Column("name", NAME, nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("fence", SEQ, nullable=False),
        sa.Column("done", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_journals")),
    )
    op.create_index(op.f("ix_journals_kind_done_name"), "journals", ["kind", "done", "name"])
    op.create_table(
        "journal_records",
        sa.Column("name", NAME, nullable=False),
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["name"], ["journals.name"], name=op.f("fk_journal_records_name_journals")),
        sa.PrimaryKeyConstraint("name", "seq", name=op.f("pk_journal_records")),
    )


def downgrade() -> None:
    op.drop_table("journal_records")
    op.drop_table("journals")
    op.drop_table("apply_locks")
