"""Plan history (decided plans, their outcome and who decided) and audit search (by path, actor, date)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from sidecar.audit.views import EventView, History
from sidecar.edge.params import Storable, UtcTime
from sidecar.edge.state import app_state
from sidecar.errors import UnknownPlan
from sidecar.service.custody import custody_download
from sidecar.service.plans import BadPath, check_read_path
from sidecar.web.guard import PageRoute, Viewer
from sidecar.web.render import html
from sidecar.web.state import web_state
from sidecar.web.trail import BadDate, day_window, decided_by, event_text
from sidecar.workflow import State, Verb, WorkflowError, allowed_actions

router = APIRouter(route_class=PageRoute, include_in_schema=False)
DECIDED = (State.APPLIED, State.FAILED, State.STALE, State.REJECTED, State.REVERTED, State.CHANGES_REQUESTED)
HISTORY_PAGE = 50
EVENTS_PAGE = 100
Text = Annotated[Storable, Query(max_length=400)]


@router.get("/history")
def history(
    request: Request,
    who: Viewer,
    state: State | None = None,
    q: Text = "",
    before: UtcTime | None = None,
) -> Response:
    services = app_state(request).services
    states = (state,) if state in DECIDED else DECIDED
    found = services.plans.find(who.principal, states=states, limit=HISTORY_PAGE, before=before)
    needle = q.casefold().strip()
    now, ttl = app_state(request).clock(), app_state(request).settings.approval_ttl
    rows = [
        (
            stored,
            decided_by(stored.case),
            services.audit.outcome(stored.digest),
            Verb.REVERT in allowed_actions(stored.case, who.principal, now, ttl=ttl),
        )
        for stored in found
        if not needle or needle in f"{stored.title}\n{stored.case.author}\n{stored.digest}".casefold()
    ]
    return html(
        web_state(request).templates,
        request,
        "history.html",
        who=who,
        rows=rows,
        state="" if state is None else state.value,
        states=[s.value for s in DECIDED],
        q=q,
        next_before=found[-1].case.submitted.isoformat() if len(found) == HISTORY_PAGE else None,
    )


@router.get("/custody")
def custody_report(
    request: Request,
    who: Viewer,
    *,
    path: Text = "",
    matter: Text = "",
    format: Literal["json", "html", "csv"] = "html",  # noqa: A002  # the API's word
) -> Response:
    """A signed custody report to download: the API's, for the signed-in person."""
    download = custody_download(
        app_state(request).services.custody,
        who.principal,
        path=path or None,
        matter=matter or None,
        since=None,
        until=None,
        fmt=format,
    )
    return Response(download.body, media_type=download.media_type, headers=download.headers)


@router.get("/audit")
def audit(
    request: Request,
    who: Viewer,
    *,
    path: Text = "",
    actor: Annotated[Storable, Query(max_length=200)] = "",
    since: Annotated[Storable, Query(max_length=40)] = "",
    until: Annotated[Storable, Query(max_length=40)] = "",
    after: Annotated[int, Query(ge=0, le=2**62)] = 0,
) -> Response:
    records = app_state(request).services.reads
    custody: History | None = None
    events: list[EventView] = []
    error = ""
    searched = bool(path or actor or since or until)
    try:
        window = day_window(since, until)
        if path:
            check_read_path(path)
            custody = records.history(who.principal, path)
        if searched:
            events = records.events(
                who.principal,
                path=path or None,
                actor=actor or None,
                since=window.since,
                until=window.until,
                after=after,
                limit=EVENTS_PAGE,
            )
    except (BadDate, BadPath, WorkflowError, UnknownPlan) as refused:
        error = str(refused)
    return html(
        web_state(request).templates,
        request,
        "audit.html",
        code=422 if error else 200,
        who=who,
        path=path,
        actor=actor,
        since=since,
        until=until,
        custody=custody,
        events=[(event, event_text(event)) for event in events],
        next_after=events[-1].seq if len(events) == EVENTS_PAGE else None,
        searched=searched,
        error=error,
    )
