"""The inbox: plans waiting for a decision, filtered and searched; its rows refresh without a reload.

An approver may tick several plans and approve or reject them with one
comment (``decide``): each plan is decided on its own, through the same
``PlanService`` call as its page and the API, so each gets its own audit
event; one that is refused (its author, a scope, a state that changed) is
listed with the reason beside the others' results, and hides none of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Form, Query, Request
from pydantic import StringConstraints
from starlette.responses import Response

from planner.core.errors import PvaError
from sidecar.edge.params import Storable
from sidecar.edge.state import app_state
from sidecar.errors import UnknownPlan
from sidecar.service.plans import check_path_filter
from sidecar.web.cases import summaries
from sidecar.web.guard import PageRoute, Poster, Signed, Viewer
from sidecar.web.plans import CommentField, comment_or_refusal
from sidecar.web.render import html
from sidecar.web.state import web_state
from sidecar.web.views import Summary
from sidecar.workflow import APPROVING_ROLES, State

router = APIRouter(route_class=PageRoute, include_in_schema=False)
LISTED = 200  # newest plans read per inbox view; the search filters within them
POLL_SECONDS = 4
MAX_DECIDED = 100  # plans one batch decision may name
DECIDABLE = frozenset({State.PENDING, State.APPROVED})  # the states a batch may approve or reject

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


@dataclass(frozen=True)
class Result:
    """What became of one plan of a batch decision: its new state, or why it was refused."""

    digest: str
    title: str
    state: str | None  # None: refused
    refusal: str = ""


@router.get("/")
def inbox(request: Request, who: Viewer, chosen: Filtered) -> Response:
    return _inbox(request, who, chosen)


def _inbox(
    request: Request, who: Signed, chosen: Filter, *, results: list[Result] | None = None, error: str = ""
) -> Response:
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
        pickable=_pickable(who, chosen.state),
        results=results or [],
        error=error,
        code=422 if error else 200,
    )


def _pickable(who: Signed, state: State) -> bool:
    """True when the rows get a box to tick: plans a batch can decide, for people who decide plans."""
    return state in DECIDABLE and who.principal.role in APPROVING_ROLES


@router.get("/inbox/rows")
def inbox_rows(request: Request, who: Viewer, chosen: Filtered) -> Response:
    """The table body alone, for the page's script to swap in when plans arrive or leave."""
    rows = _rows(request, who, chosen)
    templates = web_state(request).templates
    pickable = _pickable(who, chosen.state)
    return html(templates, request, "inbox_rows.html", rows=rows, state=chosen.state.value, pickable=pickable)


PlanIds = Annotated[
    list[Annotated[str, StringConstraints(pattern="^[0-9a-f]{8,64}$")]], Form(max_length=MAX_DECIDED)
]


@router.post("/inbox/decide")
def decide(
    request: Request,
    who: Poster,
    chosen: Filtered,
    *,
    decision: Annotated[Literal["approve", "reject"], Form()],
    plan: PlanIds = [],  # noqa: B006  # FastAPI copies a default; the ticked plans
    comment: CommentField = "",
) -> Response:
    """Approve or reject every ticked plan with one comment, each on its own; the inbox lists the results."""
    text, refused = comment_or_refusal(comment)
    if refused or not plan:
        return _inbox(request, who, chosen, error=refused or "Tick the plans to decide first.")
    return _inbox(
        request, who, chosen, results=[_decide_one(request, who, ref, decision, text) for ref in plan]
    )


def _decide_one(request: Request, who: Signed, ref: str, decision: str, comment: str) -> Result:
    plans = app_state(request).services.plans
    try:
        act = plans.approve if decision == "approve" else plans.reject
        stored = act(ref, who.principal, comment)
    except UnknownPlan:  # nothing of a plan behind the wall, not even the id sent back
        return Result("", "A plan", None, "no plan you may see has that id")
    except PvaError as error:  # refused: this plan only; the others are decided all the same
        return Result(ref, ref[:12], None, str(error))
    return Result(stored.digest, stored.title, stored.case.state.value)
