"""How far each apply has got: ops and store objects done, posted by the replica that runs it.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "apply_progress",
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("ops_done", sa.Integer(), nullable=False),
        sa.Column("ops_total", sa.Integer(), nullable=False),
        sa.Column("objects_done", sa.BigInteger(), nullable=False),
        sa.Column("objects_total", sa.BigInteger(), nullable=False),
        sa.Column("updated", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("digest", name=op.f("pk_apply_progress")),
    )


def downgrade() -> None:
    op.drop_table("apply_progress")
