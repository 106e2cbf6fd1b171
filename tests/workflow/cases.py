"""Shared values for the workflow tests: people, a small store, plans over it, a clock."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

from planner import Entry, Plan, Report, Tree, tree_of, verify
from planner.core.fingerprint import fingerprint
from sidecar.policy import Policy
from sidecar.tokens import Principal, Role
from sidecar.workflow import PlanCase, submit
from tests.support.plans import make_plan

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
TTL = timedelta(hours=24)

AGENT = Principal("tok_000000000001", "agent-7", Role.AGENT, ("matters/acme",))
OTHER_AGENT = Principal("tok_000000000002", "agent-8", Role.AGENT, ("matters/acme",))
ALICE = Principal("tok_000000000003", "alice", Role.APPROVER, ("matters",))
BOB = Principal("tok_000000000004", "bob", Role.APPROVER, ("*",))
CAROL = Principal("tok_000000000005", "carol", Role.ADMIN, ("*",))
NARROW = Principal("tok_000000000006", "nina", Role.APPROVER, ("matters/acme/inbox",))
EVIL_SCOPE = Principal("tok_000000000007", "eve", Role.APPROVER, ("matters/acme-evil",))
AUDITOR = Principal("tok_000000000008", "audrey", Role.AUDITOR, ("*",))


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def store(*extra: Entry) -> Tree:
    """A matter with an inbox of two documents and a custodian folder, and a look-alike matter."""
    return tree_of(
        [
            Entry("matters/acme/inbox/0001.pdf", "file", 4, sha("0001"), 11),
            Entry("matters/acme/inbox/0002.pdf", "file", 4, sha("0002"), 12),
            Entry("matters/acme/custodians/alice", "dir"),
            Entry("matters/acme/templates/cover.docx", "file", 5, sha("cover"), 13),
            Entry("matters/acme-evil/inbox", "dir"),
            *extra,
        ]
    )


def filed() -> Tree:
    """The store after FILE_TO_CUSTODIAN: 0001.pdf moved from the inbox to alice's folder."""
    tree = store(Entry("matters/acme/custodians/alice/0001.pdf", "file", 4, sha("0001"), 14))
    tree.delete("matters/acme/inbox/0001.pdf")
    return tree


plan = make_plan


FILE_INBOX = plan(
    {"op": "mkdir", "path": "matters/acme/inbox/sorted"},
    {"op": "move", "src": "matters/acme/inbox/0001.pdf", "dst": "matters/acme/inbox/sorted/0001.pdf"},
)
FILE_TO_CUSTODIAN = plan(
    {"op": "move", "src": "matters/acme/inbox/0001.pdf", "dst": "matters/acme/custodians/alice/0001.pdf"}
)
DELETE_ONE = plan({"op": "delete", "path": "matters/acme/inbox/0002.pdf"})


def checked(plan: Plan, tree: Tree | None = None) -> Report:
    return verify(plan, store() if tree is None else tree)


def submitted(
    plan: Plan,
    *,
    author: Principal = AGENT,
    policy: Policy | None = None,
    tree: Tree | None = None,
    now: datetime = T0,
    existing: PlanCase | None = None,
) -> PlanCase:
    """Submit ``plan`` as verified against ``tree`` (the store by default) under ``policy``."""
    base = store() if tree is None else tree
    return submit(
        plan,
        verify(plan, base),
        author=author,
        fingerprint=fingerprint(base),
        policy=Policy() if policy is None else policy,
        now=now,
        ttl=TTL,
        existing=existing,
    )
