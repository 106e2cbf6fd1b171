"""Routes of ``/v1/plans``: verify, submit, list, show, approve, reject, request changes, apply, revert.

Each parses, calls one ``PlanService`` use case and returns a response model.
"""

from __future__ import annotations

import asyncio
import json
import time
from functools import partial
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from planner.core.treeview import trees_json
from sidecar.api.models import (
    ErrorBody,
    PlanList,
    PlanOut,
    ReportOut,
    incident_json,
    json_response,
    plan_json,
    plan_summary,
    versions_json,
)
from sidecar.api.requests import ApprovalBody, ChangesBody, CommentBody, PlanBody, body_schema
from sidecar.edge.auth import Caller
from sidecar.edge.downloads import download
from sidecar.edge.params import Storable, UtcTime
from sidecar.edge.state import app_state
from sidecar.notify.notices import plan_link
from sidecar.service.cases import StoredCase, case_trees
from sidecar.service.plans import check_path_filter
from sidecar.tokens import Principal
from sidecar.workflow import OpComment, State

router = APIRouter(prefix="/v1/plans", tags=["plans"])
ERRORS: dict[int | str, dict[str, object]] = {
    status: {"model": ErrorBody} for status in (401, 403, 404, 409, 413, 422, 429, 503)
}
NAME = r"^[^\x00-\x1f\x7f]+$"  # a name filter: no control characters (PostgreSQL refuses NUL)
MAX_WAIT = 60.0  # seconds a GET of a plan may wait for its apply to end
WAIT_POLL = 0.2  # seconds between two looks at a plan being waited for
PlanId = Annotated[str, Path(pattern="^[0-9a-f]{8,64}$", description="The digest, or its first 8+ digits")]


def _out(
    request: Request, stored: StoredCase, who: Principal, *, with_plan: bool = False, status: int = 200
) -> Response:
    state = app_state(request)
    body = json.loads(state.services.audit.plan(stored.digest).canonical_json()) if with_plan else None
    now, ttl = state.clock(), state.settings.approval_ttl
    trees = trees_json(case_trees(stored)) if with_plan else None
    progress = state.services.plans.progress(stored)
    out = plan_json(stored, now=now, ttl=ttl, body=body, who=who, trees=trees, progress=progress)
    out |= versions_json(state.services.plans.versions(stored, who))
    out["page"] = plan_link(state.settings.public_url or str(request.base_url), stored.digest)
    if with_plan:  # only the full view reads the store for the writes' contents
        found = state.services.plans.contents(stored.digest, who, range(len(body["ops"]) if body else 0))
        out["contents"] = [p.to_json() for p in found]
        out["incidents"] = [incident_json(event) for event in state.services.audit.incidents(stored.digest)]
    return json_response(out, status)


QUEUED = {"model": PlanOut, "description": "Applying: a worker applies it (PVA_APPLY_MODE=jobs)"}


def _counted(request: Request, stored: StoredCase, who: Principal, status: int = 200) -> Response:
    app_state(request).metrics.plans.labels(stored.case.state.value).inc()
    return _out(request, stored, who, status=status)


@router.post(
    "/verify",
    operation_id="verifyPlan",
    response_model=ReportOut,
    responses=ERRORS,
    openapi_extra=body_schema("Plan"),
    summary="Dry-run a plan against the live store; stores nothing",
)
def verify_plan(request: Request, who: Caller, plan: PlanBody) -> Response:
    return json_response(app_state(request).services.plans.verify(plan, who))


@router.post(
    "",
    operation_id="submitPlan",
    response_model=PlanOut,
    status_code=201,
    responses={
        200: {"model": PlanOut, "description": "Already submitted, and visible to the caller: the plan"},
        **ERRORS,
    },
    openapi_extra=body_schema("Plan"),
    summary="Submit a plan: validate, verify, then pending, approved by policy, or rejected",
)
def submit_plan(
    request: Request,
    who: Caller,
    plan: PlanBody,
    supersedes: Annotated[
        str | None,
        Query(
            pattern="^[0-9a-f]{8,64}$",
            description="The id of an earlier version you submitted: it becomes 'superseded' by this one "
            "(a parameter, not a field of the plan, so the plan's digest stays the plan's).",
        ),
    ] = None,
) -> Response:
    submitted = app_state(request).services.plans.submission(plan, who, supersedes=supersedes)
    return _counted(request, submitted.stored, who, 200 if submitted.seen else 201)


