"""Tokens' groups: the approver groups a person belongs to (policy owners and group requirements).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("tokens") as batch:
        batch.add_column(sa.Column("groups", sa.Text(), nullable=False, server_default="[]"))  # a JSON array


def downgrade() -> None:
    with op.batch_alter_table("tokens") as batch:
        batch.drop_column("groups")
