"""The API's request and response bodies (pydantic): what ``/openapi.json`` publishes.

Responses are built from the service's values here, so routes stay one call
long. Times are ISO 8601 in UTC. ``report`` is the verifier's ``report/v1``.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from planner.core.report import Diagnostic, Report
from sidecar.apply.progress import Progress
from sidecar.audit.payloads import EventKind
from sidecar.audit.views import EventView, History
from sidecar.policy import Decision
from sidecar.service.cases import StoredCase
from sidecar.service.codec import derivation_json
from sidecar.service.reads import TreePage
from sidecar.service.versions import Versions
from sidecar.workflow import Actor, PlanCase, State, Verb, allowed_actions, counted_approvers, missing


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)


class ReportOut(Report):
    """The verifier's report (report/v1); ``inverse`` is a plan document (components/schemas/Plan)."""

    inverse: dict[str, Any] | None = Field(
        description="The plan document that undoes this one (submit it like any plan); "
        "null when the plan is not ok or changes nothing."
    )


class IncidentOut(_Out):
    """Something that went wrong while the plan applied, recorded in the audit (an altered trash copy)."""

    time: datetime
    message: str
    paths: list[str]


def incident_json(event: EventView) -> dict[str, Any]:
    """An 'incident' audit event as IncidentOut JSON."""
    payload = event.payload
    return IncidentOut(time=event.time, message=payload["message"], paths=payload["paths"]).model_dump(
        mode="json"
    )


class ApprovalOut(_Out):
    """One approval of the plan."""

    approver: str
    time: datetime
    comment: str
    counts: bool = Field(description="Whether it still counts: same digest and state, not expired.")
    groups: list[str] = Field(default=[], description="The approver's groups when they approved.")


class NeedOut(_Out):
    """Approvals the plan still needs from one group's members (its decision's requirements not yet met)."""

    group: str
    more: int = Field(description="How many more of the group's members must approve.")
    ops: list[int] | None = Field(description="The ops (0-based) it is for; null: the whole plan.")


class OpCommentOut(_Out):
    """What a person asked to change in one op (``op``: 0-based, as in the plan's ``ops``)."""

    op: int
    comment: str


class RejectionOut(_Out):
    """The person who rejected the plan (or asked for changes: state changes_requested), and why."""

    actor: str
    time: datetime
    comment: str
    ops: list[OpCommentOut] = Field(description="Per-op comments of a request for changes; else empty.")


class PlanSummaryOut(_Out):
    """A plan as listed."""

    id: str = Field(description="The plan's digest: sha256 of its canonical JSON.")
    title: str
    state: State
    author: str
    submitted: datetime
    updated: datetime
    revert_of: str | None


class FactsOut(_Out):
    """One version of a file: size, sha256, and whether it is text (kind unknown: not read)."""

    size: int | None
    sha256: str
    kind: Literal["text", "binary", "unknown"]
    media: str = Field(description='In words: "UTF-8 text", "PDF document", "binary data"; "" when unknown.')


class ContentOut(_Out):
    """What one write puts in the store: a diff against the version it replaces, or a new file's lines."""

    op_index: int
    path: str
    new: FactsOut
    old: FactsOut | None = Field(description="The version it replaces; null when it creates the file.")
    lines: list[tuple[Literal["context", "removed", "added", "gap"], int | None, int | None, str]] = Field(
        description="[kind, old line number, new line number, text]; a gap's text says where the next "
        "hunk starts (@@ -a,b +c,d @@). Empty for binary content, or when it cannot be shown."
    )
    note: str = Field(description="Why some of it is not shown, in plain words; empty otherwise.")


class MarkOut(_Out):
    """What happens to one path of a tree, in a word or two."""

    kind: Literal["moves_away", "moved_here", "new", "replaced", "trash", "copied"]
    label: str
    detail: str


class TreeRowOut(_Out):
    """One file or folder of a before or after tree."""

    path: str
    kind: Literal["file", "dir"]
    size: int | None
    sha256: str | None
    marks: list[MarkOut]
    within: str = Field(description="What a marked folder above it says about it ('moves with its folder').")


class TreesOut(_Out):
    """The area a plan touches before and after: the verified changes over the footprint read at submit."""

    before: list[TreeRowOut]
    after: list[TreeRowOut] = Field(description="Empty for a plan stored before its changes were kept.")


class ProgressOut(_Out):
    """How far an apply has got: the plan's ops, and the store's objects (a bucket's folder is many)."""

    ops_done: int
    ops_total: int
    objects_done: int
    objects_total: int = Field(description="Grows while a bucket's folders are listed for a move.")


class DerivedOut(_Out):
    """How a part of a plan came to be: a person approved the plan without some ops."""

    original: str = Field(description="The plan it is part of (now superseded by it).")
    approver: str
    without: list[int] = Field(description="0-based indexes, in the original plan, of the ops left out.")
    time: datetime


