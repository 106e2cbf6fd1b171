"""The API's request and response bodies (pydantic): what ``/openapi.json`` publishes.

Responses are built from the service's values here, so routes stay one call
long. Times are ISO 8601 in UTC. ``report`` is the verifier's ``report/v1``.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from planner.report import Diagnostic, Report
from sidecar.audit.views import EventView, History
from sidecar.policy import Decision
from sidecar.service.cases import StoredCase
from sidecar.workflow import State, counted_approvers


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)


class ReportOut(Report):
    """The verifier's report (report/v1); ``inverse`` is a plan document (components/schemas/Plan)."""

    inverse: dict[str, Any] | None = Field(
        description="The plan document that undoes this one (submit it like any plan); "
        "null when the plan is not ok or changes nothing."
    )


class Comment(BaseModel):
    """A person's reason for approving or rejecting (required: it goes to the audit)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    comment: Annotated[str, Field(min_length=1, max_length=2000, pattern=r"\S")]


class ApprovalOut(_Out):
    """One approval of the plan."""

    approver: str
    time: datetime
    comment: str
    counts: bool = Field(description="Whether it still counts: same digest and state, not expired.")


class RejectionOut(_Out):
    """The person who rejected the plan, and why."""

    actor: str
    time: datetime
    comment: str


class PlanSummaryOut(_Out):
    """A plan as listed."""

    id: str = Field(description="The plan's digest: sha256 of its canonical JSON.")
    title: str
    state: State
    author: str
    submitted: datetime
    updated: datetime
    revert_of: str | None


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


class PlanOut(PlanSummaryOut):
    """A submitted plan: where it stands, why, and what verification found."""

    authors: list[str]
    paths: list[str]
    fingerprint: str = Field(description="The base state it was verified against; approvals bind to it.")
    decision: Decision | None = Field(description="The policy's decision; null when verification refused it.")
    approvals_needed: int
    approvals: list[ApprovalOut]
    rejection: RejectionOut | None
    diagnostics: list[Diagnostic]
    inverse_id: str | None = Field(description="The plan that undoes it, once applied.")
    report: ReportOut | None = Field(description="The latest verification (report/v1).")
    plan: dict[str, Any] | None = Field(None, description="The plan document (plan/v1), on request.")
    trees: TreesOut | None = Field(None, description="Before and after trees, with the plan document.")


class PlanList(_Out):
    """A page of plans, newest submission first."""

    plans: list[PlanSummaryOut]
    next_before: datetime | None = Field(description="Pass as 'before' for the next page; null at the end.")
    next_before_id: str | None = Field(description="Pass as 'before_id' with it.")


class EventOut(_Out):
    """One event of the hash-chained audit."""

    seq: int
    time: datetime
    kind: Literal["plan_recorded", "apply", "incident", "approval", "workflow", "token"]
    digest: str | None
    actor: str
    payload: dict[str, Any]
    prev_hash: str
    hash: str


class EventList(_Out):
    """A page of audit events, in chain order."""

    events: list[EventOut]
    next_after: int | None = Field(description="Pass as 'after' for the next page; null at the end.")


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
    store: str
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
    body: dict[str, Any] | None = None,
    trees: dict[str, Any] | None = None,
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
            ApprovalOut(approver=a.approver, time=a.time, comment=a.comment, counts=a.approver in counted)
            for a in case.approvals
        ],
        rejection=None
        if case.rejection is None
        else RejectionOut(
            actor=case.rejection.actor, time=case.rejection.time, comment=case.rejection.comment
        ),
        diagnostics=list(case.diagnostics),
        inverse_id=case.inverse_digest,
        report=None,
    ).model_dump(mode="json")
    return out | {"report": stored.report or None, "plan": body, "trees": trees}


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
