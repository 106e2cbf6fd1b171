"""``allowed_actions``: what each person may ask for, in every state, matches what the workflow accepts."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta

import pytest

from planner.core.states import PlanState
from sidecar.tokens import Principal, Role
from sidecar.workflow import (
    AlreadyApproved,
    NotApproved,
    PlanCase,
    State,
    Verb,
    WorkflowError,
    allowed_actions,
    approve,
    check_revert,
    refusal,
    reject,
    start_apply,
)

from .cases import AGENT, ALICE, AUDITOR, BOB, CAROL, DELETE_ONE, EVIL_SCOPE, OTHER_AGENT, T0, TTL, submitted

APPROVER_AUTHOR = Principal("tok_000000000009", "aaron", Role.APPROVER, ("*",))
ADMIN_AUTHOR = Principal("tok_000000000010", "ada", Role.ADMIN, ("*",))
PEOPLE = (AGENT, OTHER_AGENT, ALICE, BOB, CAROL, EVIL_SCOPE, AUDITOR, APPROVER_AUTHOR, ADMIN_AUTHOR)
AUTHORS = (AGENT.name, APPROVER_AUTHOR.name, ADMIN_AUTHOR.name)
INVERSE = "f" * 64


def _case(state: State, *, approved_by: Principal | None = BOB) -> PlanCase:
    """A plan by the agent, an approver and an admin, approved by ``approved_by``, now in ``state``."""
    case = submitted(DELETE_ONE)
    case = replace(case, authors=AUTHORS)
    if approved_by is not None:
        case = approve(case, approved_by, now=T0, ttl=TTL)
    inverse = INVERSE if state in (State.APPLIED, State.REVERTED) else None
    return replace(case, state=state, inverse_digest=inverse)


def _expected(case: PlanCase, who: Principal, *, authorised: bool) -> set[Verb]:
    """The rules as docs/workflow.md states them, written out independently of the code."""
    author = who.name in case.authors
    judge = who.role in (Role.APPROVER, Role.ADMIN) and not author and who is not EVIL_SCOPE
    proposer = who.role in (Role.AGENT, Role.APPROVER, Role.ADMIN) and who is not EVIL_SCOPE
    approved_already = any(a.approver == who.name for a in case.approvals)
    expected = set()
    if case.state is State.PENDING and judge and not approved_already:
        expected.add(Verb.APPROVE)
    if case.state in (State.PENDING, State.APPROVED) and judge:
        expected.add(Verb.REJECT)
    may_apply = proposer and (who.role is not Role.AGENT or author)
    if case.state in (State.APPROVED, State.FAILED) and may_apply and authorised:
        expected.add(Verb.APPLY)
    if case.state is State.APPLIED and proposer:
        expected.add(Verb.REVERT)
    return expected


@pytest.mark.parametrize("state", list(PlanState))
@pytest.mark.parametrize("who", PEOPLE, ids=lambda p: f"{p.role}-{p.name}")
def test_allowed_actions_follow_the_rules_in_every_state(state: State, who: Principal) -> None:
    """For every state, role and author or not, allowed_actions is exactly what the rules allow."""
    case = _case(state)
    assert allowed_actions(case, who, T0, ttl=TTL) == _expected(case, who, authorised=True)


@pytest.mark.parametrize("state", list(PlanState))
@pytest.mark.parametrize("who", PEOPLE, ids=lambda p: f"{p.role}-{p.name}")
def test_nothing_applies_once_the_approvals_lapse(state: State, who: Principal) -> None:
    """Past the approvals' lifetime nobody is offered apply, and the rest is unchanged."""
    case, later = _case(state), T0 + TTL
    expected = _expected(case, who, authorised=False) - {Verb.APPROVE}
    if case.state is State.PENDING and Verb.REJECT in expected:
        expected.add(Verb.APPROVE)  # a lapsed approval may be given again
    assert allowed_actions(case, who, later, ttl=TTL) == expected


@pytest.mark.parametrize("state", list(PlanState))
@pytest.mark.parametrize("who", PEOPLE, ids=lambda p: f"{p.role}-{p.name}")
def test_every_allowed_action_is_accepted_and_every_other_refused(state: State, who: Principal) -> None:
    """What allowed_actions offers the workflow accepts; what it leaves out the workflow refuses."""
    case = _case(state, approved_by=ALICE)
    allowed = allowed_actions(case, who, T0, ttl=TTL)
    attempts: dict[Verb, Callable[[], object]] = {
        Verb.APPROVE: lambda: approve(case, who, now=T0, ttl=TTL),
        Verb.REJECT: lambda: reject(case, who, now=T0),
        Verb.APPLY: lambda: start_apply(case, who, now=T0, ttl=TTL),
        Verb.REVERT: lambda: check_revert(case, who, now=T0),
    }
    for verb, attempt in attempts.items():
        if verb in allowed:
            attempt()
        else:
            with pytest.raises(WorkflowError):
                attempt()


def test_refusal_says_why_in_plain_words() -> None:
    """refusal names the reason a person reads: already approved, too few approvals, their own plan."""
    case = _case(State.PENDING, approved_by=ALICE)
    assert isinstance(refusal(case, ALICE, Verb.APPROVE, now=T0, ttl=TTL), AlreadyApproved)
    assert "submitted this plan" in str(refusal(case, APPROVER_AUTHOR, Verb.APPROVE, now=T0, ttl=TTL))
    lapsed = _case(State.APPROVED)
    error = refusal(lapsed, CAROL, Verb.APPLY, now=T0 + TTL + timedelta(seconds=1), ttl=TTL)
    assert isinstance(error, NotApproved)
    assert str(error).startswith("0 of the 1 approval needed still count")
    outside = str(refusal(case, EVIL_SCOPE, Verb.REJECT, now=T0, ttl=TTL))
    assert "2 of its paths are outside their scope" in outside  # the file and the scope it declares