@router.get("", operation_id="listPlans", response_model=PlanList, responses=ERRORS, summary="List plans")
def list_plans(
    request: Request,
    who: Caller,
    *,
    state: Annotated[list[State] | None, Query(description="Any of these states")] = None,
    author: Annotated[str | None, Query(max_length=200, pattern=NAME)] = None,
    path: Annotated[Storable | None, Query(max_length=4096, description="Plans whose scope holds it")] = None,
    before: Annotated[UtcTime | None, Query(description="Paging: the last plan's 'submitted'")] = None,
    before_id: Annotated[str | None, Query(pattern="^[0-9a-f]{64}$", description="Paging: its id")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> PlanList:
    if path is not None:
        check_path_filter(path)
    found = app_state(request).services.plans.find(
        who,
        states=tuple(state or ()),
        author=author,
        path=path,
        limit=limit,
        before=before,
        before_id=before_id,
    )
    more = len(found) == limit and found
    return PlanList(
        plans=[plan_summary(stored) for stored in found],
        next_before=found[-1].case.submitted if more else None,
        next_before_id=found[-1].digest if more else None,
    )


@router.get(
    "/{plan_id}", operation_id="getPlan", response_model=PlanOut, responses=ERRORS, summary="Show a plan"
)
async def get_plan(
    request: Request,
    who: Caller,
    plan_id: PlanId,
    wait: Annotated[
        float,
        Query(
            ge=0,
            le=MAX_WAIT,
            description="Seconds to wait while the plan is 'applying' (a long poll): the answer comes "
            "as soon as it is applied, failed or stale, or when the time is up, applying still.",
        ),
    ] = 0,
) -> Response:
    plans = app_state(request).services.plans
    stored = await run_in_threadpool(plans.get, plan_id, who)
    deadline = time.monotonic() + wait
    while stored.case.state is State.APPLYING and time.monotonic() < deadline:
        await asyncio.sleep(WAIT_POLL)  # no thread is held while waiting
        stored = await run_in_threadpool(plans.get, stored.digest, who)
    return await run_in_threadpool(partial(_out, request, stored, who, with_plan=True))


@router.get(
    "/{plan_id}/writes/{index}",
    operation_id="getWriteContent",
    responses={
        200: {"content": {"application/octet-stream": {}}, "description": "The bytes, as an attachment"},
        **ERRORS,
    },
    response_class=StreamingResponse,
    summary="The whole content a write op puts in the store, checked against its sha256 as it is sent",
)
def get_write_content(
    request: Request,
    who: Caller,
    plan_id: PlanId,
    index: Annotated[int, Path(ge=0, le=1_000_000, description="The write op's 0-based index in the plan")],
) -> StreamingResponse:
    services = app_state(request).services
    stream = services.plans.write_content(plan_id, who, index)
    return download(stream, lambda: services.reads.served(who, stream.entry, stream.entry.size or 0, None))


@router.post(
    "/{plan_id}/approve",
    operation_id="approvePlan",
    response_model=PlanOut,
    responses={202: QUEUED, **ERRORS},
    openapi_extra=body_schema("ApprovalRequest"),
    summary="Approve a plan (never by its author), or the part of it without the ops 'without' names",
)
def approve_plan(request: Request, who: Caller, plan_id: PlanId, body: ApprovalBody) -> Response:
    plans = app_state(request).services.plans
    if body.without:  # the answer is the part, approved: the plan itself is superseded by it
        stored = plans.approve_part(plan_id, who, body.comment, body.without)
    else:
        stored = plans.approve(plan_id, who, body.comment)
    return _counted(request, stored, who, _queued(request, stored))


@router.post(
    "/{plan_id}/reject",
    operation_id="rejectPlan",
    response_model=PlanOut,
    responses=ERRORS,
    openapi_extra=body_schema("Comment"),
    summary="Reject a plan, for good",
)
def reject_plan(request: Request, who: Caller, plan_id: PlanId, body: CommentBody) -> Response:
    return _counted(request, app_state(request).services.plans.reject(plan_id, who, body.comment), who)


@router.post(
    "/{plan_id}/override",
    operation_id="overridePlan",
    response_model=PlanOut,
    responses={202: QUEUED, **ERRORS},
    openapi_extra=body_schema("Comment"),
    summary="Override a 'require_override' rule's deny (admins; the comment is the reason, audited)",
)
def override_plan(request: Request, who: Caller, plan_id: PlanId, body: CommentBody) -> Response:
    stored = app_state(request).services.plans.override(plan_id, who, body.comment)
    return _counted(request, stored, who, _queued(request, stored))


@router.post(
    "/{plan_id}/request-changes",
    operation_id="requestChanges",
    response_model=PlanOut,
    responses=ERRORS,
    openapi_extra=body_schema("ChangesRequest"),
    summary="Ask the author for changes, per op (0-based indexes); the plan is changes_requested",
)
def request_changes(request: Request, who: Caller, plan_id: PlanId, body: ChangesBody) -> Response:
    notes = [OpComment(note.op, note.comment) for note in body.ops]
    stored = app_state(request).services.plans.request_changes(plan_id, who, body.comment, notes)
    return _counted(request, stored, who)


@router.post(
    "/{plan_id}/apply",
    operation_id="applyPlan",
    response_model=PlanOut,
    responses={202: QUEUED, **ERRORS},
    summary="Apply an approved plan (idempotent: never twice)",
)
def apply_plan(request: Request, who: Caller, plan_id: PlanId) -> Response:
    stored = app_state(request).services.plans.apply(plan_id, who)
    return _counted(request, stored, who, _queued(request, stored))


def _queued(request: Request, stored: StoredCase) -> int:
    """202 when a worker applies the plan (PVA_APPLY_MODE=jobs) and it is not done yet, else 200."""
    jobs = app_state(request).settings.apply_mode == "jobs"
    return 202 if jobs and stored.case.state is State.APPLYING else 200


@router.post(
    "/{plan_id}/revert",
    operation_id="revertPlan",
    response_model=PlanOut,
    status_code=201,
    responses=ERRORS,
    summary="Submit the inverse of an applied plan for approval",
)
def revert_plan(request: Request, who: Caller, plan_id: PlanId) -> Response:
    return _counted(request, app_state(request).services.plans.revert(plan_id, who), who, 201)
