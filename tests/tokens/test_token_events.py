"""Making and revoking tokens is in the audit's hash chain, without the secret."""

from __future__ import annotations

import json

from sidecar import db
from sidecar.audit.store import SqlAuditStore
from sidecar.tokens import TokenStore


def test_creating_and_revoking_a_token_appends_chained_events_without_the_secret(url: str) -> None:
    """A create and the first revoke each append a token event naming who and which; a second revoke none."""
    with db.opened(TokenStore, url) as tokens:
        token_id, secret = tokens.create("agent", "intake", ["matters/acme"], created_by="ops")
        tokens.revoke("intake", revoked_by="security")
        tokens.revoke("intake", revoked_by="security")
    with db.opened(SqlAuditStore, url) as audit:
        events = [event for event in audit.events() if event.kind == "token"]
        assert audit.verify_chain() is None
    assert [(e.actor, e.payload["action"], e.payload["token"]) for e in events] == [
        ("ops", "created", token_id),
        ("security", "revoked", token_id),
    ]
    assert events[0].payload["scopes"] == ["matters/acme"]
    assert secret not in json.dumps([e.payload for e in events])
