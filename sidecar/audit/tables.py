"""The audit database's tables (SQLAlchemy 2 typed declarative models).

``events`` is the truth: append-only and hash-chained (see ``chain``). Every
other table is a projection of event payloads, kept for indexed queries, and
``pva audit verify`` re-derives and compares it: ``plans`` (``status`` is the
only column ever updated), ``plan_scopes``, ``op_records`` and
``trashed_files`` (only for applies that took effect) and ``approvals``.
Two tables are not projections: ``plan_cases`` and ``tokens`` are updated in
place, and every change to them appends an event in the same transaction
(``pva audit verify`` checks them against those events: ``mutable``).
``apply_locks`` and ``apply_progress`` are no record at all: the replicas'
path locks, and how far each apply has got. All the tables are here, so the
one metadata (what the migrations are compared with) always holds every one.
Times are UTC and timezone-aware. Store paths sort byte-wise on PostgreSQL
(collation "C"), as on SQLite, so a folder's contents are one index range.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from planner.core.states import PlanState
from sidecar.errors import DamagedRow

HEX64 = String(64)
NAME = String(200)
# Byte-wise ordering on both databases: 'a/b' < 'a/b/c' < 'a/b0', so "below a/b" is a range.
PATH = Text().with_variant(Text(collation="C"), "postgresql")
SEQ = BigInteger().with_variant(Integer(), "sqlite")
# A plan state or decision ("changes_requested" is 17 characters). Widened from 16 on PostgreSQL by
# migration 0009; SQLite never enforces a length, and widening there would rebuild the plans table
# that others reference, so it keeps the declared 16.
STATE = String(32).with_variant(String(16), "sqlite")

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
    status: Mapped[str] = mapped_column(STATE)  # the latest status an event gave it

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
    decision: Mapped[str] = mapped_column(STATE)
    comment: Mapped[str] = mapped_column(Text)
    time: Mapped[datetime] = mapped_column(UtcDateTime())

    __table_args__ = (Index(None, "digest", "event_seq"),)


# -- the mutable tables ---------------------------------------------------------
#
# plan_cases: where each submitted plan stands in the workflow. A row holds the
# latest ``workflow.PlanCase`` of one digest, and every change of it appends an
# audit event in the same transaction (``service.cases.SqlCaseStore``), so the
# chain says how the row got here. ``version`` counts the row's updates: a
# writer updates only the version it read (compare-and-swap), so two sidecars
# deciding the same plan at once cannot both win.

STATES = tuple(state.value for state in PlanState)  # the database refuses any other


class PlanCaseRow(Base):
    """One submitted plan's workflow state, its latest verification and the base state it binds to."""

    __tablename__ = "plan_cases"

    digest: Mapped[str] = mapped_column(ForeignKey("plans.digest"), primary_key=True)
    state: Mapped[str] = mapped_column(STATE)
    version: Mapped[int] = mapped_column(Integer)
    author: Mapped[str] = mapped_column(NAME)  # the first submitter (the case lists them all)
    title: Mapped[str] = mapped_column(Text)
    submitted: Mapped[datetime] = mapped_column(UtcDateTime())  # the latest submission
    updated: Mapped[datetime] = mapped_column(UtcDateTime())
    claimed: Mapped[datetime | None] = mapped_column(UtcDateTime())  # when an apply took it
    revert_of: Mapped[str | None] = mapped_column(HEX64)  # the applied plan this one undoes
    case: Mapped[str] = mapped_column(Text)  # JSON: the PlanCase (codec.case_json)
    report: Mapped[str] = mapped_column(Text)  # JSON: the latest verification report (report/v1)
    base: Mapped[str] = mapped_column(Text)  # JSON: the entries the plan was verified against

    __table_args__ = (
        CheckConstraint(f"state IN {STATES!r}", name="state"),
        Index(None, "state", "submitted"),
        Index(None, "author", "submitted"),
        Index(None, "submitted"),
        Index(None, "revert_of"),
    )


# tokens: API tokens of the sidecar, stored as sha256 hashes, never as secrets;
# ``revoked`` and ``last_used`` are updated in place (``sidecar.tokens``).


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
    email: Mapped[str | None] = mapped_column(String(254))  # where pending plans are mailed (approvers)
    # Read and verify only: no submit, upload, apply or revert (tokens handed to sandboxes).
    read_only: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # The groups the person belongs to (JSON array of names): policy owners and group requirements.
    groups: Mapped[str] = mapped_column(Text, default="[]", server_default="[]")

    # The database refuses a role sidecar.tokens.Role does not name (tests check they agree).
    __table_args__ = (
        CheckConstraint("role IN ('agent', 'approver', 'auditor', 'counsel', 'admin')", name="role"),
    )


