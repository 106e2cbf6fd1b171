"""Notifications and requests for changes.

The outbox of plan events, webhooks and their deliveries; approvers' e-mail
addresses; the plan state ``changes_requested``.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the models' types: a migration must not change when the models do.
SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TIME = sa.DateTime(timezone=True)
HEX64 = sa.String(length=64)
NAME = sa.String(length=200)
OLD_STATES = "('pending', 'approved', 'rejected', 'applying', 'applied', 'failed', 'stale', 'reverted')"
STATES = OLD_STATES[:-1] + ", 'changes_requested')"


def _states(allowed: str) -> None:
    with op.batch_alter_table("plan_cases") as cases:
        cases.drop_constraint(op.f("ck_plan_cases_state"), type_="check")
        cases.create_check_constraint(op.f("ck_plan_cases_state"), f"state IN {allowed}")


def _widths(length: int) -> None:
    """Plan states and decisions of ``length`` characters on PostgreSQL ("changes_requested" has 17).

    SQLite never enforces a length; widening there would rebuild ``plans``, which other tables reference.
    """
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, column in (("plans", "status"), ("plan_cases", "state"), ("approvals", "decision")):
        op.alter_column(table, column, type_=sa.String(length=length), existing_nullable=False)


def upgrade() -> None:
    _widths(32)
    _states(STATES)  # a person may ask for changes: a state of its own
    with op.batch_alter_table("tokens") as tokens:
        tokens.add_column(sa.Column("email", sa.String(length=254), nullable=True))
    op.create_table(
        "outbox",
        sa.Column("id", SEQ, autoincrement=True, nullable=False),
        sa.Column("time", TIME, nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("digest", HEX64, nullable=False),
        sa.Column("paths", sa.Text(), nullable=False),
        sa.Column("authors", sa.Text(), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("dispatched", TIME, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f("ix_outbox_dispatched_id"), "outbox", ["dispatched", "id"])
    op.create_table(
        "webhooks",
        sa.Column("id", sa.String(length=16), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("events", sa.Text(), nullable=False),
        sa.Column("scopes", sa.Text(), nullable=False),
        sa.Column("format", sa.String(length=8), nullable=False),
        sa.Column("secret", sa.String(length=100), nullable=False),
        sa.Column("created", TIME, nullable=False),
        sa.Column("created_by", NAME, nullable=False),
        sa.Column("removed", TIME, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhooks")),
    )
    op.create_table(
        "deliveries",
        sa.Column("id", sa.String(length=24), nullable=False),
        sa.Column("event_id", SEQ, nullable=False),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("target", sa.String(length=254), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_at", TIME, nullable=False),
        sa.Column("claim", sa.String(length=32), nullable=True),
        sa.Column("lease_until", TIME, nullable=True),
        sa.Column("last_status", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created", TIME, nullable=False),
        sa.Column("delivered", TIME, nullable=True),
        sa.ForeignKeyConstraint(["event_id"], ["outbox.id"], name=op.f("fk_deliveries_event_id_outbox")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deliveries")),
        sa.UniqueConstraint(
            "event_id", "channel", "target", name=op.f("uq_deliveries_event_id_channel_target")
        ),
    )
    op.create_index(
        op.f("ix_deliveries_status_channel_next_at"), "deliveries", ["status", "channel", "next_at"]
    )
    op.create_index(op.f("ix_deliveries_target_created"), "deliveries", ["target", "created"])


def downgrade() -> None:
    op.drop_table("deliveries")
    op.drop_table("webhooks")
    op.drop_table("outbox")
    with op.batch_alter_table("tokens") as tokens:
        tokens.drop_column("email")
    op.execute("UPDATE plan_cases SET state = 'rejected' WHERE state = 'changes_requested'")
    op.execute("UPDATE plans SET status = 'rejected' WHERE status = 'changes_requested'")
    op.execute("UPDATE approvals SET decision = 'rejected' WHERE decision = 'changes_requested'")
    _states(OLD_STATES)
    _widths(16)
