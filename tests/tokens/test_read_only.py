"""Read-only tokens: an agent's, for sandboxes, and they must expire within a maximum."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sidecar.tokens import InvalidTokenRequest, TokenStore


def test_a_read_only_token_is_an_agents_and_expires_within_the_maximum(url: str) -> None:
    """A read-only token must be an agent's, must expire, and not later than max_ttl from now."""
    store = TokenStore.open(url)
    try:
        soon = datetime.now(UTC) + timedelta(hours=1)
        token_id, _ = store.create(
            "agent", "box", ["m"], expires=soon, read_only=True, max_ttl=timedelta(hours=2)
        )
        assert store.get(token_id).read_only
        with pytest.raises(InvalidTokenRequest, match="must expire"):
            store.create("agent", "box-2", ["m"], read_only=True)
        with pytest.raises(InvalidTokenRequest, match="at most"):
            store.create("agent", "box-3", ["m"], expires=soon, read_only=True, max_ttl=timedelta(minutes=5))
        with pytest.raises(InvalidTokenRequest, match="only agent"):
            store.create("approver", "box-4", ["m"], expires=soon, read_only=True)
    finally:
        store.close()
