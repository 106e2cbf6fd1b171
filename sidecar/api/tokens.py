"""Routes for sandbox tokens: ``POST /v1/tokens/sandbox`` and ``POST /v1/tokens/{id}/revoke``.

A principal (not a read-only one) makes a read-only agent token narrower
than its own, for an agent in a sandbox (``pva runloop run --view lazy``):
scopes inside its own, expiring within ``PVA_SANDBOX_TOKEN_TTL``; and revokes
it when the run ends. Other tokens are made with ``pva token create``, on
the database, never over HTTP.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from sidecar.api.models import ErrorBody, json_response
from sidecar.api.requests import json_body
from sidecar.edge.auth import Caller, require
from sidecar.edge.state import app_state
from sidecar.tokens import Role

router = APIRouter(prefix="/v1/tokens", tags=["tokens"])
ERRORS: dict[int | str, dict[str, object]] = {
    status: {"model": ErrorBody} for status in (401, 403, 404, 422, 429)
}


class SandboxIn(BaseModel):
    """What the sandbox's token may read, and for how long."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    scopes: list[Annotated[str, Field(max_length=4096)]] = Field(min_length=1, max_length=100)
    ttl_seconds: int = Field(ge=1, le=2**31, description="Its lifetime (capped at PVA_SANDBOX_TOKEN_TTL)")


async def sandbox_body(request: Request) -> SandboxIn:
    return await json_body(request, SandboxIn)


class SandboxOut(BaseModel):
    """A read-only token: its secret is shown once, here."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    name: str
    secret: str
    scopes: list[str]
    expires: datetime
    read_only: bool


class RevokedOut(BaseModel):
    """A token revoked (or already so)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    status: str


@router.post(
    "/sandbox",
    operation_id="createSandboxToken",
    status_code=201,
    response_model=SandboxOut,
    responses=ERRORS,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": SandboxIn.model_json_schema()}},
        }
    },
    summary="A read-only token, narrower than the caller's, for an agent in a sandbox",
)
def create_sandbox_token(
    request: Request, who: Caller, body: Annotated[SandboxIn, Depends(sandbox_body)]
) -> Response:
    require(who, Role.AGENT, Role.APPROVER, Role.ADMIN)
    state = app_state(request)
    ttl, most = timedelta(seconds=body.ttl_seconds), state.settings.sandbox_token_ttl
    info, secret = state.services.tokens.sandbox(who, body.scopes, ttl, max_ttl=most)
    assert info.expires is not None
    out = SandboxOut(
        id=info.id,
        name=info.name,
        secret=secret,
        scopes=list(info.scopes),
        expires=info.expires,
        read_only=True,
    )
    return json_response(out, 201)


@router.post(
    "/{token_id}/revoke",
    operation_id="revokeOwnToken",
    response_model=RevokedOut,
    responses=ERRORS,
    summary="Revoke a token the caller made (admins: any)",
)
def revoke_own_token(
    request: Request, who: Caller, token_id: Annotated[str, Path(max_length=40)]
) -> RevokedOut:
    info = app_state(request).services.tokens.revoke_own(token_id, who)
    return RevokedOut(id=info.id, status=info.status)
