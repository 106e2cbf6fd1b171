"""What `pva watch` last saw of the store: the baseline its next scan compares with.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the models' types: a migration must not change when the models do.
SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
PATH = sa.Text().with_variant(sa.Text(collation="C"), "postgresql")
STORE = sa.String(length=1000)


def upgrade() -> None:
    op.create_table(
        "watch_files",
        sa.Column("store", STORE, nullable=False),
        sa.Column("path", PATH, nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("generation", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("store", "path", name=op.f("pk_watch_files")),
    )
    op.create_table(
        "watch_marks",
        sa.Column("store", STORE, nullable=False),
        sa.Column("seq", SEQ, nullable=False),
        sa.Column("scans", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("store", name=op.f("pk_watch_marks")),
    )


def downgrade() -> None:
    op.drop_table("watch_marks")
    op.drop_table("watch_files")
