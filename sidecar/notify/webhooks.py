"""Sending one webhook delivery: the body, its signature headers, and what the receiver answered.

Headers: ``X-Pva-Event`` (the kind), ``X-Pva-Delivery`` (the same on every
retry: a receiver drops a repeat by it), ``X-Pva-Timestamp`` (Unix seconds)
and ``X-Pva-Signature`` (``v1=`` HMAC-SHA256 of ``timestamp.body`` under the
webhook's secret; docs/security.md shows the check). Any 2xx is delivered;
anything else, or no answer within the timeout, is retried. Redirects are
not followed: a receiver that moved is a failure an operator should see.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

import httpx

from sidecar.notify.notices import signature, slack_body, webhook_body
from sidecar.notify.outbox import Claimed


@dataclass(frozen=True)
class Answer:
    """How one try went: delivered, the HTTP status if there was one, and the error in words."""

    delivered: bool
    status: int | None
    error: str | None


def body_of(taken: Claimed, link: str | None) -> bytes:
    """The bytes sent for ``taken``: the notice as JSON, or a Slack ``text`` for a webhook in that format."""
    assert taken.webhook is not None
    if taken.webhook.format == "slack":
        document = slack_body(taken.notice, link)
    else:
        document = webhook_body(taken.notice, event_id=taken.event_id, delivery=taken.id, link=link)
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def send(client: httpx.Client, taken: Claimed, *, link: str | None, now: datetime) -> Answer:
    """POST ``taken`` to its webhook, signed; never raises for what the network or receiver does."""
    assert taken.webhook is not None
    body = body_of(taken, link)
    timestamp = int(now.timestamp())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "pva-webhooks/1",
        "X-Pva-Event": taken.notice.kind,
        "X-Pva-Delivery": taken.id,
        "X-Pva-Timestamp": str(timestamp),
        "X-Pva-Signature": signature(taken.webhook.secret, timestamp, body),
    }
    try:
        response = client.post(taken.webhook.url, content=body, headers=headers)
    except httpx.HTTPError as error:
        return Answer(delivered=False, status=None, error=f"{type(error).__name__}: {error}"[:500])
    if response.is_success:
        return Answer(delivered=True, status=response.status_code, error=None)
    return Answer(delivered=False, status=response.status_code, error=f"HTTP {response.status_code}")
