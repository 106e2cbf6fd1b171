"""One place that turns pva's exceptions into HTTP answers: ``{"error": {code, message, problems}}``.

Routes raise the service's ``PvaError``s; nothing else chooses a status.
Anything unexpected is a 500 whose body says nothing about the internals
(the log has the traceback).
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from planner.core.errors import PlanSyntaxError, PvaError, TreeError
from sidecar.audit.checkpoints import CheckpointError
from sidecar.audit.custody_source import ReportTooLarge
from sidecar.edge.auth import Forbidden, Unauthenticated
from sidecar.edge.ratelimit import RateLimited
from sidecar.errors import (
    AuditError,
    CommittedError,
    LeaseLost,
    LockTimeout,
    NotInStore,
    NotMigrated,
    Refused,
    StoreError,
    UnknownPlan,
)
from sidecar.holds import InvalidHoldRequest, UnknownHold
from sidecar.notify.outbox import UnknownWebhook, WebhookError
from sidecar.service.blobs import BlobMismatch, BlobTooLarge
from sidecar.service.cases import Conflict
from sidecar.service.plans import BadOp, BadPath
from sidecar.tokens import InvalidTokenRequest, UnknownToken
from sidecar.workflow import AlreadyApproved, IllegalTransition, NotAllowed, NotApproved, PartRefused

log = logging.getLogger("pva.api")

# Most specific first: the first class the error is an instance of decides.
STATUS: tuple[tuple[type[PvaError], int, str], ...] = (
    (PlanSyntaxError, 422, "invalid_request"),
    (BadPath, 422, "invalid_path"),
    (BadOp, 422, "invalid_request"),
    (InvalidTokenRequest, 422, "invalid_request"),
    (UnknownToken, 404, "not_found"),
    (BlobMismatch, 422, "blob_mismatch"),
    (BlobTooLarge, 413, "too_large"),
    (Unauthenticated, 401, "unauthenticated"),
    (Forbidden, 403, "forbidden"),
    (NotAllowed, 403, "not_allowed"),
    (RateLimited, 429, "rate_limited"),
    (UnknownPlan, 404, "not_found"),
    (UnknownWebhook, 404, "not_found"),
    (WebhookError, 422, "invalid_request"),
    (UnknownHold, 404, "not_found"),
    (InvalidHoldRequest, 422, "invalid_request"),
    (AlreadyApproved, 409, "already_approved"),
    (IllegalTransition, 409, "illegal_transition"),
    (NotApproved, 409, "not_approved"),
    (PartRefused, 409, "part_refused"),  # the part a person chose fails verification: nothing approved
    (Conflict, 409, "conflict"),
    (LockTimeout, 503, "busy"),
    (LeaseLost, 503, "lease_lost"),  # another replica took the apply over: it settles it
    (CommittedError, 503, "applied_unfinished"),  # the message says the plan is applied
    (NotInStore, 404, "not_found"),
    (Refused, 409, "refused"),
    (TreeError, 409, "store_conflict"),
    (NotMigrated, 503, "database_not_ready"),
    (StoreError, 503, "store_unavailable"),
    (ReportTooLarge, 422, "report_too_large"),
    (CheckpointError, 503, "signing_unavailable"),  # no key to sign a custody report with
    (AuditError, 503, "database_unavailable"),
)


def problem(
    status: int, code: str, message: str, problems: list[dict[str, str]] | None = None
) -> JSONResponse:
    body = {"error": {"code": code, "message": message, "problems": problems or []}}
    return JSONResponse(body, status_code=status)


def pva_error(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, PvaError)
    status, code = next(((s, c) for kind, s, c in STATUS if isinstance(error, kind)), (400, "bad_request"))
    if status >= 500:
        log.warning("request failed: %s", error)
    details = (
        [{"location": p.location, "message": p.message} for p in error.problems]
        if isinstance(error, PlanSyntaxError)
        else _part_problems(error)
    )
    if isinstance(error, BlobTooLarge):
        code = error.code  # too_large, or over_quota
    response = problem(status, code, str(error), details)
    if isinstance(error, RateLimited):
        response.headers["Retry-After"] = str(max(1, round(error.retry_after + 0.5)))
    if isinstance(error, Unauthenticated):
        response.headers["WWW-Authenticate"] = "Bearer"
    return response


def _part_problems(error: PvaError) -> list[dict[str, str]] | None:
    """Why the part of a plan a person chose fails verification, op by op (0-based, as in the plan's JSON)."""
    if not isinstance(error, PartRefused):
        return None
    return [
        {"location": "" if d.op_index is None else f"/ops/{d.op_index}", "message": f"{d.code}: {d.message}"}
        for d in error.diagnostics[:50]
    ]


def invalid_parameters(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    details = [
        {"location": "/" + "/".join(str(part) for part in item["loc"]), "message": str(item["msg"])}
        for item in error.errors()[:50]
    ]
    return problem(422, "invalid_request", "the request's parameters are not valid", details)


def http_error(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, HTTPException)
    code = {404: "not_found", 405: "method_not_allowed"}.get(error.status_code, "http_error")
    response = problem(error.status_code, code, str(error.detail))
    for name, value in (error.headers or {}).items():
        response.headers[name] = value
    return response


def unexpected(_request: Request, error: Exception) -> JSONResponse:
    log.error("unexpected error", exc_info=error)
    return problem(500, "internal_error", "the sidecar failed; the operator's log has the details")


def install(app: FastAPI) -> None:
    app.add_exception_handler(PvaError, pva_error)
    app.add_exception_handler(RequestValidationError, invalid_parameters)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(Exception, unexpected)