class OpChangeOut(_Out):
    """One difference from the previous version: ops match by kind and the paths they name."""

    change: Literal["added", "removed", "changed"]
    op: int | None = Field(description="0-based index in this plan; null for a removed op.")
    previous_op: int | None = Field(description="0-based index in the previous version; null when added.")
    fields: list[str] = Field(description="What differs in a changed op (reason, expect, content...).")
    previous: dict[str, Any] | None = Field(description="The previous version's op, for removed and changed.")


class RemarkOut(_Out):
    """A remark made on an earlier version, carried over: its comment, and where its op is now."""

    version: str = Field(description="The id of the version it was made on.")
    kind: Literal["changes_requested", "rejected", "approved", "op_comment"]
    actor: str
    time: datetime
    comment: str
    op: int | None = Field(description="0-based op of that version an op_comment is about.")
    now_op: int | None = Field(description="The same op (kind and paths) in this plan, if it is still there.")


class PlanOut(PlanSummaryOut):
    """A submitted plan: where it stands, why, and what verification found."""

    authors: list[str]
    paths: list[str]
    fingerprint: str = Field(description="The base state it was verified against; approvals bind to it.")
    decision: Decision | None = Field(description="The policy's decision; null when verification refused it.")
    approvals_needed: int
    approvals: list[ApprovalOut]
    needs: list[NeedOut] = Field(
        default=[], description="Group approvals still needed (owners of ops' paths, a rule's 'require')."
    )
    rejection: RejectionOut | None
    diagnostics: list[Diagnostic]
    page: str | None = Field(
        None,
        description="The plan's approval page, where a person reviews and decides it (under PVA_PUBLIC_URL "
        "when set, else the address this request came to). Opening it approves nothing.",
    )
    inverse_id: str | None = Field(
        description="The digest of the plan that undoes it, once applied (a plan with that id "
        "exists only once a revert submitted it)."
    )
    actions: list[Verb] = Field(
        description="What the caller may ask for now (approve, reject, apply, revert): "
        "the workflow's own answer, the same the approval page offers."
    )
    report: ReportOut | None = Field(description="The latest verification (report/v1).")
    plan: dict[str, Any] | None = Field(None, description="The plan document (plan/v1), on request.")
    contents: list[ContentOut] | None = Field(
        None,
        description="Only in GET /v1/plans/{id}: what each write puts in the store, against the "
        "version it replaces (the first 100 writes).",
    )
    trees: TreesOut | None = Field(None, description="Before and after trees, with the plan document.")
    incidents: list[IncidentOut] | None = Field(
        None, description="Only in GET /v1/plans/{id}: incidents recorded while it applied (the first 100)."
    )
    progress: ProgressOut | None = Field(
        None,
        description="How far its apply has got, posted about every second while it runs; null until "
        "an apply starts its steps.",
    )
    supersedes: str | None = Field(
        None,
        description="The earlier version this plan replaced (a revision, or the plan an approved part "
        "is of); null also when the caller may not see it.",
    )
    superseded_by: str | None = Field(
        None, description="The plan that replaced this one (state superseded), when the caller may see it."
    )
    derived: DerivedOut | None = Field(None, description="Set on the part of a plan a person approved.")
    changes: list[OpChangeOut] | None = Field(
        None, description="The difference from the 'supersedes' version, op by op; null without one."
    )
    discussion: list[RemarkOut] = Field(
        default_factory=list,
        description="What people said on earlier versions (the caller may see), newest version first.",
    )


class PlanList(_Out):
    """A page of plans, newest submission first."""

    plans: list[PlanSummaryOut]
    next_before: datetime | None = Field(description="Pass as 'before' for the next page; null at the end.")
    next_before_id: str | None = Field(description="Pass as 'before_id' with it.")


class EventOut(_Out):
    """One event of the hash-chained audit."""

    seq: int
    time: datetime
    kind: EventKind
    digest: str | None
    actor: str
    payload: dict[str, Any]
    prev_hash: str
    hash: str


class EventList(_Out):
    """A page of audit events, in chain order."""

    events: list[EventOut]
    next_after: int | None = Field(description="Pass as 'after' for the next page; null at the end.")


class EntryOut(_Out):
    """One entry of a folder's listing; a file's sha256 only where the store knows it."""

    path: str
    name: str
    kind: Literal["file", "dir"]
    size: int | None = None
    sha256: str | None = None
    generation: int | None = None
    mtime: float | None = None


class TreeOut(_Out):
    """A page of a folder's listing (tree/v1): parents first, by name."""

    version: Literal["tree/v1"] = "tree/v1"
    path: str
    entries: list[EntryOut]
    next_after: str | None = Field(description="Pass as 'after' for the next page; null at the end.")


