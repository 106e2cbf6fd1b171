"""``SqlOutbox``: the outbox of plan events, the webhooks that hear of them, and every delivery.

``record`` writes a notice in the caller's transaction (the case store's, the
one that changes the plan): the event exists exactly when the change does.
Workers in any number of processes and replicas then share the work without
a coordinator: ``dispatch`` fans each new event out into deliveries (one per
webhook and per approver to mail, never two for one event and target: a
unique key), and ``claim`` hands each due delivery to one worker for a lease.
On PostgreSQL both take their rows with ``SELECT ... FOR UPDATE SKIP LOCKED``;
SQLite has one writer at a time (``BEGIN IMMEDIATE``). A worker that dies
holding a claim loses it when its lease ends, and the delivery is tried
again: at least once, with the same delivery id, so a receiver can drop a
repeat.
"""

from __future__ import annotations

import builtins
import json
import re
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import Connection, delete, insert, or_, select, update
from sqlalchemy.orm import Session

from planner.core.errors import PvaError
from sidecar import db
from sidecar.audit.chain import iso
from sidecar.audit.tables import OUTBOX, DeliveryRow, OutboxRow, TokenRow, WebhookRow
from sidecar.notify.notices import KINDS, Notice, NoticeKind, checked_events
from sidecar.tokens import InvalidTokenRequest, Principal, Role, checked_actor, checked_scopes, stored_scopes
from sidecar.walls import sees_plan
from sidecar.workflow import APPROVING_ROLES

Channel = Literal["webhook", "mail"]
Format = Literal["json", "slack"]
Status = Literal["pending", "delivered", "failed"]
WEBHOOK_PREFIX = "whk_"
SECRET_PREFIX = "whsec_"  # noqa: S105  # a prefix, not a secret: recognisable in logs and by scanners
MAX_URL = 2000
MAX_ERROR = 500
MAIL_LOCK_KEY = 0x7076612D6D6C  # pg_advisory_xact_lock key of mail claims ("pva-ml")
_WEBHOOK_ID = re.compile(r"whk_[0-9a-f]{12}")
_URL = re.compile(r"https?://[^\s/?#@]+(?:[/?#]\S*)?", re.IGNORECASE)


class WebhookError(PvaError):
    """A webhook request the store refuses (a bad URL, event or scope; an unknown webhook)."""

    exit_code = 2


class UnknownWebhook(WebhookError):
    """No webhook has that id (or it was removed)."""


def record(session: Session, notice: Notice, *, paths: Iterable[str], authors: Iterable[str]) -> None:
    """Add ``notice`` to the outbox in ``session``'s transaction: it is sent only if that commits."""
    session.connection().execute(
        insert(OUTBOX),
        {
            "time": notice.time,
            "kind": notice.kind,
            "digest": notice.digest,
            "paths": json.dumps(sorted(paths), ensure_ascii=False),
            "authors": json.dumps(list(authors), ensure_ascii=False),
            "payload": json.dumps(notice.to_json(), ensure_ascii=False),
            "dispatched": None,
        },
    )


@dataclass(frozen=True)
class Webhook:
    """A webhook as listed: everything but its secret."""

    id: str
    url: str
    events: tuple[NoticeKind, ...]
    scopes: tuple[str, ...]
    format: Format
    created: datetime
    created_by: str

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "url": self.url,
            "events": list(self.events),
            "scopes": list(self.scopes),
            "format": self.format,
            "created": iso(self.created),
            "created_by": self.created_by,
        }


@dataclass(frozen=True)
class Delivery:
    """One event sent, or to send, to one target, with how its tries went."""

    id: str
    event_id: int
    event: str
    digest: str
    channel: Channel
    target: str  # a webhook's id, or an e-mail address
    status: Status
    attempts: int
    next_at: datetime
    last_status: int | None
    last_error: str | None
    created: datetime
    delivered: datetime | None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "event_id": self.event_id,
            "event": self.event,
            "plan": self.digest,
            "channel": self.channel,
            "target": self.target,
            "status": self.status,
            "attempts": self.attempts,
            "next_attempt": iso(self.next_at) if self.status == "pending" else None,
            "last_status": self.last_status,
            "last_error": self.last_error,
            "created": iso(self.created),
            "delivered": None if self.delivered is None else iso(self.delivered),
        }


@dataclass(frozen=True)
class Claimed:
    """A delivery a worker holds until its lease ends: what to send, and where."""

    id: str
    claim: str
    event_id: int
    attempts: int  # this try included
    notice: Notice
    target: str
    webhook: WebhookTarget | None  # None for mail


@dataclass(frozen=True)
class WebhookTarget:
    """Where and how a webhook delivery is sent (its secret included: only the worker holds this)."""

    url: str
    secret: str
    format: Format


