"""The plan state ``superseded``: replaced by a revision or by the part of it a person approved.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies: a migration must not change when the models do.
OLD_STATES = (
    "('pending', 'approved', 'rejected', 'applying', 'applied', 'failed', 'stale', 'reverted', "
    "'changes_requested')"
)
STATES = OLD_STATES[:-1] + ", 'superseded')"


def _states(allowed: str) -> None:
    with op.batch_alter_table("plan_cases") as cases:
        cases.drop_constraint(op.f("ck_plan_cases_state"), type_="check")
        cases.create_check_constraint(op.f("ck_plan_cases_state"), f"state IN {allowed}")


def upgrade() -> None:
    _states(STATES)


def downgrade() -> None:
    # A superseded plan was never applied: as the version before this state existed, it was rejected.
    op.execute("UPDATE plan_cases SET state = 'rejected' WHERE state = 'superseded'")
    op.execute("UPDATE plans SET status = 'rejected' WHERE status = 'superseded'")
    _states(OLD_STATES)
