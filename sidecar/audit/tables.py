"""The audit database's tables (SQLAlchemy 2 typed declarative models).

``events`` is the truth: append-only and hash-chained (see ``chain``). Every
other table is a projection of event payloads, kept for indexed queries, and
``pva audit verify`` re-derives and compares it: ``plans`` (``status`` is the
only column ever updated), ``plan_scopes``, ``op_records`` and
``trashed_files`` (only for applies that took effect) and ``approvals``.
Times are UTC and timezone-aware. Store paths sort byte-wise on PostgreSQL
(collation "C"), as on SQLite, so a folder's contents are one index range.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from sidecar.errors import DamagedRow

HEX64 = String(64)
NAME = String(200)
# Byte-wise ordering on both databases: 'a/b' < 'a/b/c' < 'a/b0', so "below a/b" is a range.
PATH = Text().with_variant(Text(collation="C"), "postgresql")
SEQ = BigInteger().with_variant(Integer(), "sqlite")

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every database (SQLite stores it naive, as UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("audit times must be timezone-aware")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def result_processor(self, dialect: Dialect, coltype: object) -> Callable[[Any], datetime | None]:
        """The column's reader; a stored value that is no time (edited behind pva's back) is DamagedRow."""
        read = super().result_processor(dialect, coltype)

        def process(value: Any) -> datetime | None:
            try:
                return value if read is None else read(value)
            except ValueError:
                raise DamagedRow(None, f"a stored time is {str(value)[:40]!r}, which is not a time") from None

        return process

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:  # noqa: ARG002  # SQLAlchemy's signature
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    """The audit tables, with constraint names that migrations can rely on."""

    metadata = MetaData(naming_convention=NAMING)


class EventRow(Base):
    """One link of the chain: hash = sha256(canonical(seq, time, kind, digest, actor, payload, prev_hash))."""

    __tablename__ = "events"

    seq: Mapped[int] = mapped_column(SEQ, primary_key=True, autoincrement=False)
    time: Mapped[datetime] = mapped_column(UtcDateTime())
    kind: Mapped[str] = mapped_column(String(32))
    digest: Mapped[str | None] = mapped_column(HEX64)
    actor: Mapped[str] = mapped_column(NAME)
    payload: Mapped[str] = mapped_column(Text)  # canonical JSON: sorted keys, compact, UTF-8
    prev_hash: Mapped[str] = mapped_column(HEX64)
    hash: Mapped[str] = mapped_column(HEX64, unique=True)

    __table_args__ = (
        Index(None, "digest", "seq"),
        Index(None, "actor", "seq"),
        Index(None, "time"),
    )


class PlanRow(Base):
    """A recorded plan; ``body`` is its canonical JSON, whose sha256 is ``digest``."""

    __tablename__ = "plans"

    digest: Mapped[str] = mapped_column(HEX64, primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    author: Mapped[str] = mapped_column(NAME)
    body: Mapped[str] = mapped_column(Text)
    created: Mapped[datetime] = mapped_column(UtcDateTime())
    status: Mapped[str] = mapped_column(String(16))  # the latest status an event gave it

    __table_args__ = (
        Index(None, "status", "created"),
        Index(None, "author", "created"),
        Index(None, "created"),
    )


class PlanScopeRow(Base):
    """One root of a plan's scope, so plans can be listed by the paths they may touch."""

    __tablename__ = "plan_scopes"

    digest: Mapped[str] = mapped_column(ForeignKey("plans.digest"), primary_key=True)
    root: Mapped[str] = mapped_column(PATH, primary_key=True)

    __table_args__ = (Index(None, "root"),)


class OpRecordRow(Base):
    """One op of an apply that took effect (``ordinal``: its position in the apply event's ops)."""

    __tablename__ = "op_records"

    event_seq: Mapped[int] = mapped_column(ForeignKey("events.seq"), primary_key=True)
    ordinal: Mapped[int] = mapped_column(Integer, primary_key=True)
    digest: Mapped[str] = mapped_column(HEX64)
    time: Mapped[datetime] = mapped_column(UtcDateTime())
    op_index: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(8))
    path: Mapped[str] = mapped_column(PATH)
    src: Mapped[str | None] = mapped_column(PATH)
    before_sha256: Mapped[str | None] = mapped_column(HEX64)
    before_size: Mapped[int | None] = mapped_column(BigInteger)
    after_sha256: Mapped[str | None] = mapped_column(HEX64)
    after_size: Mapped[int | None] = mapped_column(BigInteger)
    trash: Mapped[str | None] = mapped_column(PATH)

    __table_args__ = (
        Index(None, "path"),
        Index(None, "src"),
        Index(None, "digest", "ordinal"),
        Index(None, "time"),
    )


class TrashedFileRow(Base):
    """A file an apply that took effect moved to the trash (itself, or inside a trashed folder)."""

    __tablename__ = "trashed_files"

    event_seq: Mapped[int] = mapped_column(ForeignKey("events.seq"), primary_key=True)
    ordinal: Mapped[int] = mapped_column(Integer, primary_key=True)
    digest: Mapped[str] = mapped_column(HEX64)
    path: Mapped[str] = mapped_column(PATH)
    trash: Mapped[str] = mapped_column(PATH)
    sha256: Mapped[str | None] = mapped_column(HEX64)
    size: Mapped[int | None] = mapped_column(BigInteger)

    __table_args__ = (
        Index(None, "sha256", "event_seq"),
        Index(None, "path"),
    )


class ApprovalRow(Base):
    """A human or policy decision on a plan, from its 'approval' event (filled by a later issue)."""

    __tablename__ = "approvals"

    event_seq: Mapped[int] = mapped_column(ForeignKey("events.seq"), primary_key=True)
    digest: Mapped[str] = mapped_column(HEX64)
    approver: Mapped[str] = mapped_column(NAME)
    decision: Mapped[str] = mapped_column(String(16))
    comment: Mapped[str] = mapped_column(Text)
    time: Mapped[datetime] = mapped_column(UtcDateTime())

    __table_args__ = (Index(None, "digest", "event_seq"),)