def tree_out(page: TreePage) -> TreeOut:
    entries = [
        EntryOut(
            path=e.path,
            name=e.path.rsplit("/", 1)[-1],
            kind=e.kind,
            size=e.size,
            sha256=e.sha256,
            generation=e.generation,
            mtime=e.mtime,
        )
        for e in page.entries
    ]
    return TreeOut(path=page.path, entries=entries, next_after=page.next_after)


class HistoryOut(_Out):
    """A document's chain of custody (history/v1), oldest first."""

    version: Literal["history/v1"]
    path: str
    origins: list[str]
    current: list[str]
    items: list[dict[str, Any]]


class Health(_Out):
    """Whether the sidecar can work: its store and its database answer."""

    status: Literal["ok", "failing"]
    store: str | None = Field(description="Where the store is: shown to admins only, else null.")
    database: Literal["ok", "failing"]
    problems: list[str]


class ProblemOut(_Out):
    """Every error response: a stable code an agent can branch on, and a message a person can read."""

    code: str
    message: str
    problems: list[dict[str, str]] = Field(default_factory=list, description="JSON locations, for 422.")


class ErrorBody(_Out):
    """The body of every error response."""

    error: ProblemOut


def plan_summary(stored: StoredCase) -> PlanSummaryOut:
    case = stored.case
    return PlanSummaryOut(
        id=case.digest,
        title=stored.title,
        state=case.state,
        author=case.author,
        submitted=case.submitted,
        updated=stored.updated,
        revert_of=stored.revert_of,
    )


def plan_json(
    stored: StoredCase,
    *,
    now: datetime,
    ttl: timedelta | None,
    who: Actor,
    body: dict[str, Any] | None = None,
    trees: dict[str, Any] | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """A PlanOut as JSON values.

    The report and the plan body are JSON already: they go in as they are,
    not validated into models and dumped again (a 1,000-op plan's report is large).
    """
    case = stored.case
    counted = set(counted_approvers(case, now=now, ttl=ttl))
    out = PlanOut(
        **plan_summary(stored).model_dump(),
        authors=list(case.authors),
        paths=list(case.paths),
        fingerprint=case.fingerprint,
        decision=case.decision,
        approvals_needed=case.approvals_needed,
        approvals=[
            ApprovalOut(
                approver=a.approver,
                time=a.time,
                comment=a.comment,
                counts=a.approver in counted,
                groups=list(a.groups),
            )
            for a in case.approvals
        ],
        needs=[
            NeedOut(group=need.group, more=more, ops=need.ops)
            for need, more in missing(case, now=now, ttl=ttl)
        ],
        rejection=None
        if case.rejection is None
        else RejectionOut(
            actor=case.rejection.actor,
            time=case.rejection.time,
            comment=case.rejection.comment,
            ops=[OpCommentOut(op=c.op, comment=c.comment) for c in case.rejection.ops],
        ),
        diagnostics=list(case.diagnostics),
        inverse_id=case.inverse_digest,
        actions=ordered_actions(case, who, now=now, ttl=ttl),
        report=None,
    ).model_dump(
        mode="json",
        exclude={"contents", "incidents", "progress", "supersedes", "superseded_by", "derived", "changes"}
        | {"discussion"},
    )
    moved = None if progress is None else progress.to_json()
    return out | {"report": stored.report or None, "plan": body, "trees": trees, "progress": moved}


def versions_json(found: Versions) -> dict[str, Any]:
    """The PlanOut fields of a plan's other versions, as JSON values."""
    derived = found.derived
    changes = None
    if found.changes is not None:
        changes = [
            change.to_json()
            | {"previous": None if change.previous_op is None else found.previous_ops.get(change.previous_op)}
            for change in found.changes
        ]
    return {
        "supersedes": found.previous,
        "superseded_by": found.superseded_by,
        "derived": None if derived is None else derivation_json(derived),
        "changes": changes,
        "discussion": [remark.to_json() for remark in found.remarks],
    }


def ordered_actions(case: PlanCase, who: Actor, *, now: datetime, ttl: timedelta | None) -> list[Verb]:
    """``allowed_actions`` in a stable order: approve, reject, apply, revert."""
    allowed = allowed_actions(case, who, now, ttl=ttl)
    return [verb for verb in Verb if verb in allowed]


def json_response(body: BaseModel | dict[str, Any], status: int = 200) -> Response:
    """A JSON response of a model or of JSON values, serialised once (not re-validated by FastAPI)."""
    if isinstance(body, BaseModel):
        content = body.model_dump_json().encode()
    else:
        content = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
    return Response(content, status_code=status, media_type="application/json")


def event_out(event: EventView) -> EventOut:
    return EventOut.model_validate(event.to_json())


def history_out(history: History) -> HistoryOut:
    return HistoryOut.model_validate(history.to_json())
