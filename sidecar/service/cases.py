"""``SqlCaseStore``: the ``plan_cases`` rows, each change saved with its audit event in one transaction.

Writers compare and swap: ``update`` changes a row only at the version it
was read at, and raises ``Conflict`` when another writer (a thread, another
sidecar on the same PostgreSQL) got there first; the service then reads the
row again and decides anew. Each change appends its event to the hash chain
and sets ``plans.status`` in the same transaction, so the chain, the plan's
status and the case never disagree; a change people are told of
(``notify.notices.notice_kind``) adds its notice to the outbox in that
transaction too, so no notice is lost and none tells of a change that rolled back.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Engine, Row, and_, exists, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from planner.core.errors import PvaError
from planner.core.plan import Plan
from planner.core.report import Report
from planner.core.treeview import Trees, trees
from sidecar import db
from sidecar.audit import payloads
from sidecar.audit.group import GroupCommit
from sidecar.audit.store import append_event, insert_plan, overlaps
from sidecar.audit.tables import APPROVALS, CASES, PLANS, PlanCaseRow, PlanScopeRow
from sidecar.errors import UnknownPlan
from sidecar.notify import outbox
from sidecar.notify.notices import Notice, NoticeKind, notice, notice_kind
from sidecar.service.codec import base_changes, base_from, case_from, case_json
from sidecar.workflow import PlanCase, State

MAX_LIST = 500
NO_PLAN = "no plan has that id, or it is not one you may see"  # never the id asked: a hidden plan's, maybe


class Conflict(PvaError):
    """Another writer changed the case since it was read (the service reads it again and retries)."""

    exit_code = 3


@dataclass(frozen=True)
class Event:
    """The audit event that records one change of a case."""

    kind: payloads.EventKind
    actor: str
    payload: dict[str, Any]


@dataclass(frozen=True)
class StoredCase:
    """A case as stored: the workflow's value and what the service keeps beside it."""

    case: PlanCase
    version: int
    title: str
    report: dict[str, Any]  # report/v1 of the latest verification
    base: dict[str, Any]  # what the latest verification read and resolved (service.codec.base_json)
    revert_of: str | None
    claimed: datetime | None
    updated: datetime

    @property
    def digest(self) -> str:
        return self.case.digest


@dataclass(frozen=True)
class Write:
    """One change of a case among several saved in one transaction (``CaseStore.write``).

    ``new``: insert ``stored`` (at version 1); else update the case read as
    ``stored`` (at its version, compare-and-swap) with ``changes``.
    """

    stored: StoredCase
    event: Event
    changes: dict[str, Any] = field(default_factory=dict)
    new: bool = False
    plan: Plan | None = None  # a new case's plan, recorded in the audit in the same transaction


def notice_of(
    kind: NoticeKind, stored: StoredCase, report: dict[str, Any], event: Event, now: datetime
) -> Notice:
    """The notice of a change of ``stored`` that ``event`` records (its actor, and their comment if any).

    A stored report that does not read as one (never written by pva) gives a notice without counts:
    the change is told all the same.
    """
    comment = event.payload.get("comment")
    try:
        verified: Report | None = Report.model_validate(report)
    except ValidationError:
        verified = None
    return notice(
        kind,
        digest=stored.digest,
        time=now,
        title=stored.title,
        author=stored.case.author,
        state=stored.case.state.value,
        actor=event.actor,
        comment=comment if isinstance(comment, str) else "",
        report=verified,
        decision=stored.case.decision,
    )


def check_ref(ref: str) -> None:
    """UnknownPlan unless ``ref`` can be a plan id: 8 to 64 lowercase hex digits of a digest."""
    if not (8 <= len(ref) <= 64 and all(c in "0123456789abcdef" for c in ref)):
        raise UnknownPlan(f"{ref!r} is not a plan id (8 to 64 lowercase hex digits of its digest)")


def the_one(ref: str, found: list[str]) -> str:
    """The one digest ``ref`` names among the visible ``found``; UnknownPlan for none or several."""
    if not found:
        raise UnknownPlan(NO_PLAN)
    if len(found) > 1:
        raise UnknownPlan(f"several plans' ids start {ref}: give more")
    return found[0]


def _listed(row: PlanCaseRow) -> StoredCase:
    return _stored(row, full=False)


