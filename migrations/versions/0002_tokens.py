"""API tokens: role, scopes and the sha256 of each secret.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the models' types: a migration must not change when the models do.
TIME = sa.DateTime(timezone=True)
HEX64 = sa.String(length=64)
NAME = sa.String(length=200)


def upgrade() -> None:
    op.create_table(
        "tokens",
        sa.Column("id", sa.String(length=16), nullable=False),
        sa.Column("name", NAME, nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("scopes", sa.Text(), nullable=False),
        sa.Column("secret_sha256", HEX64, nullable=False),
        sa.Column("created", TIME, nullable=False),
        sa.Column("created_by", NAME, nullable=False),
        sa.Column("expires", TIME, nullable=True),
        sa.Column("last_used", TIME, nullable=True),
        sa.Column("revoked", TIME, nullable=True),
        sa.Column("revoked_by", NAME, nullable=True),
        sa.CheckConstraint("role IN ('agent', 'approver', 'auditor', 'admin')", name=op.f("ck_tokens_role")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tokens")),
        sa.UniqueConstraint("name", name=op.f("uq_tokens_name")),
        sa.UniqueConstraint("secret_sha256", name=op.f("uq_tokens_secret_sha256")),
    )


def downgrade() -> None:
    op.drop_table("tokens")