class BlobRow(Base):
    """An uploaded blob, once per token that uploaded it: the bytes are stored once, at .pva/blobs/SHA256.

    Outside the audit's chain: an upload changes nothing in the store until a
    plan names the blob and is applied (then the apply event records it).
    """

    __tablename__ = "blobs"

    sha256: Mapped[str] = mapped_column(HEX64, primary_key=True)
    token: Mapped[str] = mapped_column(String(16), primary_key=True)  # whose quota it counts against
    actor: Mapped[str] = mapped_column(NAME)
    scopes: Mapped[str] = mapped_column(Text)  # the uploader's scopes, JSON: where plans may use it
    size: Mapped[int] = mapped_column(BigInteger)
    uploaded: Mapped[datetime] = mapped_column(UtcDateTime())

    __table_args__ = (Index(None, "token"), Index(None, "uploaded"))


# apply_locks: the path locks of every replica sharing the database (sidecar.apply.leases); rows
# come and go as locks are taken and released, outside the audit.


class ApplyLockRow(Base):
    """One held lock set: its fencing token, folded paths, holder, and its lease's end."""

    __tablename__ = "apply_locks"

    fence: Mapped[int] = mapped_column(SEQ, primary_key=True, autoincrement=True)  # never reused
    holder: Mapped[str] = mapped_column(NAME)  # host:pid, for people reading the table
    paths: Mapped[str] = mapped_column(Text)  # JSON array of folded store paths
    expires: Mapped[int] = mapped_column(BigInteger)  # microseconds since the epoch, the database's clock

    __table_args__ = ({"sqlite_autoincrement": True},)


# journals, journal_records: the write-ahead journals of applies and of their GCS folder moves, when
# the replicas share the database (sidecar.apply.sqljournals); every write is fenced by the writer's
# apply_locks lease.


class JournalRow(Base):
    """One journal: its name, kind, the fence of its writer's lease, and whether it is retired.

    An apply's is named ``digest.attempt``; a folder move's ``digest.attempt/move/uuid``.
    """

    __tablename__ = "journals"

    name: Mapped[str] = mapped_column(NAME, primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))  # 'apply' or 'move'
    fence: Mapped[int] = mapped_column(SEQ)
    done: Mapped[bool] = mapped_column(Boolean)

    __table_args__ = (Index(None, "kind", "done", "name"),)