def case_trees(stored: StoredCase) -> Trees:
    """The before and after trees of a stored case (what the page, the API and the CLI show)."""
    return stored_trees(stored.base, stored.report)


def stored_trees(base: dict[str, Any], report: dict[str, Any]) -> Trees:
    """The trees of a stored base and report: the verified changes replayed over the footprint.

    A base stored before changes were kept shows its footprint, and no After
    tree rather than a guess: resubmitting the plan records its changes.
    """
    effect = Report.model_validate(report).effect
    tree = base_from(base)
    changes = base_changes(base)
    if changes is None:
        return Trees(before=trees(tree, [], effect).before, after=())
    return trees(tree, changes, effect)


def _base(body: dict[str, Any] | list[dict[str, Any]]) -> dict[str, Any]:
    """A stored base; one stored before changes were kept is a bare list of entries."""
    return {"entries": body, "changes": None} if isinstance(body, list) else body


def _stored(row: PlanCaseRow | Row[Any], *, full: bool = True) -> StoredCase:
    """A case from its row: mapped (ORM queries) or as selected (Core)."""
    return StoredCase(
        case=case_from(json.loads(row.case)),
        version=row.version,
        title=row.title,
        report=json.loads(row.report) if full else {},
        base=_base(json.loads(row.base)) if full else {},
        revert_of=row.revert_of,
        claimed=row.claimed,
        updated=row.updated,
    )


