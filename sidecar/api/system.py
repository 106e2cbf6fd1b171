"""``/healthz`` (liveness, no token) and ``/metrics`` (Prometheus; whole-store auditors and admins).

``/healthz`` tells anyone whether the store and the database answer, and
only an admin where the store is (an absolute folder or bucket names the
machine's layout): a token, if sent, is checked like on any route.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from planner.core.errors import PvaError
from sidecar.api.models import ErrorBody, Health
from sidecar.edge.auth import Caller, bearer, principal, require
from sidecar.edge.state import app_state
from sidecar.tokens import Role
from sidecar.workflow import NotAllowed

router = APIRouter(tags=["system"])


@router.get(
    "/healthz",
    operation_id="getHealth",
    response_model=Health,
    responses={503: {"model": Health}},
    summary="Liveness: the store and the database answer",
)
def get_health(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> JSONResponse:
    who = None if credentials is None else principal(request, credentials)
    services = app_state(request).services
    problems = []
    database: Literal["ok", "failing"] = "ok"
    try:
        with services.audit.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError:
        database = "failing"
        problems.append("the audit database does not answer")
    try:
        services.backend.exists(".pva")
    except PvaError:
        problems.append("the store does not answer")
    health = Health(
        status="failing" if problems else "ok",
        store=services.backend.name if who is not None and who.role is Role.ADMIN else None,
        database=database,
        problems=problems,
    )
    return JSONResponse(health.model_dump(), status_code=503 if problems else 200)


@router.get(
    "/metrics",
    operation_id="getMetrics",
    responses={
        200: {"content": {"text/plain": {}}, "description": "Prometheus text format"},
        **{status: {"model": ErrorBody} for status in (401, 403, 429)},
    },
    response_class=Response,
    summary="Prometheus metrics",
)
def get_metrics(request: Request, who: Caller) -> Response:
    require(who, Role.AUDITOR, Role.ADMIN)
    if not who.whole_store:  # the ethical wall: the counts cover every matter, so only whole-store readers
        raise NotAllowed(f"{who.name} is scoped to {', '.join(who.scopes)}: metrics cover the whole store")
    return Response(app_state(request).metrics.render(), media_type="text/plain; version=0.0.4")
