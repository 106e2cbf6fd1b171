"""Routes of ``/v1/holds``: place, list, show and release legal holds.

Each parses, calls one ``HoldService`` use case and returns a response model.
Lists and shows are behind the ethical wall: a hold reaching into the
caller's scope from outside it comes redacted (``sidecar.walls.hold_sight``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from sidecar.api.models import ErrorBody
from sidecar.api.requests import HoldBody, ReleaseBody, body_schema
from sidecar.edge.auth import Caller
from sidecar.edge.state import app_state
from sidecar.service.holds import HoldView

router = APIRouter(prefix="/v1/holds", tags=["holds"])
ERRORS: dict[int | str, dict[str, object]] = {
    status: {"model": ErrorBody} for status in (401, 403, 404, 409, 413, 422, 429, 503)
}
HoldId = Annotated[str, Path(pattern="^hold_[0-9a-f]{12}$", description="The hold's id")]


class HoldOut(BaseModel):
    """A legal hold; a ``redacted`` one shows only its id, status and the held paths in the caller's scope."""

    model_config = ConfigDict(frozen=True)

    id: str
    status: Literal["active", "released"]
    redacted: bool
    paths: list[str] = Field(
        description="Store paths it preserves (when redacted: those in the caller's scope)"
    )
    matter: str | None
    reason: str | None
    placed: datetime
    placed_by: str | None
    released: datetime | None
    released_by: str | None
    release_reason: str | None


class HoldList(BaseModel):
    """Holds the caller may see, oldest first."""

    model_config = ConfigDict(frozen=True)

    holds: list[HoldOut]


def hold_out(view: HoldView) -> HoldOut:
    info = view.info
    hidden = view.redacted
    return HoldOut(
        id=info.id,
        status="active" if info.active else "released",
        redacted=hidden,
        paths=list(info.paths),
        matter=None if hidden else info.matter,
        reason=None if hidden else info.reason,
        placed=info.placed,
        placed_by=None if hidden else info.placed_by,
        released=info.released,
        released_by=None if hidden else info.released_by,
        release_reason=None if hidden else info.release_reason,
    )


@router.post(
    "",
    operation_id="placeHold",
    response_model=HoldOut,
    status_code=201,
    responses=ERRORS,
    openapi_extra=body_schema("HoldRequest"),
    summary="Place a legal hold on store paths (counsel, admin)",
)
def place_hold(request: Request, who: Caller, body: HoldBody) -> HoldOut:
    holds = app_state(request).services.holds
    info = holds.place(who, body.paths, matter=body.matter, reason=body.reason)
    return hold_out(HoldView(info, redacted=False))


@router.get(
    "", operation_id="listHolds", response_model=HoldList, responses=ERRORS, summary="List legal holds"
)
def list_holds(
    request: Request,
    who: Caller,
    *,
    released: Annotated[bool, Query(description="Also list released holds")] = False,
) -> HoldList:
    views = app_state(request).services.holds.list(who, active=not released)
    return HoldList(holds=[hold_out(view) for view in views])


@router.get(
    "/{hold_id}", operation_id="getHold", response_model=HoldOut, responses=ERRORS, summary="Show a hold"
)
def get_hold(request: Request, who: Caller, hold_id: HoldId) -> HoldOut:
    return hold_out(app_state(request).services.holds.get(who, hold_id))


@router.post(
    "/{hold_id}/release",
    operation_id="releaseHold",
    response_model=HoldOut,
    responses=ERRORS,
    openapi_extra=body_schema("HoldRelease"),
    summary="Release a legal hold (counsel, admin)",
)
def release_hold(request: Request, who: Caller, hold_id: HoldId, body: ReleaseBody) -> HoldOut:
    info = app_state(request).services.holds.release(who, hold_id, reason=body.reason)
    return hold_out(HoldView(info, redacted=False))
