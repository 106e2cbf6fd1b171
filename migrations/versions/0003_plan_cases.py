"""The workflow: where each submitted plan stands (plan_cases).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the models' types: a migration must not change when the models do.
TIME = sa.DateTime(timezone=True)
HEX64 = sa.String(length=64)
NAME = sa.String(length=200)
STATES = "('pending', 'approved', 'rejected', 'applying', 'applied', 'failed', 'stale', 'reverted')"


def upgrade() -> None:
    op.create_table(
        "plan_cases",
        sa.Column("digest", HEX64, nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("author", NAME, nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("submitted", TIME, nullable=False),
        sa.Column("updated", TIME, nullable=False),
        sa.Column("claimed", TIME, nullable=True),
        sa.Column("revert_of", HEX64, nullable=True),
        sa.Column("case", sa.Text(), nullable=False),
        sa.Column("report", sa.Text(), nullable=False),
        sa.Column("base", sa.Text(), nullable=False),
        sa.CheckConstraint(f"state IN {STATES}", name=op.f("ck_plan_cases_state")),
        sa.ForeignKeyConstraint(["digest"], ["plans.digest"], name=op.f("fk_plan_cases_digest_plans")),
        sa.PrimaryKeyConstraint("digest", name=op.f("pk_plan_cases")),
    )
    for columns in (("state", "submitted"), ("author", "submitted"), ("submitted",), ("revert_of",)):
        op.create_index(op.f(f"ix_plan_cases_{'_'.join(columns)}"), "plan_cases", list(columns))


def downgrade() -> None:
    op.drop_table("plan_cases")
