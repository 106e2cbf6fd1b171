"""Route for uploads: ``POST /v1/blobs?sha256=`` stores content a plan's write names by ``content_ref``.

The body is the blob's bytes, streamed: spooled to a temporary file as it
arrives (never held in memory; ``BodyLimit`` cuts it at ``PVA_MAX_BLOB_BYTES``),
then handed to ``BlobService.upload``, which checks its sha256, the limit and
the token's quota.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from typing import IO, Annotated

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from sidecar.api.models import ErrorBody, json_response
from sidecar.backends.base import CHUNK
from sidecar.edge.auth import Caller, require
from sidecar.edge.state import app_state
from sidecar.service.plans import check_writer
from sidecar.tokens import Role

router = APIRouter(prefix="/v1", tags=["blobs"])


class BlobOut(BaseModel):
    """An uploaded blob: name it in a write as ``content_ref``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    sha256: str
    size: int
    content_ref: str


@router.post(
    "/blobs",
    operation_id="uploadBlob",
    status_code=201,
    response_model=BlobOut,
    responses={
        200: {"model": BlobOut, "description": "This token had uploaded these bytes already"},
        **{status: {"model": ErrorBody} for status in (401, 403, 413, 422, 429)},
    },
    openapi_extra={"requestBody": {"content": {"application/octet-stream": {}}, "required": True}},
    summary="Upload content for a plan's write (content_ref)",
)
async def upload_blob(
    request: Request,
    who: Caller,
    sha256: Annotated[str, Query(min_length=64, max_length=64, description="The sha256 of the body, hex")],
) -> Response:
    require(who, Role.AGENT, Role.APPROVER, Role.ADMIN)
    check_writer(who)
    with tempfile.TemporaryFile() as spool:
        async for chunk in request.stream():
            spool.write(chunk)
        spool.seek(0)
        stored = await run_in_threadpool(
            app_state(request).services.require_blobs().upload, who, sha256, _read(spool)
        )
    body = BlobOut(sha256=stored.sha256, size=stored.size, content_ref=stored.sha256)
    return json_response(body, 201 if stored.created else 200)


def _read(spool: IO[bytes]) -> Iterator[bytes]:
    while chunk := spool.read(CHUNK):
        yield chunk