class JournalRecordRow(Base):
    """One record of a journal, in order (JSON, as the file journals write a line)."""

    __tablename__ = "journal_records"

    name: Mapped[str] = mapped_column(ForeignKey("journals.name"), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    body: Mapped[str] = mapped_column(Text)


# apply_progress: how far each apply has got (sidecar.apply.progress), posted by whichever replica
# runs it and read by whichever serves the plan; no record either, the latest post only.


class ApplyProgressRow(Base):
    """The latest progress an apply posted: ops and store objects done of their totals."""

    __tablename__ = "apply_progress"

    digest: Mapped[str] = mapped_column(HEX64, primary_key=True)
    ops_done: Mapped[int] = mapped_column(Integer)
    ops_total: Mapped[int] = mapped_column(Integer)
    objects_done: Mapped[int] = mapped_column(BigInteger)
    objects_total: Mapped[int] = mapped_column(BigInteger)
    updated: Mapped[datetime] = mapped_column(UtcDateTime())


# watch_files, watch_marks: what `pva watch` last saw of the store (sidecar.service.watch), the
# baseline its next scan compares with. Not a record: the truth is the outside_change events;
# losing these tables costs one scan that records nothing and starts a new baseline.


class WatchFileRow(Base):
    """A file as the last watch scan saw it (or as an apply since left it)."""

    __tablename__ = "watch_files"

    store: Mapped[str] = mapped_column(String(1000), primary_key=True)  # Backend.name
    path: Mapped[str] = mapped_column(PATH, primary_key=True)
    size: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    sha256: Mapped[str | None] = mapped_column(HEX64, nullable=True)
    generation: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class WatchMarkRow(Base):
    """The audit seq a store's baseline reflects: applies after it are replayed onto it at the next scan."""

    __tablename__ = "watch_marks"

    store: Mapped[str] = mapped_column(String(1000), primary_key=True)
    seq: Mapped[int] = mapped_column(SEQ)
    scans: Mapped[int] = mapped_column(
        BigInteger
    )  # settled scans: a scan settles only if none did since it read


# outbox, webhooks, deliveries: notifications (sidecar.notify). An outbox row is written in the
# transaction that changes a plan's case (so none is lost and none is sent for a change that rolled
# back); a worker fans it out into deliveries, one per (event, channel, target), and sends them.


class OutboxRow(Base):
    """One event to tell people about (``plan.pending``...): what it says, and the paths it concerns."""

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(SEQ, primary_key=True, autoincrement=True)
    time: Mapped[datetime] = mapped_column(UtcDateTime())
    kind: Mapped[str] = mapped_column(String(32))
    digest: Mapped[str] = mapped_column(HEX64)
    paths: Mapped[str] = mapped_column(Text)  # JSON: every path the plan names (who may hear of it)
    authors: Mapped[str] = mapped_column(Text)  # JSON: the plan's authors (never mailed to approve it)
    payload: Mapped[str] = mapped_column(Text)  # JSON: the notice (notify.notices.Notice)
    dispatched: Mapped[datetime | None] = mapped_column(UtcDateTime())  # fanned out into deliveries

    __table_args__ = (Index(None, "dispatched", "id"), {"sqlite_autoincrement": True})


class WebhookRow(Base):
    """A URL told of events: which kinds, within which scopes, signed with its secret."""

    __tablename__ = "webhooks"

    id: Mapped[str] = mapped_column(String(16), primary_key=True)  # "whk_" and 12 hex digits
    url: Mapped[str] = mapped_column(Text)
    events: Mapped[str] = mapped_column(Text)  # JSON array of event kinds
    scopes: Mapped[str] = mapped_column(Text)  # JSON array of store paths, or ["*"]
    format: Mapped[str] = mapped_column(String(8))  # 'json' or 'slack'
    # Kept in clear: the sidecar signs each delivery with it (HMAC), so it cannot keep only a hash.
    secret: Mapped[str] = mapped_column(String(100))
    created: Mapped[datetime] = mapped_column(UtcDateTime())
    created_by: Mapped[str] = mapped_column(NAME)
    removed: Mapped[datetime | None] = mapped_column(UtcDateTime())


class DeliveryRow(Base):
    """One event sent (or to send) to one target: a webhook, or an e-mail address."""

    __tablename__ = "deliveries"

    id: Mapped[str] = mapped_column(String(24), primary_key=True)  # "dlv_" and 16 hex digits
    event_id: Mapped[int] = mapped_column(ForeignKey("outbox.id"))
    channel: Mapped[str] = mapped_column(String(8))  # 'webhook' or 'mail'
    target: Mapped[str] = mapped_column(String(254))  # the webhook's id, or the address
    status: Mapped[str] = mapped_column(String(12))  # pending, delivered, failed (gave up)
    attempts: Mapped[int] = mapped_column(Integer)
    next_at: Mapped[datetime] = mapped_column(UtcDateTime())  # not tried again before
    claim: Mapped[str | None] = mapped_column(String(32))  # the worker trying it now, until lease_until
    lease_until: Mapped[datetime | None] = mapped_column(UtcDateTime())
    last_status: Mapped[int | None] = mapped_column(Integer)  # the HTTP status or SMTP code of the last try
    last_error: Mapped[str | None] = mapped_column(Text)
    created: Mapped[datetime] = mapped_column(UtcDateTime())
    delivered: Mapped[datetime | None] = mapped_column(UtcDateTime())

    __table_args__ = (
        UniqueConstraint("event_id", "channel", "target"),  # one delivery per event and target, ever
        Index(None, "status", "channel", "next_at"),
        Index(None, "target", "created"),
    )


# holds: legal holds (sidecar.holds); ``released``, ``released_by`` and ``release_reason`` are set
# in place when counsel releases one, with a 'hold_released' event in the same transaction (``mutable``).
# ``bucket`` is no record: whether the store's own holds caught up with the row (null: not yet).


class HoldRow(Base):
    """One legal hold: the paths it preserves, its matter and reason, who placed and who released it."""

    __tablename__ = "holds"

    id: Mapped[str] = mapped_column(String(17), primary_key=True)  # "hold_" and 12 hex digits
    matter: Mapped[str] = mapped_column(NAME)
    reason: Mapped[str] = mapped_column(Text)
    paths: Mapped[str] = mapped_column(Text)  # JSON array of store paths, sorted, none inside another
    placed: Mapped[datetime] = mapped_column(UtcDateTime())
    placed_by: Mapped[str] = mapped_column(NAME)
    released: Mapped[datetime | None] = mapped_column(UtcDateTime())
    released_by: Mapped[str | None] = mapped_column(NAME)
    release_reason: Mapped[str | None] = mapped_column(Text)
    # 'held' or 'cleared' once the bucket's temporary holds match the row, 'none' for a store without
    # them; null while that is still to do (a crash in between: the sweep finishes it).
    bucket: Mapped[str | None] = mapped_column(String(8))

    __table_args__ = (Index(None, "released", "placed"), Index(None, "bucket"))


# The Core tables of the mapped classes: hot paths (every read's and submit's statements) run Core
# statements on the session's connection, which costs a fraction of the ORM's bulk-insert path.
EVENTS: Table = EventRow.__table__  # type: ignore[assignment]
PLANS: Table = PlanRow.__table__  # type: ignore[assignment]
SCOPES: Table = PlanScopeRow.__table__  # type: ignore[assignment]
OPS: Table = OpRecordRow.__table__  # type: ignore[assignment]
TRASHED: Table = TrashedFileRow.__table__  # type: ignore[assignment]
APPROVALS: Table = ApprovalRow.__table__  # type: ignore[assignment]
CASES: Table = PlanCaseRow.__table__  # type: ignore[assignment]
TOKENS: Table = TokenRow.__table__  # type: ignore[assignment]
OUTBOX: Table = OutboxRow.__table__  # type: ignore[assignment]
HOLDS: Table = HoldRow.__table__  # type: ignore[assignment]
