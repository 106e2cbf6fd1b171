"""The workflow of versions, pure: who may supersede a plan and when; what approving a part does."""

from __future__ import annotations

from datetime import timedelta

import pytest

from planner.core.fingerprint import fingerprint
from planner.core.revision import subset
from planner.core.verify import verify
from sidecar.policy import Policy, parse_policy
from sidecar.workflow import (
    IllegalTransition,
    NotAllowed,
    PartRefused,
    PlanCase,
    State,
    derive,
    reject,
    request_changes,
    revise,
)

from .cases import AGENT, ALICE, CAROL, DELETE_ONE, FILE_INBOX, OTHER_AGENT, T0, TTL, store, submitted

LATER = T0 + timedelta(minutes=5)


def test_the_author_revises_a_plan_changes_were_asked_for() -> None:
    """The new case records what it supersedes; the old one is superseded by it."""
    old = request_changes(submitted(FILE_INBOX), ALICE, now=T0, comment="split it")
    new = submitted(DELETE_ONE, now=LATER)
    revised, superseded = revise(new, old, AGENT, now=LATER)
    assert revised.supersedes == old.digest
    assert (superseded.state, superseded.superseded_by) == (State.SUPERSEDED, new.digest)
    assert superseded.rejection == old.rejection  # the discussion stays with the version it was about


def test_only_authors_and_admins_may_supersede() -> None:
    """Another agent and an approver are refused; an admin may."""
    old, new = submitted(FILE_INBOX), submitted(DELETE_ONE, author=OTHER_AGENT, now=LATER)
    for stranger in (OTHER_AGENT, ALICE):
        with pytest.raises(NotAllowed):
            revise(new, old, stranger, now=LATER)
    assert revise(new, old, CAROL, now=LATER)[1].state is State.SUPERSEDED


def test_a_plan_a_person_rejected_or_the_plan_itself_cannot_be_superseded() -> None:
    """A person's rejection is final; a plan never supersedes itself; nor is a superseded plan superseded."""
    old = submitted(FILE_INBOX)
    with pytest.raises(IllegalTransition, match="a person rejected it"):
        revise(submitted(DELETE_ONE), reject(old, ALICE, now=T0, comment="no"), AGENT, now=LATER)
    with pytest.raises(IllegalTransition, match="cannot supersede itself"):
        revise(old, old, AGENT, now=LATER)
    superseded = revise(submitted(DELETE_ONE), old, AGENT, now=LATER)[1]
    with pytest.raises(IllegalTransition):
        revise(submitted(DELETE_ONE), superseded, AGENT, now=LATER)


def _derived(policy: Policy, without: list[int]) -> tuple[PlanCase, PlanCase]:
    original = submitted(FILE_INBOX, policy=policy)
    part = subset(FILE_INBOX, without)
    tree = store()
    return derive(
        original,
        part,
        verify(part.plan, tree),
        approver=ALICE,
        fingerprint=fingerprint(tree),
        policy=policy,
        now=LATER,
        ttl=TTL,
        comment="only the folder",
    )


def test_an_approved_part_keeps_the_author_and_needs_what_the_policy_asks() -> None:
    """Under a two-approval rule the part stays pending with alice's approval; the original is superseded."""
    two = parse_policy('[default]\noutcome = "require_approvals"\napprovals = 2\n')
    part, original = _derived(two, [1])
    assert (part.state, part.authors, [a.approver for a in part.approvals]) == (
        State.PENDING,
        ("agent-7",),
        ["alice"],
    )
    assert part.derived is not None
    assert (part.derived.original, part.derived.approver, part.derived.without) == (
        original.digest,
        "alice",
        (1,),
    )
    assert (original.state, original.superseded_by) == (State.SUPERSEDED, part.digest)


def test_a_part_that_fails_verification_is_refused_naming_the_op_as_people_count() -> None:
    """Without the mkdir, the move's folder is missing: PartRefused, its diagnostic at the original's op 1."""
    with pytest.raises(PartRefused, match=r"without op 1 fails verification.*\(op 2\)") as refused:
        _derived(Policy(), [0])
    assert [d.op_index for d in refused.value.diagnostics] == [1]
