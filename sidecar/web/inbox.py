"""The inbox: plans waiting for a decision, filtered and searched; its rows refresh without a reload."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from sidecar.edge.params import Storable
from sidecar.edge.state import app_state
from sidecar.service.plans import check_path_filter
from sidecar.web.cases import summaries
from sidecar.web.guard import PageRoute, Signed, Viewer
from sidecar.web.render import html
from sidecar.web.state import web_state
from sidecar.web.views import Summary
from sidecar.workflow import State

router = APIRouter(route_class=PageRoute, include_in_schema=False)
LISTED = 200  # newest plans read per inbox view; the search filters within them
POLL_SECONDS = 4

Text = Annotated[Storable, Query(max_length=400)]


@dataclass(frozen=True)
class Filter:
    """The inbox's filter, from its query: a state, search text, an author, a folder."""

    state: State = State.PENDING
    q: Text = ""
    author: Text = ""
    path: Text = ""


Filtered = Annotated[Filter, Depends()]


def _rows(request: Request, who: Signed, chosen: Filter) -> list[Summary]:
    if chosen.path:
        check_path_filter(chosen.path)
    found = app_state(request).services.plans.find(
        who.principal,
        states=(chosen.state,),
        author=chosen.author or None,
        path=chosen.path or None,
        limit=LISTED,
    )
    return [row for row in summaries(request, who.principal, found) if row.matches(chosen.q)]


@router.get("/")
def inbox(request: Request, who: Viewer, chosen: Filtered) -> Response:
    rows = _rows(request, who, chosen)
    return html(
        web_state(request).templates,
        request,
        "inbox.html",
        who=who,
        rows=rows,
        state=chosen.state.value,
        states=[s.value for s in State],
        q=chosen.q,
        author=chosen.author,
        path=chosen.path,
        poll_seconds=POLL_SECONDS,
    )


@router.get("/inbox/rows")
def inbox_rows(request: Request, who: Viewer, chosen: Filtered) -> Response:
    """The table body alone, for the page's script to swap in when plans arrive or leave."""
    rows = _rows(request, who, chosen)
    return html(web_state(request).templates, request, "inbox_rows.html", rows=rows, state=chosen.state.value)
