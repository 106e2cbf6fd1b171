"""Uploaded blobs (content for plans' content_ref writes, by sha256, per token) and read-only tokens.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the models' types: a migration must not change when the models do.
TIME = sa.DateTime(timezone=True)
HEX64 = sa.String(length=64)
NAME = sa.String(length=200)


def upgrade() -> None:
    op.create_table(
        "blobs",
        sa.Column("sha256", HEX64, nullable=False),
        sa.Column("token", sa.String(length=16), nullable=False),
        sa.Column("actor", NAME, nullable=False),
        sa.Column("scopes", sa.Text(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("uploaded", TIME, nullable=False),
        sa.PrimaryKeyConstraint("sha256", "token", name=op.f("pk_blobs")),
    )
    op.create_index(op.f("ix_blobs_token"), "blobs", ["token"])
    op.create_index(op.f("ix_blobs_uploaded"), "blobs", ["uploaded"])
    with op.batch_alter_table("tokens") as batch:
        batch.add_column(sa.Column("read_only", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("tokens") as batch:
        batch.drop_column("read_only")
    op.drop_index(op.f("ix_blobs_uploaded"), table_name="blobs")
    op.drop_index(op.f("ix_blobs_token"), table_name="blobs")
    op.drop_table("blobs")
