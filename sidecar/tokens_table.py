"""The ``tokens`` table: API tokens of the sidecar, stored as sha256 hashes, never as secrets.

It shares the audit tables' declarative ``Base`` (one metadata, one migration
history) but is not part of the hash chain: ``revoked`` and ``last_used`` are
updated in place. ``sidecar.db`` imports this module so the shared metadata
always holds it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from sidecar.audit.tables import HEX64, NAME, Base, UtcDateTime


class TokenRow(Base):
    """One token: who it names, its role and scopes, and the sha256 of its secret."""

    __tablename__ = "tokens"

    id: Mapped[str] = mapped_column(String(16), primary_key=True)  # "tok_" and 12 hex digits
    # Unique forever, revoked tokens included: the name is the actor the audit records.
    name: Mapped[str] = mapped_column(NAME, unique=True)
    role: Mapped[str] = mapped_column(String(16))
    scopes: Mapped[str] = mapped_column(Text)  # JSON array of store paths, or ["*"] for the whole store
    secret_sha256: Mapped[str] = mapped_column(HEX64, unique=True)  # the lookup key of authentication
    created: Mapped[datetime] = mapped_column(UtcDateTime())
    created_by: Mapped[str] = mapped_column(NAME)
    expires: Mapped[datetime | None] = mapped_column(UtcDateTime())
    last_used: Mapped[datetime | None] = mapped_column(UtcDateTime())
    revoked: Mapped[datetime | None] = mapped_column(UtcDateTime())
    revoked_by: Mapped[str | None] = mapped_column(NAME)

    # The database refuses a role sidecar.tokens.Role does not name (tests check they agree).
    __table_args__ = (CheckConstraint("role IN ('agent', 'approver', 'auditor', 'admin')", name="role"),)