class SqlOutbox(db.SqlStore):
    """The outbox, webhooks and deliveries in the audit database."""

    # -- webhooks -----------------------------------------------------------------

    def add_webhook(
        self,
        url: str,
        *,
        events: Iterable[str] = (),
        scopes: Iterable[str] = (),
        format: Format = "json",  # noqa: A002  # the option's name
        created_by: str = "pva",
    ) -> tuple[Webhook, str]:
        """Add a webhook; return it and its signing secret (shown this once; kept to sign with)."""
        webhook_id, secret = WEBHOOK_PREFIX + secrets.token_hex(6), SECRET_PREFIX + secrets.token_urlsafe(32)
        row = {
            "id": webhook_id,
            "url": checked_url(url),
            "events": json.dumps(_events(events)),
            "scopes": json.dumps(_scopes(scopes), ensure_ascii=False),
            "format": _format(format),
            "secret": secret,
            "created": self._clock(),
            "created_by": _actor(created_by),
            "removed": None,
        }
        with self._sessions() as session, session.begin():
            session.execute(insert(WebhookRow), [row])
        return self.webhook(webhook_id), secret

    def webhook(self, webhook_id: str) -> Webhook:
        with self._sessions() as session:
            row = session.get(WebhookRow, webhook_id) if _WEBHOOK_ID.fullmatch(webhook_id) else None
        if row is None or row.removed is not None:
            raise UnknownWebhook(f"no webhook {webhook_id!r}")
        return _webhook(row)

    def webhooks(self) -> builtins.list[Webhook]:
        """The webhooks not removed, oldest first."""
        query = select(WebhookRow).where(WebhookRow.removed.is_(None)).order_by(WebhookRow.created)
        with self._sessions() as session:
            return [_webhook(row) for row in session.scalars(query)]

    def remove_webhook(self, webhook_id: str) -> Webhook:
        """Remove a webhook: it hears of nothing more, and its deliveries still due are given up."""
        found = self.webhook(webhook_id)
        now = self._clock()
        with self._sessions() as session, session.begin():
            session.execute(update(WebhookRow).where(WebhookRow.id == found.id).values(removed=now))
            session.execute(
                update(DeliveryRow)
                .where(DeliveryRow.target == found.id, DeliveryRow.status == "pending")
                .values(status="failed", last_error="the webhook was removed", claim=None, lease_until=None)
            )
        return found

    # -- the worker's side ----------------------------------------------------------

    def dispatch(self, *, mail: bool, limit: int = 100) -> int:
        """Fan new events out into deliveries (webhooks; approvers to mail, when ``mail``); how many events.

        Each event is taken by one worker (its row locked, others skip it) and
        marked dispatched in the same transaction as its deliveries.
        """
        waiting = select(OutboxRow.id).where(OutboxRow.dispatched.is_(None)).limit(1)
        with self._sessions() as session:
            if session.scalar(waiting) is None:  # the common case: no write transaction at all
                return 0
        now = self._clock()
        with db.writing(self.engine) as connection:
            rows = connection.execute(
                select(OutboxRow)
                .where(OutboxRow.dispatched.is_(None))
                .order_by(OutboxRow.id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            ).all()
            if not rows:
                return 0
            hooks = [_webhook(row) for row in _rows(connection, WebhookRow, WebhookRow.removed.is_(None))]
            readers = _mail_readers(connection, now) if mail else []
            deliveries = [
                _delivery(row.id, channel, target, now)
                for row in rows
                for channel, target in _targets(row, hooks, readers)
            ]
            if deliveries:
                connection.execute(insert(DeliveryRow), deliveries)
            ids = [row.id for row in rows]
            connection.execute(update(OutboxRow).where(OutboxRow.id.in_(ids)).values(dispatched=now))
        return len(rows)

    def claim(self, channel: Channel, *, lease: timedelta, limit: int = 20) -> builtins.list[Claimed]:
        """Take up to ``limit`` due deliveries of ``channel`` for ``lease``; their try is counted now."""
        now = self._clock()
        due = _due(channel, now)
        with self._sessions() as session:
            if session.scalar(select(DeliveryRow.id).where(*due).limit(1)) is None:
                return []
        claim = secrets.token_hex(8)
        with db.writing(self.engine) as connection:
            ids = connection.scalars(
                select(DeliveryRow.id)
                .where(*due)
                .order_by(DeliveryRow.next_at, DeliveryRow.id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            ).all()
            return self._take(connection, ids, claim, now + lease)

    def claim_mail(self, *, lease: timedelta, every: timedelta, limit: int = 50) -> dict[str, list[Claimed]]:
        """Take the due mail of each address not mailed within ``every``: one batch per address.

        An address mailed less than ``every`` ago waits; what was due for it
        meanwhile goes out together in its next mail.
        """
        now = self._clock()
        due = _due("mail", now)
        with self._sessions() as session:
            if session.scalar(select(DeliveryRow.id).where(*due).limit(1)) is None:
                return {}
        claim = secrets.token_hex(8)
        recent = (  # mailed within ``every``, or being mailed now
            select(DeliveryRow.target)
            .where(
                DeliveryRow.channel == "mail",
                or_(DeliveryRow.delivered > now - every, DeliveryRow.lease_until >= now),
            )
            .distinct()
        )
        # One claimer of mail at a time (an advisory lock on PostgreSQL), so two workers never
        # both see an address as not mailed this minute.
        with db.exclusive(self.engine, MAIL_LOCK_KEY) as connection:
            ids = connection.scalars(
                select(DeliveryRow.id)
                .where(*due, DeliveryRow.target.not_in(recent))
                .order_by(DeliveryRow.target, DeliveryRow.id)
                .limit(limit)
            ).all()
            batches: dict[str, list[Claimed]] = {}
            for taken in self._take(connection, ids, claim, now + lease):
                batches.setdefault(taken.target, []).append(taken)
            return batches

    def finish(
        self,
        taken: Claimed,
        *,
        delivered: bool,
        status: int | None = None,
        error: str | None = None,
        retry_at: datetime | None = None,
    ) -> bool:
        """Record how a claimed try went: delivered, to retry at ``retry_at``, or given up (no ``retry_at``).

        False when the claim was lost (its lease ended and another worker took it): nothing is written.
        """
        now = self._clock()
        values: dict[str, Any] = {"claim": None, "lease_until": None, "last_status": status}
        if delivered:
            values |= {"status": "delivered", "delivered": now, "last_error": None}
        else:
            values |= {"last_error": (error or "")[:MAX_ERROR]}
            values |= {"next_at": retry_at} if retry_at is not None else {"status": "failed"}
        mine = (DeliveryRow.id == taken.id, DeliveryRow.claim == taken.claim)
        with self._sessions() as session, session.begin():
            return bool(session.execute(update(DeliveryRow).where(*mine).values(values)).rowcount)  # type: ignore[attr-defined]

    def prune(self, before: datetime) -> tuple[int, int]:
        """Delete what is settled and older than ``before``: (deliveries, events) deleted.

        A delivery goes once delivered or given up and created before ``before``;
        an event once dispatched before it and left with no delivery. Pending
        deliveries (and their events) stay whatever their age: they are still
        being tried.
        """
        settled = (DeliveryRow.status.in_(("delivered", "failed")), DeliveryRow.created < before)
        with db.writing(self.engine) as connection:
            gone = connection.execute(delete(DeliveryRow).where(*settled)).rowcount
            kept = select(DeliveryRow.event_id).where(DeliveryRow.event_id == OutboxRow.id).exists()
            done = (OutboxRow.dispatched.is_not(None), OutboxRow.dispatched < before, ~kept)
            events = connection.execute(delete(OutboxRow).where(*done)).rowcount
        return int(gone), int(events)

    def deliveries(
        self, *, target: str | None = None, status: Status | None = None, limit: int = 100
    ) -> builtins.list[Delivery]:
        """Deliveries, newest first: to one target (a webhook's id or an address), in one status."""
        query = (
            select(DeliveryRow, OutboxRow.kind, OutboxRow.digest)
            .join(OutboxRow, OutboxRow.id == DeliveryRow.event_id)
            .order_by(DeliveryRow.created.desc(), DeliveryRow.id)
            .limit(max(1, min(limit, 1000)))
        )
        if target is not None:
            query = query.where(DeliveryRow.target == target)
        if status is not None:
            query = query.where(DeliveryRow.status == status)
        with self._sessions() as session:
            return [_delivery_info(row, kind, digest) for row, kind, digest in session.execute(query)]

    def _take(
        self, connection: Connection, ids: Sequence[str], claim: str, until: datetime
    ) -> builtins.list[Claimed]:
        if not ids:
            return []
        connection.execute(
            update(DeliveryRow)
            .where(DeliveryRow.id.in_(ids))
            .values(claim=claim, lease_until=until, attempts=DeliveryRow.attempts + 1)
        )
        query = (
            select(
                DeliveryRow.id,
                DeliveryRow.event_id,
                DeliveryRow.attempts,
                DeliveryRow.target,
                OutboxRow.payload,
                WebhookRow.url,
                WebhookRow.secret,
                WebhookRow.format,
            )
            .join(OutboxRow, OutboxRow.id == DeliveryRow.event_id)
            .outerjoin(WebhookRow, WebhookRow.id == DeliveryRow.target)
            .where(DeliveryRow.id.in_(ids))
            .order_by(DeliveryRow.target, DeliveryRow.id)
        )
        taken = []
        for row in connection.execute(query):
            hook = None if row.url is None else WebhookTarget(row.url, row.secret, _format(row.format))
            notice = Notice.from_json(json.loads(row.payload))
            taken.append(Claimed(row.id, claim, row.event_id, row.attempts, notice, row.target, hook))
        return taken


def checked_url(url: str) -> str:
    """A webhook URL: http or https, a host, no credentials in it, no spaces; WebhookError otherwise."""
    if len(url) > MAX_URL or not _URL.fullmatch(url) or not url.isprintable():
        raise WebhookError(
            f"webhook URL {url[:80]!r}: give an http:// or https:// URL with a host, no spaces"
        )
    return url


def _events(events: Iterable[str]) -> list[str]:
    try:
        return list(checked_events(events))
    except ValueError as error:
        raise WebhookError(str(error)) from None


def _scopes(scopes: Iterable[str]) -> tuple[str, ...]:
    try:
        return checked_scopes(Role.ADMIN, scopes)  # none given: the whole store, as for an admin
    except InvalidTokenRequest as error:
        raise WebhookError(str(error)) from None


def _format(format: str) -> Format:  # noqa: A002  # the option's name
    if format == "json":
        return "json"
    if format == "slack":
        return "slack"
    raise WebhookError(f"webhook format {format!r}: json or slack")


def _actor(actor: str) -> str:
    try:
        return checked_actor(actor)
    except InvalidTokenRequest as error:
        raise WebhookError(str(error)) from None


def _due(channel: Channel, now: datetime) -> tuple[Any, ...]:
    return (
        DeliveryRow.status == "pending",
        DeliveryRow.channel == channel,
        DeliveryRow.next_at <= now,
        or_(DeliveryRow.lease_until.is_(None), DeliveryRow.lease_until < now),
    )


def _rows(connection: Connection, table: Any, *where: Any) -> list[Any]:
    return list(connection.execute(select(table).where(*where)).all())


def _targets(
    event: Any, hooks: list[Webhook], readers: list[tuple[str, Principal]]
) -> list[tuple[Channel, str]]:
    """Who hears of ``event``: the webhooks that asked for its kind and whose scopes hold the plan.

    For a pending plan, also each approver with an address who may approve
    it: every path in their scope, and not one of its authors.
    """
    paths, authors = json.loads(event.paths), json.loads(event.authors)
    found: list[tuple[Channel, str]] = [
        ("webhook", hook.id)
        for hook in hooks
        if event.kind in hook.events and sees_plan(_reader(hook), authors=authors, paths=paths)
    ]
    if event.kind == "plan.pending":
        found += sorted(
            {
                ("mail", address)
                for address, who in readers
                if who.name not in authors and sees_plan(who, authors=authors, paths=paths)
            }
        )
    return found


def _reader(hook: Webhook) -> Principal:
    """A webhook reads as a scoped auditor: it hears of a plan only when every path is in its scopes."""
    return Principal(hook.id, hook.id, Role.AUDITOR, hook.scopes)


def _mail_readers(connection: Connection, now: datetime) -> list[tuple[str, Principal]]:
    """The live approvers and admins with an e-mail address."""
    rows = _rows(
        connection,
        TokenRow,
        TokenRow.email.is_not(None),
        TokenRow.revoked.is_(None),
        or_(TokenRow.expires.is_(None), TokenRow.expires > now),
        TokenRow.role.in_(sorted(APPROVING_ROLES)),
    )
    found = []
    for row in rows:
        scopes = stored_scopes(row.scopes)
        if scopes is not None and row.email:
            found.append((row.email, Principal(row.id, row.name, Role(row.role), scopes)))
    return found


def _delivery(event_id: int, channel: Channel, target: str, now: datetime) -> dict[str, Any]:
    return {
        "id": "dlv_" + secrets.token_hex(8),
        "event_id": event_id,
        "channel": channel,
        "target": target,
        "status": "pending",
        "attempts": 0,
        "next_at": now,
        "claim": None,
        "lease_until": None,
        "last_status": None,
        "last_error": None,
        "created": now,
        "delivered": None,
    }


def _webhook(row: WebhookRow) -> Webhook:
    events = tuple(kind for kind in json.loads(row.events) if kind in KINDS)
    return Webhook(
        row.id,
        row.url,
        events,
        stored_scopes(row.scopes) or (),
        _format(row.format),
        row.created,
        row.created_by,
    )


def _delivery_info(row: DeliveryRow, kind: str, digest: str) -> Delivery:
    channel: Channel = "mail" if row.channel == "mail" else "webhook"
    status: Status = (
        "delivered" if row.status == "delivered" else "failed" if row.status == "failed" else "pending"
    )
    return Delivery(
        row.id,
        row.event_id,
        kind,
        digest,
        channel,
        row.target,
        status,
        row.attempts,
        row.next_at,
        row.last_status,
        row.last_error,
        row.created,
        row.delivered,
    )
