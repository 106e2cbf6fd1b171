"""The audit's mutable tables checked against the chain: ``plan_cases``, ``tokens`` and ``holds``.

They are updated in place, so no hash covers them; but every change to them
appends an event in the same transaction. So each case's approvals and
rejection must be events of the chain, its state the status its plan's last
event set, and each token must have its 'token' event ('created', and
'revoked' once it is revoked), with the same name, role and scopes. A row
forged with database access (an approval, a token with a secret hash of the
attacker's choosing, a hold released or widened behind pva's back) is
reported; each hold must match its 'hold_placed' event, and be released
exactly when a 'hold_released' event says so, by its actor. Tables are looked up by name in the one
metadata (``tables``).
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import String, Table, select, type_coerce
from sqlalchemy.orm import Session

from sidecar.audit import payloads
from sidecar.audit.chain import Break, iso
from sidecar.audit.tables import Base, EventRow
from sidecar.audit.views import parse_payload


def mutable_problem(session: Session, statuses: dict[str, tuple[str, int]]) -> Break | None:
    """The first case or token the chain does not account for, or None."""
    return _case_problem(session, statuses) or _token_problem(session) or _hold_problem(session)


def _table(name: str) -> Table:
    return Base.metadata.tables[name]


def _approvals(session: Session) -> list[tuple[str | None, str, payloads.Approval]]:
    query = select(EventRow.digest, EventRow.actor, EventRow.payload).where(EventRow.kind == "approval")
    rows = session.execute(query)
    return [(digest, actor, payloads.decode_approval(parse_payload(body))) for digest, actor, body in rows]


def _token_changes(session: Session) -> list[payloads.TokenChange]:
    query = select(EventRow.payload).where(EventRow.kind == "token")
    return [payloads.decode_token(parse_payload(body)) for body in session.scalars(query)]


def _case_problem(session: Session, statuses: dict[str, tuple[str, int]]) -> Break | None:
    decided: Counter[tuple[str, str, str, str]] = Counter()
    for digest, actor, approval in _approvals(session):
        decided[(digest or "", actor, approval.decision, approval.comment)] += 1
    cases = _table("plan_cases")
    for digest, state, body in session.execute(select(cases.c.digest, cases.c.state, cases.c.case)):
        case = json.loads(body)
        last = statuses.get(digest, ("", 0))[0]
        # An apply records its outcome just before the case settles: a crash between leaves it applying.
        settling = state == "applying" and last in ("applied", "failed", "stale")
        if last != state and not settling:
            return Break(
                None, f"plan_cases of {digest[:12]} is {state!r}, which no event of the plan set last"
            )
        wanted: Counter[tuple[str, str, str, str]] = Counter(
            (digest, a["approver"], "approved", a["comment"]) for a in case["approvals"]
        )
        if case["rejection"] is not None:
            rejection = case["rejection"]
            decision = "changes_requested" if state == "changes_requested" else "rejected"
            wanted[(digest, rejection["actor"], decision, rejection["comment"])] += 1
        missing = wanted - decided
        if missing:
            (_, who, decision, _), *_ = missing
            return Break(
                None, f"plan_cases of {digest[:12]}: {who} {decision} it, but no approval event says so"
            )
    return None


def _token_problem(session: Session) -> Break | None:
    created: dict[str, payloads.TokenChange] = {}
    revoked: set[str] = set()
    for change in _token_changes(session):
        if change.action == "created":
            created[change.token] = change
        elif change.action == "revoked":
            revoked.add(change.token)
    tokens = _table("tokens")
    columns = ("id", "name", "role", "scopes", "revoked", "secret_sha256", "expires", "read_only")
    rows = session.execute(select(*(_as_stored(tokens, column) for column in columns))).all()
    for token_id, name, role, scopes, when, secret, expires, read_only in rows:
        event = created.get(token_id)
        who = f"token {token_id} ({name})"
        if event is None:
            return Break(None, f"{who} has no 'token' event: it was not made by pva")
        problem = _token_row_problem(event, (name, role, scopes, secret, expires, read_only))
        if problem is not None:
            return Break(None, f"{who} {problem}")
        if (when is not None) != (token_id in revoked):
            state = "revoked" if when is not None else "live"
            return Break(None, f"{who} is {state}, which its events do not say")
    present = {row[0] for row in rows}
    for token_id, event in created.items():
        if token_id not in present:
            return Break(
                None,
                f"token {token_id} ({event.name}) was made by a 'token' event, but its row is missing",
            )
    return None


def _hold_events(session: Session) -> tuple[dict[str, tuple[str, payloads.HoldPlaced]], dict[str, str]]:
    """Each hold's 'hold_placed' event (actor, payload), and the actor of its 'hold_released' one."""
    placed: dict[str, tuple[str, payloads.HoldPlaced]] = {}
    released: dict[str, str] = {}
    query = select(EventRow.kind, EventRow.actor, EventRow.payload).where(
        EventRow.kind.in_(("hold_placed", "hold_released"))
    )
    for kind, actor, body in session.execute(query):
        payload = payloads.decode(kind, parse_payload(body))
        if isinstance(payload, payloads.HoldPlaced):
            placed[payload.hold] = (actor, payload)
        elif isinstance(payload, payloads.HoldReleased):
            released[payload.hold] = actor
    return placed, released