class SqlCaseStore(db.SqlStore):
    """Where each submitted plan stands, in the audit database."""

    def __init__(self, engine: Engine, *, clock: db.Clock = db.utc_now) -> None:
        super().__init__(engine, clock=clock)
        self._grouped = GroupCommit(lambda: db.appending(self._sessions))

    def get(self, digest: str) -> StoredCase | None:
        with db.reading(self.engine) as connection:  # Core: every submit asks
            row = connection.execute(select(CASES).where(CASES.c.digest == digest)).first()
        return None if row is None else _stored(row)

    def resolve(self, ref: str, visible: Callable[[StoredCase], bool]) -> str:
        """The digest of the one ``visible`` case whose digest starts with ``ref`` (8 to 64 hex digits).

        Cases the caller may not see are not counted (the ethical wall): a
        prefix they share with a visible one still names it, and one only
        they match is unknown, with the same words as a prefix nobody has.
        """
        check_ref(ref)
        query = select(PlanCaseRow).where(PlanCaseRow.digest.startswith(ref, autoescape=True))
        with self._sessions() as session:
            found = [stored.digest for stored in map(_listed, session.scalars(query)) if visible(stored)]
        return the_one(ref, found)

    def create(self, stored: StoredCase, event: Event, *, plan: Plan | None = None) -> StoredCase:
        """Insert a new case, and record ``plan`` (unless it is already) in the same transaction.

        Conflict when another writer inserted the case first. Concurrent
        submits share a transaction (``GroupCommit``), each in its own savepoint.
        """
        try:
            return self._grouped.run(lambda session: self._insert(session, stored, event, plan))
        except IntegrityError as error:
            raise Conflict(stored.digest) from error

    def write(self, writes: list[Write]) -> list[StoredCase]:
        """Save several changes, in order, in one transaction with their events: all of them, or none.

        Conflict (nothing saved) when any update finds its case moved on, or any insert finds it there.
        """
        try:
            with db.appending(self._sessions) as session:
                return [
                    self._insert(session, w.stored, w.event, w.plan)
                    if w.new
                    else self._update(session, w.stored, w.event, w.changes)
                    for w in writes
                ]
        except IntegrityError as error:
            raise Conflict(writes[0].stored.digest) from error

    def _insert(self, session: Session, stored: StoredCase, event: Event, plan: Plan | None) -> StoredCase:
        now = self._clock()
        if plan is not None:
            insert_plan(session, now, plan, author=stored.case.author)
        row = {
            "digest": stored.digest,
            "state": stored.case.state.value,
            "version": 1,
            "author": stored.case.author,
            "title": stored.title,
            "submitted": stored.case.submitted,
            "updated": now,
            "claimed": stored.claimed,
            "revert_of": stored.revert_of,
            "case": json.dumps(case_json(stored.case)),
            "report": json.dumps(stored.report),
            "base": json.dumps(stored.base),
        }
        session.connection().execute(insert(CASES), row)
        self._record(session, None, stored, event)
        return replace(stored, version=1, updated=now)

    def update(self, stored: StoredCase, event: Event, **changes: Any) -> StoredCase:
        """Save ``stored`` with ``changes`` (fields of StoredCase) if nobody changed it since it was read."""
        with db.appending(self._sessions) as session:
            return self._update(session, stored, event, changes)

    def _update(
        self, session: Session, stored: StoredCase, event: Event, changes: dict[str, Any]
    ) -> StoredCase:
        new = replace(stored, **changes, version=stored.version + 1, updated=self._clock())
        values = {
            "state": new.case.state.value,
            "version": new.version,
            "submitted": new.case.submitted,
            "updated": new.updated,
            "claimed": new.claimed,
            "case": json.dumps(case_json(new.case)),
        }
        if "report" in changes:
            values["report"] = json.dumps(new.report)
        if "base" in changes:
            values["base"] = json.dumps(new.base)
        where = (PlanCaseRow.digest == stored.digest, PlanCaseRow.version == stored.version)
        if session.execute(update(PlanCaseRow).where(*where).values(values)).rowcount != 1:  # type: ignore[attr-defined]
            raise Conflict(stored.digest)
        self._record(session, stored.case.state, new, event)
        return new

    def _record(self, session: Session, before: State | None, stored: StoredCase, event: Event) -> None:
        """Append ``event``, project it, set the plan's status and, if the change is news, add its notice."""
        case = stored.case
        payload = event.payload | {"status": case.state.value}
        link = append_event(
            session, self._clock(), kind=event.kind, digest=case.digest, actor=event.actor, payload=payload
        )
        connection = session.connection()  # Core statements: every submit and decision runs these
        if event.kind == "approval":  # projected for indexed queries; ``pva audit verify`` re-derives it
            approval = payloads.approval_row(link.seq, case.digest, link.time, payload)
            connection.execute(insert(APPROVALS), approval)
        connection.execute(update(PLANS).where(PLANS.c.digest == case.digest).values(status=case.state.value))
        kind = notice_kind(None if before is None else before.value, case.state.value)
        if kind is not None:
            report = stored.report or json.loads(
                session.scalar(select(PlanCaseRow.report).where(PlanCaseRow.digest == case.digest)) or "{}"
            )
            told = notice_of(kind, stored, report, event, self._clock())
            outbox.record(session, told, paths=case.paths, authors=case.authors)

    def find(
        self,
        *,
        states: tuple[State, ...] = (),
        author: str | None = None,
        path: str | None = None,
        limit: int = 100,
        before: datetime | None = None,
        before_id: str | None = None,
    ) -> list[StoredCase]:
        """Cases, newest submission first, without their reports and bases (``get`` has those).

        Paging: the cases after (``before``, ``before_id``) in that order, the
        last case of the previous page; ``before`` alone: submitted earlier.
        """
        query = select(PlanCaseRow).order_by(PlanCaseRow.submitted.desc(), PlanCaseRow.digest)
        if states:
            query = query.where(PlanCaseRow.state.in_([state.value for state in states]))
        if author is not None:
            query = query.where(PlanCaseRow.author == author)
        if before is not None:
            earlier = PlanCaseRow.submitted < before
            if before_id is not None:  # the same time, further in digest order: ties are not skipped
                earlier = or_(earlier, and_(PlanCaseRow.submitted == before, PlanCaseRow.digest > before_id))
            query = query.where(earlier)
        if path is not None:
            query = query.where(
                exists().where(PlanScopeRow.digest == PlanCaseRow.digest, overlaps(PlanScopeRow.root, path))
            )
        query = query.limit(max(1, min(limit, MAX_LIST)))
        with self._sessions() as session:
            return [_stored(row, full=False) for row in session.scalars(query)]

    def applying(self) -> list[StoredCase]:
        """Cases an apply took (for the sweep that settles applies a dead sidecar left)."""
        query = select(PlanCaseRow).where(PlanCaseRow.state == State.APPLYING.value)
        with self._sessions() as session:
            return [_stored(row, full=False) for row in session.scalars(query)]
