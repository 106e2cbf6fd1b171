"""Routes for reading: ``/v1/audit``, ``/v1/history`` and ``/v1/snapshot``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse

from sidecar.api.models import ErrorBody, EventList, HistoryOut, event_out, history_out
from sidecar.api.plans import NAME
from sidecar.edge.auth import Caller
from sidecar.edge.params import Storable, UtcTime
from sidecar.edge.state import app_state

router = APIRouter(prefix="/v1", tags=["audit"])
ERRORS: dict[int | str, dict[str, object]] = {
    status: {"model": ErrorBody} for status in (401, 403, 404, 422, 429)
}
StorePath = Annotated[Storable, Query(min_length=1, max_length=4096, description="A store path")]


@router.get(
    "/audit",
    operation_id="listAuditEvents",
    response_model=EventList,
    responses=ERRORS,
    summary="Audit events",
)
def list_audit_events(
    request: Request,
    who: Caller,
    *,
    path: Annotated[Storable | None, Query(max_length=4096, description="Applies that touched it")] = None,
    plan: Annotated[str | None, Query(pattern="^[0-9a-f]{8,64}$")] = None,
    actor: Annotated[str | None, Query(max_length=200, pattern=NAME)] = None,
    since: Annotated[UtcTime | None, Query(description="From this time (UTC if no zone)")] = None,
    until: Annotated[UtcTime | None, Query(description="Before this time (UTC if no zone)")] = None,
    after: Annotated[int, Query(ge=0, le=2**62, description="Events after this seq (paging)")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> EventList:
    events = app_state(request).services.reads.events(
        who, path=path, plan=plan, actor=actor, since=since, until=until, after=after, limit=limit
    )
    return EventList(
        events=[event_out(event) for event in events],
        next_after=events[-1].seq if len(events) == limit else None,
    )


@router.get(
    "/history",
    operation_id="getHistory",
    response_model=HistoryOut,
    responses=ERRORS,
    summary="A document's chain of custody, following moves",
)
def get_history(request: Request, who: Caller, path: StorePath) -> HistoryOut:
    return history_out(app_state(request).services.reads.history(who, path))


@router.get(
    "/snapshot",
    operation_id="getSnapshot",
    responses={
        200: {"content": {"application/x-ndjson": {}}, "description": "A manifest/v1 (JSON lines)"},
        **ERRORS,
    },
    response_class=StreamingResponse,
    summary="A manifest of the live store below a prefix, for planners",
)
def get_snapshot(
    request: Request,
    who: Caller,
    prefix: Annotated[str, Query(max_length=4096, description="'' for the whole store")] = "",
) -> StreamingResponse:
    lines = app_state(request).services.reads.snapshot(who, prefix)
    first = next(lines)  # errors (scope, path) surface here, before the response starts
    return StreamingResponse(_chain(first, lines), media_type="application/x-ndjson")


def _chain(first: str, rest: Iterator[str]) -> Iterator[str]:
    yield first
    yield from rest