def _hold_problem(session: Session) -> Break | None:
    placed, released = _hold_events(session)
    holds = _table("holds")
    columns = (holds.c.id, holds.c.matter, holds.c.reason, holds.c.paths, holds.c.placed_by)
    rows = session.execute(select(*columns, holds.c.released_by)).all()
    for hold_id, matter, reason, paths, placed_by, released_by in rows:
        event = placed.get(hold_id)
        if event is None:
            return Break(None, f"hold {hold_id} has no 'hold_placed' event: it was not placed by pva")
        actor, payload = event
        if (actor, payload.matter, payload.reason, list(payload.paths)) != (
            placed_by,
            matter,
            reason,
            _json_list(paths),
        ):
            return Break(None, f"hold {hold_id} differs from the event that placed it")
        if released_by != released.get(hold_id):
            state = "released" if released_by is not None else "in force"
            return Break(None, f"hold {hold_id} is {state}, which its events do not say")
    missing = placed.keys() - {row[0] for row in rows}
    if missing:
        return Break(None, f"hold {min(missing)} was placed by an event, but its row is missing")
    return None


def _json_list(text: str) -> object:
    try:
        return json.loads(text)
    except ValueError:
        return None


def _as_stored(table: Table, column: str) -> Any:
    """The column as the database holds it (a time as text on SQLite), so that no value fails to load."""
    found = table.c[column]
    return type_coerce(found, String).label(column) if column in ("expires", "revoked") else found


def _token_row_problem(
    event: payloads.TokenChange, row: tuple[str, str, str, str, object, object]
) -> str | None:
    """How a token's row (name, role, scopes, secret hash, expiry, read-only) differs from its event."""
    name, role, scopes, secret, expires, read_only = row
    try:
        listed = json.loads(scopes)
    except ValueError:
        return f"has scopes {scopes[:40]!r}, which pva never writes"
    made_with = None if event.scopes is None else list(event.scopes)
    if (event.name, event.role, made_with, event.read_only) != (name, role, listed, bool(read_only)):
        return "differs from the event that made it"  # a read-only token made writable, say
    binding = event.binding
    if binding is None:
        return None
    if hashlib.sha256(secret.encode()).hexdigest() != binding.secret_check:
        return "has a secret hash that is not the one it was made with (a forged secret)"
    if _stored_iso(expires) != binding.expires:
        return f"has expiry {_stored_iso(expires)}, but the event that made it says {binding.expires}"
    return None


def _stored_iso(value: object) -> str | None:
    """A stored time (PostgreSQL: a datetime; SQLite: text) as the chain writes it; unparseable text as is."""
    if value is None:
        return None
    if isinstance(value, str):
        text = value
        try:
            value = datetime.fromisoformat(text)
        except ValueError:
            return text
    if not isinstance(value, datetime):
        return str(value)
    return iso(value.replace(tzinfo=UTC) if value.tzinfo is None else value)
