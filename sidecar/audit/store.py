"""``SqlAuditStore``: the audit log on SQLAlchemy (SQLite or PostgreSQL), and its query side.

Each write is one transaction that appends one event under the chain's lock
(``sidecar.db.appending``) and projects its payload into the indexed tables.
Opening a store checks the schema once: an unmigrated database is refused.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, TextIO

from sqlalchemy import Engine, Select, and_, bindparam, exists, insert, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import BindParameter

from planner.core.plan import Plan
from sidecar import db
from sidecar.audit import chain, payloads
from sidecar.audit.chain import Break, Link
from sidecar.audit.export import write_csv, write_jsonl
from sidecar.audit.group import GroupCommit
from sidecar.audit.history import Who, ancestry
from sidecar.audit.history import history as walk_history
from sidecar.audit.integrity import check, stream_links
from sidecar.audit.records import ApplyRecord, Incident, covers, inside
from sidecar.audit.tables import (
    EVENTS,
    OPS,
    PLANS,
    SCOPES,
    TRASHED,
    ApprovalRow,
    BlobRow,
    EventRow,
    OpRecordRow,
    PlanRow,
    PlanScopeRow,
    TrashedFileRow,
)
from sidecar.audit.views import (
    OP_VIEW_COLUMNS,
    Approval,
    ChainReport,
    EventView,
    History,
    OpView,
    PlanDetail,
    PlanSummary,
    parse_payload,
)
from sidecar.errors import UnknownPlan


class SqlAuditStore(db.SqlStore):
    """The audit database: ``AuditLog`` for the apply engine, queries for auditors."""

    def __init__(self, engine: Engine, *, clock: db.Clock = db.utc_now) -> None:
        super().__init__(engine, clock=clock)
        self._grouped = GroupCommit(lambda: db.appending(self._sessions))

    # -- writing (AuditLog) ------------------------------------------------

    def record_plan(self, plan: Plan, *, author: str) -> None:
        """Record a plan's body and author; recording the same digest again does nothing."""
        with db.appending(self._sessions) as session:
            insert_plan(session, self._clock(), plan, author=author)

    def record_apply(self, record: ApplyRecord) -> None:
        """One 'apply' event, its op_records and trashed_files rows, and the plan's new status.

        Idempotent by ``record.attempt``: recovery may record again an outcome
        the crashed process had already recorded; it counts once.
        """
        with db.appending(self._sessions) as session:
            if session.get(PlanRow, record.digest) is None:
                raise UnknownPlan(f"no plan {record.digest} is recorded; record it before its apply")
            if record.attempt and record.attempt in _attempts(session, record.digest):
                return
            payload = payloads.apply_payload(record)
            link = self._append(session, record.digest, record.actor, payload)
            insert_projections(session, link, payload)

    def record_incident(self, incident: Incident) -> None:
        with db.appending(self._sessions) as session:
            payload = payloads.incident_payload(incident)
            self._append(session, incident.digest, payloads.SYSTEM_ACTOR, payload)

    def record_read(self, read: payloads.DocumentRead, *, actor: str) -> None:
        """A 'read' event: ``actor`` read (part of) a document through the sidecar.

        Durable when this returns; concurrent reads share a transaction (``GroupCommit``).
        """
        self._grouped.run(lambda session: self._append(session, None, actor, read))

    def _append(self, session: Session, digest: str | None, actor: str, payload: payloads.Payload) -> Link:
        kind = payloads.kind_of(payload)
        return append_event(session, self._clock(), kind=kind, digest=digest, actor=actor, payload=payload)

    # -- reading for the engine ----------------------------------------------

    def outcome(self, digest: str) -> ApplyRecord | None:
        """The terminal outcome of the last apply of this plan, rebuilt from its event."""
        query = (
            select(EventRow.actor, EventRow.payload)
            .where(EventRow.digest == digest, EventRow.kind == "apply")
            .order_by(EventRow.seq.desc())
            .limit(1)
        )
        with self._sessions() as session:
            row = session.execute(query).first()
        return None if row is None else payloads.apply_record(digest, row.actor, parse_payload(row.payload))

    def trash_locations(self, sha256: str, *, within: Sequence[str] | None = None) -> list[str]:
        """Reserved paths of trashed files with this content, newest first (for content_ref).

        ``within``: only those trashed from inside one of these subtrees.
        """
        query = (
            select(TrashedFileRow.path, TrashedFileRow.trash)
            .where(TrashedFileRow.sha256 == sha256)
            .order_by(TrashedFileRow.event_seq.desc(), TrashedFileRow.ordinal.desc())
        )
        with self._sessions() as session:
            return [trash for path, trash in session.execute(query) if inside(path, within)]

    def blob_size(self, sha256: str, *, within: Sequence[str] | None = None) -> int | None:
        """The size of the newest trashed file with this content (``within`` as above), if any is known.

        Else of an uploaded blob (``POST /v1/blobs``) whose uploader's scopes
        cover every root of ``within``: content uploaded from one matter is
        not for a plan in another.
        """
        query = (
            select(TrashedFileRow.path, TrashedFileRow.size)
            .where(TrashedFileRow.sha256 == sha256, TrashedFileRow.size.is_not(None))
            .order_by(TrashedFileRow.event_seq.desc(), TrashedFileRow.ordinal.desc())
        )
        uploads = select(BlobRow.scopes, BlobRow.size).where(BlobRow.sha256 == sha256)
        with self._sessions() as session:
            trashed = next((size for path, size in session.execute(query) if inside(path, within)), None)
            if trashed is not None:
                return trashed
            return next((size for scopes, size in session.execute(uploads) if covers(scopes, within)), None)

    # -- queries ------------------------------------------------------------------

    def list_plans(
        self,
        *,
        status: str | None = None,
        author: str | None = None,
        path: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[PlanSummary]:
        """Plans, newest first; ``path`` keeps those whose scope holds it or lies inside it."""
        query = select(PlanRow).order_by(PlanRow.created.desc(), PlanRow.digest)
        if status is not None:
            query = query.where(PlanRow.status == status)
        if author is not None:
            query = query.where(PlanRow.author == author)
        if path is not None:
            query = query.where(
                exists().where(PlanScopeRow.digest == PlanRow.digest, overlaps(PlanScopeRow.root, path))
            )
        with self._sessions() as session:
            return [_summary(row) for row in session.scalars(query.limit(limit).offset(offset))]

    def resolve(self, prefix: str) -> str:
        """The digest of the one recorded plan starting with ``prefix`` (at least 4 hex digits)."""
        if not (4 <= len(prefix) <= 64 and all(c in "0123456789abcdef" for c in prefix)):
            raise UnknownPlan(f"{prefix!r} is not a plan digest (4 to 64 lowercase hex digits)")
        query = select(PlanRow.digest).where(PlanRow.digest.startswith(prefix, autoescape=True)).limit(2)
        with self._sessions() as session:
            found = list(session.scalars(query))
        if not found:
            raise UnknownPlan(
                f"no plan with digest {prefix}"
                if len(prefix) == 64
                else f"no recorded plan's digest starts {prefix}"
            )
        if len(found) > 1:
            raise UnknownPlan(f"several recorded plans' digests start {prefix}: give more of it")
        return found[0]

    def plan(self, digest: str) -> Plan:
        """The recorded plan with this digest; UnknownPlan if it was never recorded."""
        with self._sessions() as session:
            body = session.scalar(select(PlanRow.body).where(PlanRow.digest == digest))
        if body is None:
            raise UnknownPlan(f"no plan with digest {digest}")
        return Plan.model_validate(json.loads(body))

    def show(self, digest: str) -> PlanDetail:
        """A plan with its body, its events and its approvals; UnknownPlan if it was never recorded."""
        with self._sessions() as session:
            row = session.get(PlanRow, digest)
            if row is None:
                raise UnknownPlan(f"no plan with digest {digest}")
            events = session.scalars(select(EventRow).where(EventRow.digest == digest).order_by(EventRow.seq))
            approvals = session.scalars(
                select(ApprovalRow).where(ApprovalRow.digest == digest).order_by(ApprovalRow.event_seq)
            )
            return PlanDetail(
                _summary(row),
                parse_payload(row.body),
                tuple(_event_view(event) for event in events),
                tuple(Approval(a.approver, a.decision, a.comment, a.time) for a in approvals),
            )

    def plan_ops(self, digest: str) -> list[OpView]:
        """The ops of a plan's applies that took effect, in order."""
        query = _OPS.where(_OP.digest == digest).order_by(_OP.ordinal, _OP.event_seq)
        with self._sessions() as session:
            return [OpView(*row) for row in session.execute(query)]

    def history(self, path: str) -> History:
        """The chain of custody of the document at ``path`` (see ``sidecar.audit.history``)."""
        with self._sessions() as session:
            return walk_history(
                path, lambda names: _ops_at(session, names), lambda ops: _details(session, ops)
            )

    def events(
        self,
        *,
        path: str | None = None,
        digest: str | None = None,
        actor: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        after: int = 0,
        limit: int = 1000,
    ) -> list[EventView]:
        """Events in chain order after seq ``after``; ``path``: applies whose ops touched it, or near it."""
        query = select(EventRow).where(EventRow.seq > after).order_by(EventRow.seq).limit(limit)
        if path is not None:
            query = query.where(EventRow.seq.in_(_events_touching(path)))
        for column, value in ((EventRow.digest, digest), (EventRow.actor, actor)):
            if value is not None:
                query = query.where(column == value)
        if since is not None:
            query = query.where(EventRow.time >= since)
        if until is not None:
            query = query.where(EventRow.time < until)
        with self._sessions() as session:
            return [_event_view(row) for row in session.scalars(query)]

    def incidents(self, digest: str) -> list[EventView]:
        """The incidents recorded while applying this plan (altered stored copies, failed read-backs)."""
        query = select(EventRow).where(EventRow.digest == digest, EventRow.kind == "incident")
        with self._sessions() as session:
            return [_event_view(row) for row in session.scalars(query.order_by(EventRow.seq).limit(100))]

    # -- integrity and export -----------------------------------------------

    def check_chain(self) -> ChainReport:
        """Check every event's link and every projected row against its event."""
        with self._sessions() as session:
            return check(session)

    def verify_chain(self) -> Break | None:
        """None when the audit is intact, else the first broken link."""
        return self.check_chain().broken

    def links(self) -> Iterator[Link]:
        """Every event, in chain order, streamed a page at a time."""
        with self._sessions() as session:
            yield from stream_links(session)

    def export(self, out: TextIO, *, fmt: str = "jsonl") -> int:
        """Write every event (JSON lines, or CSV with the payload as JSON text); return the count."""
        writers = {"jsonl": write_jsonl, "csv": write_csv}
        if fmt not in writers:
            raise ValueError(f"unknown export format {fmt!r}: jsonl or csv")
        return writers[fmt](out, self.links())


_LAST_EVENT = select(EVENTS.c.seq, EVENTS.c.hash).order_by(EVENTS.c.seq.desc()).limit(1)
# Where a session remembers the (seq, hash) it appended last, so the next append in the same
# transaction need not read it back (GroupCommit's batches append two events a submit).
# A rolled-back savepoint forgets it (``GroupCommit``); a rolled-back transaction ends the session.
LAST_APPENDED = "pva.last_appended"


def append_event(
    session: Session,
    time: datetime,
    *,
    kind: payloads.EventKind,
    digest: str | None,
    actor: str,
    payload: payloads.Payload | Mapping[str, Any],
) -> Link:
    """Append the next event of the chain; ``session`` must hold the chain's lock (``db.appending``).

    ``payload`` is typed, or already its JSON (``payloads.encode``'s form) where a
    caller builds it as such (the plan service's workflow and approval events).
    """
    connection = session.connection()  # Core statements: an append runs on every read and submit
    last = session.info.get(LAST_APPENDED)  # this transaction's last append: the lock is held throughout
    if last is None:
        row = connection.execute(_LAST_EVENT).first()
        last = (0, chain.GENESIS) if row is None else (row.seq, row.hash)
    seq, prev = last[0] + 1, last[1]
    if time.tzinfo is None:
        raise ValueError("the audit clock must return timezone-aware times")
    body = dict(payload) if isinstance(payload, Mapping) else payloads.encode(payload)
    link = chain.make_link(
        seq=seq, time=time.astimezone(UTC), kind=kind, digest=digest, actor=actor, payload=body, prev=prev
    )
    connection.execute(insert(EVENTS), event_row(link))
    session.info[LAST_APPENDED] = (link.seq, link.hash)
    return link


def insert_plan(session: Session, time: datetime, plan: Plan, *, author: str) -> None:
    """Record a plan's body and author (``record_plan``) in a session holding the chain's lock.

    Recording the same digest again does nothing.
    """
    digest, connection = plan.digest(), session.connection()
    if connection.execute(select(PLANS.c.digest).where(PLANS.c.digest == digest)).first() is not None:
        return
    payload = payloads.plan_payload(plan.title, author=author)
    link = append_event(
        session, time, kind=payloads.kind_of(payload), digest=digest, actor=author, payload=payload
    )
    body = plan.canonical_json().decode("utf-8")
    connection.execute(insert(PLANS), payloads.plan_row(digest, body, payload, link.time))
    connection.execute(insert(SCOPES), payloads.scope_rows(digest, plan.scope))


def event_row(link: Link) -> dict[str, Any]:
    """The events table's columns are the link's fields."""
    return {name: getattr(link, name) for name in Link.__slots__}


def insert_projections(session: Session, link: Link, payload: payloads.ApplyOutcome) -> None:
    """The rows an 'apply' event projects: its ops, its trashed files, its plan's status."""
    assert link.digest is not None
    connection = session.connection()  # Core statements: an apply of 10,000 ops inserts 10,000 rows
    ops = payloads.op_rows(link.seq, link.digest, link.time, payload)
    if ops:
        connection.execute(insert(OPS), ops)
    trashed = payloads.trashed_rows(link.seq, link.digest, payload)
    if trashed:
        connection.execute(insert(TRASHED), trashed)
    connection.execute(update(PLANS).where(PLANS.c.digest == link.digest).values(status=payload.status))


def _attempts(session: Session, digest: str) -> set[str]:
    """The attempts of a plan's recorded applies (a plan has few: read their payloads)."""
    query = select(EventRow.payload).where(EventRow.digest == digest, EventRow.kind == "apply")
    return {payloads.apply_outcome(parse_payload(payload)).attempt for payload in session.scalars(query)}


def overlaps(column: Any, path: str) -> Any:
    """``column`` is ``path``, a folder above it, or a path below it (a byte-wise range)."""
    return or_(column.in_(ancestry(path)), and_(column > path + "/", column < path + "0"))


def _events_touching(path: str) -> Select[int]:
    ops = OpRecordRow
    return select(ops.event_seq).where(or_(overlaps(ops.path, path), overlaps(ops.src, path))).distinct()


_OP = OPS.c
# The history walk's one query per new name: ops whose path or src is one of the names (two indexes).
# Built once: constructing a statement costs more than running it.
_NAMES: BindParameter[list[str]] = bindparam("names", expanding=True)
_OPS = select(*(_OP[name] for name in OP_VIEW_COLUMNS))
_OPS_AT = _OPS.where(or_(_OP.path.in_(_NAMES), _OP.src.in_(_NAMES)))
_ACTORS = select(EventRow.seq, EventRow.actor).where(EventRow.seq.in_(bindparam("seqs", expanding=True)))
_PLANS = select(PlanRow.digest, PlanRow.title, PlanRow.author).where(
    PlanRow.digest.in_(bindparam("digests", expanding=True))
)


def _ops_at(session: Session, names: Sequence[str]) -> list[OpView]:
    return [OpView(*row) for row in session.execute(_OPS_AT, {"names": list(names)})]


def _details(session: Session, ops: Sequence[OpView]) -> dict[tuple[int, int], Who]:
    """Who submitted, applied and approved each op's plan: three queries for the whole history."""
    if not ops:
        return {}
    seqs, digests = sorted({op.seq for op in ops}), sorted({op.digest for op in ops})
    actors: dict[int, str] = dict(session.execute(_ACTORS, {"seqs": seqs}).all())
    plans = {
        digest: (title, author) for digest, title, author in session.execute(_PLANS, {"digests": digests})
    }
    approvers = _approvers(session, set(digests))
    return {op.position: Who(*plans[op.digest], actors[op.seq], approvers.get(op.digest, ())) for op in ops}


def _approvers(session: Session, digests: set[str]) -> dict[str, tuple[str, ...]]:
    query = (
        select(ApprovalRow.digest, ApprovalRow.approver)
        .where(ApprovalRow.digest.in_(sorted(digests)), ApprovalRow.decision == "approved")
        .order_by(ApprovalRow.event_seq)
    )
    found: dict[str, tuple[str, ...]] = {}
    for digest, approver in session.execute(query):
        found[digest] = (*found.get(digest, ()), approver)
    return found


def _summary(row: PlanRow) -> PlanSummary:
    return PlanSummary(row.digest, row.title, row.author, row.status, row.created)


def _event_view(row: EventRow) -> EventView:
    return EventView(
        row.seq,
        row.time,
        row.kind,
        row.digest,
        row.actor,
        parse_payload(row.payload),
        row.prev_hash,
        row.hash,
    )
