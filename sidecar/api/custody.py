"""Route for custody reports: ``GET /v1/custody``, a signed report as JSON, HTML or CSV."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from sidecar.api.models import ErrorBody
from sidecar.edge.auth import Caller
from sidecar.edge.params import Storable, UtcTime
from sidecar.edge.state import app_state
from sidecar.service.custody import custody_download

router = APIRouter(prefix="/v1", tags=["audit"])
ERRORS: dict[int | str, dict[str, object]] = {
    status: {"model": ErrorBody} for status in (401, 403, 404, 422, 429, 503)
}
Place = Annotated[Storable | None, Query(min_length=1, max_length=4096)]


@router.get(
    "/custody",
    operation_id="getCustodyReport",
    responses={
        200: {
            "content": {"application/json": {}, "text/html": {}, "text/csv": {}},
            "description": "A signed custody report (docs/security.md: checking one offline)",
        },
        **ERRORS,
    },
    response_class=Response,
    summary="A signed custody report of a document or a matter's folder",
)
def get_custody_report(
    request: Request,
    who: Caller,
    *,
    path: Annotated[Place, Query(description="A document: its history is followed across moves")] = None,
    matter: Annotated[Place, Query(description="A matter's folder: every document in it")] = None,
    since: Annotated[
        UtcTime | None, Query(alias="from", description="From this time (UTC if no zone)")
    ] = None,
    until: Annotated[
        UtcTime | None, Query(alias="to", description="Before this time (UTC if no zone)")
    ] = None,
    format: Annotated[Literal["json", "html", "csv"], Query()] = "json",  # noqa: A002  # the API's word
) -> Response:
    state = app_state(request)
    download = custody_download(
        state.services.custody, who, path=path, matter=matter, since=since, until=until, fmt=format
    )
    return Response(download.body, media_type=download.media_type, headers=download.headers)
