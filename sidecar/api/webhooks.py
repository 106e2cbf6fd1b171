"""Routes of ``/v1/webhooks`` (whole-store admins): add, list and remove webhooks; their deliveries.

Adding one answers its signing secret, this once. The deliveries list shows
each event sent or to send, its tries and its last error. Only an admin
scoped to the whole store may: a webhook may hear of any matter, and the
deliveries name plans of every matter (the ethical wall).
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from planner.core.errors import PlanSyntaxError, SchemaProblem
from sidecar.api.models import ErrorBody, json_response
from sidecar.api.requests import body_schema
from sidecar.edge.auth import Caller, require
from sidecar.edge.body import read_json
from sidecar.edge.state import app_state
from sidecar.notify.notices import KINDS, NoticeKind
from sidecar.tokens import Principal, Role
from sidecar.workflow import NotAllowed

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])
ERRORS: dict[int | str, dict[str, object]] = {
    status: {"model": ErrorBody} for status in (401, 403, 404, 413, 422, 429, 503)
}
WebhookId = Annotated[str, Path(pattern="^whk_[0-9a-f]{12}$", description="The webhook's id")]


def _admin(who: Principal) -> None:
    """Forbidden unless ``who`` is an admin, NotAllowed unless their scope is the whole store."""
    require(who, Role.ADMIN)
    if not who.whole_store:
        raise NotAllowed(f"{who.name} is scoped to {', '.join(who.scopes)}: webhooks cover the whole store")


class WebhookIn(BaseModel):
    """A webhook to add: where to POST, which events, within which scopes, in which format."""

    model_config = ConfigDict(extra="forbid", strict=True)

    url: str = Field(max_length=2000, description="http:// or https:// (https in production)")
    events: list[NoticeKind] = Field(default_factory=list, max_length=len(KINDS), description="Default: all.")
    scopes: list[str] = Field(
        default_factory=list, max_length=100, description="Store paths; default: the whole store."
    )
    format: Literal["json", "slack"] = "json"


class WebhookOut(BaseModel):
    """A webhook as listed (never its secret)."""

    id: str
    url: str
    events: list[NoticeKind]
    scopes: list[str]
    format: Literal["json", "slack"]
    created: str
    created_by: str


class WebhookAdded(BaseModel):
    """A webhook just added, and its signing secret: shown this once."""

    webhook: WebhookOut
    secret: str


class WebhookList(BaseModel):
    """The webhooks, oldest first."""

    webhooks: list[WebhookOut]


class WebhookRemoved(BaseModel):
    """The webhook just removed."""

    webhook: WebhookOut


class DeliveryOut(BaseModel):
    """One event sent, or to send, to one target, with how its tries went."""

    id: str
    event_id: int
    event: str
    plan: str
    channel: Literal["webhook", "mail"]
    target: str
    status: Literal["pending", "delivered", "failed"]
    attempts: int
    next_attempt: str | None
    last_status: int | None
    last_error: str | None
    created: str
    delivered: str | None


class DeliveryList(BaseModel):
    """Deliveries, newest first."""

    deliveries: list[DeliveryOut]


async def webhook_body(request: Request) -> WebhookIn:
    document = read_json(await request.body(), app_state(request).limits)
    try:
        return WebhookIn.model_validate(document)
    except ValidationError as error:
        problems = [
            SchemaProblem("/" + "/".join(str(part) for part in item["loc"]), item["msg"])
            for item in error.errors()
        ]
        raise PlanSyntaxError(problems, what="request body") from None


@router.post(
    "",
    operation_id="addWebhook",
    response_model=WebhookAdded,
    status_code=201,
    responses=ERRORS,
    openapi_extra=body_schema("WebhookIn"),
    summary="Add a webhook; the answer holds its signing secret, this once",
)
def add_webhook(request: Request, who: Caller, body: Annotated[WebhookIn, Depends(webhook_body)]) -> Response:
    _admin(who)
    outbox = app_state(request).services.outbox
    hook, secret = outbox.add_webhook(
        body.url, events=body.events, scopes=body.scopes, format=body.format, created_by=who.name
    )
    return json_response({"webhook": hook.to_json(), "secret": secret}, 201)


@router.get(
    "",
    operation_id="listWebhooks",
    response_model=WebhookList,
    responses=ERRORS,
    summary="The webhooks (never their secrets)",
)
def list_webhooks(request: Request, who: Caller) -> Response:
    _admin(who)
    hooks = app_state(request).services.outbox.webhooks()
    return json_response({"webhooks": [hook.to_json() for hook in hooks]})


@router.get(
    "/deliveries",
    operation_id="listDeliveries",
    response_model=DeliveryList,
    responses=ERRORS,
    summary="Deliveries, newest first: their tries and failures",
)
def list_deliveries(
    request: Request,
    who: Caller,
    webhook: Annotated[str | None, Query(max_length=254, pattern=r"^[^\x00-\x1f\x7f]+$")] = None,
    status: Literal["pending", "delivered", "failed"] | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> Response:
    _admin(who)
    found = app_state(request).services.outbox.deliveries(target=webhook, status=status, limit=limit)
    return json_response({"deliveries": [delivery.to_json() for delivery in found]})


@router.delete(
    "/{webhook_id}",
    operation_id="removeWebhook",
    response_model=WebhookRemoved,
    responses=ERRORS,
    summary="Remove a webhook: it hears nothing more, and what was still due to it is given up",
)
def remove_webhook(request: Request, who: Caller, webhook_id: WebhookId) -> Response:
    _admin(who)
    hook = app_state(request).services.outbox.remove_webhook(webhook_id)
    return json_response({"webhook": hook.to_json()})
