"""The holds page: the legal holds a person may see, and for counsel and admins, forms to place and release.

The forms call the same ``HoldService`` as the API (``/v1/holds``), so the
roles, the scopes and the wall hold here as there: a hold reaching into the
viewer's scope from outside it is listed redacted.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Path, Request
from pydantic import ValidationError
from starlette.responses import RedirectResponse, Response

from planner.core.errors import PvaError
from sidecar.edge.params import HoldRelease, HoldRequest
from sidecar.edge.state import app_state
from sidecar.service.holds import may_hold
from sidecar.web.guard import PageRoute, Poster, Signed, Viewer
from sidecar.web.render import html
from sidecar.web.state import web_state

router = APIRouter(prefix="/holds", route_class=PageRoute, include_in_schema=False)
HoldId = Annotated[str, Path(pattern="^hold_[0-9a-f]{12}$")]
Field = Annotated[str, Form(max_length=70_000)]
DONE = {"place": "The hold is in force.", "release": "The hold is released."}


@router.get("")
def holds_page(request: Request, who: Viewer, done: str = "") -> Response:
    return _render(request, who, done=DONE.get(done, ""))


def _render(request: Request, who: Signed, *, done: str = "", error: str = "", code: int = 200) -> Response:
    holds = app_state(request).services.holds.list(who.principal, active=False)
    return html(
        web_state(request).templates,
        request,
        "holds.html",
        code=code,
        who=who,
        holds=holds,
        may_hold=may_hold(who.principal),
        done=done,
        error=error,
    )


@router.post("")
def place(
    request: Request, who: Poster, paths: Field = "", matter: Field = "", reason: Field = ""
) -> Response:
    listed = [line.strip() for line in paths.splitlines() if line.strip()]
    try:
        asked = HoldRequest.model_validate({"paths": listed, "matter": matter, "reason": reason})
        app_state(request).services.holds.place(
            who.principal, asked.paths, matter=asked.matter, reason=asked.reason
        )
    except ValidationError:
        return _render(request, who, error=_INCOMPLETE, code=422)
    except PvaError as error:
        return _render(request, who, error=str(error), code=422)
    return RedirectResponse("/holds?done=place", status_code=303)


@router.post("/{hold_id}/release")
def release(request: Request, who: Poster, hold_id: HoldId, reason: Field = "") -> Response:
    try:
        asked = HoldRelease.model_validate({"reason": reason})
    except ValidationError:
        return _render(request, who, error="Write why the hold ends: it goes to the audit.", code=422)
    app_state(request).services.holds.release(who.principal, hold_id, reason=asked.reason)
    return RedirectResponse("/holds?done=release", status_code=303)


_INCOMPLETE = "Give at least one store path (one a line), the matter and the reason: all go to the audit."
