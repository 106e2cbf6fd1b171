"""Tokens for a test: principals to act as, and secrets issued to named people."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sidecar import db
from sidecar.tokens import Principal, Role, TokenStore

# People who act on the service directly (no token needed): an agent and an approver over matters/.
AGENT = Principal("tok_000000000001", "agent-1", Role.AGENT, ("matters",))
ALICE = Principal("tok_000000000002", "alice", Role.APPROVER, ("matters",))

People = Mapping[str, tuple[str, Sequence[str]]]  # name: (role, scopes)


def issue(tokens: TokenStore, people: People) -> dict[str, str]:
    """Create a token per person; each one's secret, by name."""
    return {name: tokens.create(role, name, list(scopes))[1] for name, (role, scopes) in people.items()}


def create_tokens(database_url: str, people: People) -> dict[str, str]:
    """``issue`` on the token store of a migrated database."""
    with db.opened(TokenStore, database_url) as tokens:
        return issue(tokens, people)
