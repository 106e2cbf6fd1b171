"""Legal holds: the holds table, and the role 'counsel' that places them.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the models' types: a migration must not change when the models do.
TIME = sa.DateTime(timezone=True)
NAME = sa.String(length=200)
ROLES_BEFORE = "role IN ('agent', 'approver', 'auditor', 'admin')"
ROLES_AFTER = "role IN ('agent', 'approver', 'auditor', 'counsel', 'admin')"


def upgrade() -> None:
    op.create_table(
        "holds",
        sa.Column("id", sa.String(length=17), nullable=False),
        sa.Column("matter", NAME, nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("paths", sa.Text(), nullable=False),
        sa.Column("placed", TIME, nullable=False),
        sa.Column("placed_by", NAME, nullable=False),
        sa.Column("released", TIME, nullable=True),
        sa.Column("released_by", NAME, nullable=True),
        sa.Column("release_reason", sa.Text(), nullable=True),
        sa.Column("bucket", sa.String(length=8), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_holds")),
    )
    op.create_index(op.f("ix_holds_released_placed"), "holds", ["released", "placed"])
    op.create_index(op.f("ix_holds_bucket"), "holds", ["bucket"])
    _roles(ROLES_AFTER)


def downgrade() -> None:
    counsel = op.get_bind().execute(sa.text("SELECT count(*) FROM tokens WHERE role = 'counsel'")).scalar()
    if counsel:  # deleting them would break the audit (their 'token' events would have no row)
        raise RuntimeError(f"{counsel} token(s) have the role counsel, which the schema before 0006 lacks")
    _roles(ROLES_BEFORE)
    op.drop_index(op.f("ix_holds_bucket"), table_name="holds")
    op.drop_index(op.f("ix_holds_released_placed"), table_name="holds")
    op.drop_table("holds")


def _roles(check: str) -> None:
    # SQLite cannot alter a constraint: batch mode copies the table with the new one.
    with op.batch_alter_table("tokens", recreate="auto") as batch:
        batch.drop_constraint(op.f("ck_tokens_role"), type_="check")
        batch.create_check_constraint(op.f("ck_tokens_role"), sa.text(check))
