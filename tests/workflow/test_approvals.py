"""Approvals: who may approve, what counts, for how long, and the base-state fingerprint they bind to."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from planner import Entry, tree_of
from planner.core.fingerprint import fingerprint
from sidecar.policy import Policy, policy_from
from sidecar.tokens import Principal, Role
from sidecar.workflow import (
    AlreadyApproved,
    NotAllowed,
    NotApproved,
    State,
    approve,
    counted_approvers,
    is_authorised,
    refresh,
    reject,
    start_apply,
)

from .cases import (
    AGENT,
    ALICE,
    AUDITOR,
    BOB,
    CAROL,
    DELETE_ONE,
    EVIL_SCOPE,
    FILE_TO_CUSTODIAN,
    NARROW,
    OTHER_AGENT,
    T0,
    TTL,
    sha,
    store,
    submitted,
)

TWO = policy_from(
    {
        "rules": [
            {"name": "two", "ops_any": ["delete", "move"], "outcome": "require_approvals", "approvals": 2}
        ]
    }
)


# -- who may approve -----------------------------------------------------------


def test_the_author_cannot_approve_even_as_admin() -> None:
    """An admin who submitted a plan cannot approve it: the author never approves, whatever the role."""
    case = submitted(FILE_TO_CUSTODIAN, author=CAROL)
    with pytest.raises(NotAllowed, match="submitted this plan"):
        approve(case, CAROL, now=T0, ttl=TTL)


def test_the_author_cannot_reject_either() -> None:
    """An approver who submitted a plan cannot reject it."""
    case = submitted(FILE_TO_CUSTODIAN, author=ALICE)
    with pytest.raises(NotAllowed, match="submitted this plan"):
        reject(case, ALICE, now=T0)


def test_anyone_who_submitted_the_digest_counts_as_author() -> None:
    """An approver who submits an identical plan becomes one of its authors and may no longer approve it."""
    case = submitted(FILE_TO_CUSTODIAN)
    again = submitted(FILE_TO_CUSTODIAN, author=ALICE, existing=case)
    assert again.authors == ("agent-7", "alice")
    with pytest.raises(NotAllowed):
        approve(again, ALICE, now=T0, ttl=TTL)


def test_an_approval_given_before_its_approver_submitted_the_plan_stops_counting() -> None:
    """Submitting the same digest after approving it voids one's own approval."""
    case = approve(submitted(DELETE_ONE, policy=TWO), ALICE, now=T0, ttl=TTL)
    assert counted_approvers(case, now=T0, ttl=TTL) == ("alice",)
    again = submitted(DELETE_ONE, author=ALICE, policy=TWO, existing=case)
    assert counted_approvers(again, now=T0, ttl=TTL) == ()


@pytest.mark.parametrize("who", [OTHER_AGENT, AUDITOR])
def test_only_approvers_and_admins_approve(who: Principal) -> None:
    """Agents and auditors may not approve a plan, even one inside their scope."""
    case = submitted(FILE_TO_CUSTODIAN)
    with pytest.raises(NotAllowed, match="only approvers and admins"):
        approve(case, who, now=T0, ttl=TTL)


@pytest.mark.parametrize("who", [NARROW, EVIL_SCOPE])
def test_an_approver_without_scope_over_every_path_is_refused(who: Principal) -> None:
    """An approver whose scope misses a path of the plan (the move's destination, a look-alike) is refused."""
    case = submitted(FILE_TO_CUSTODIAN)
    with pytest.raises(NotAllowed, match="outside their scope") as caught:
        approve(case, who, now=T0, ttl=TTL)
    assert "matters/acme/custodians/alice/0001.pdf" in str(caught.value)
    assert caught.value.exit_code == 2


def test_an_approver_whose_scope_holds_every_path_may_approve() -> None:
    """An approver scoped to a parent of every path, and an admin with the whole store, may approve."""
    case = submitted(DELETE_ONE, policy=TWO)
    case = approve(case, ALICE, now=T0, ttl=TTL)
    case = approve(case, CAROL, now=T0, ttl=TTL)
    assert case.state is State.APPROVED


def test_an_approval_records_digest_fingerprint_time_and_comment() -> None:
    """Each approval keeps who gave it, for which digest and base state, when, and why."""
    case = submitted(FILE_TO_CUSTODIAN)
    case = approve(case, BOB, now=T0 + timedelta(minutes=5), ttl=TTL, comment="custodian checked")
    (approval,) = case.approvals
    assert (approval.approver, approval.digest, approval.fingerprint) == (
        "bob",
        FILE_TO_CUSTODIAN.digest(),
        fingerprint(store()),
    )
    assert (approval.time, approval.comment) == (T0 + timedelta(minutes=5), "custodian checked")


# -- what counts ---------------------------------------------------------------


def test_n_distinct_approvers_are_needed() -> None:
    """A plan needing two approvals stays pending after one and is approved by a second person."""
    case = approve(submitted(DELETE_ONE, policy=TWO), ALICE, now=T0, ttl=TTL)
    assert case.state is State.PENDING
    case = approve(case, BOB, now=T0, ttl=TTL)
    assert case.state is State.APPROVED
    assert counted_approvers(case, now=T0, ttl=TTL) == ("alice", "bob")


def test_a_second_approval_by_the_same_person_is_refused() -> None:
    """Approving again while one's approval counts is refused ("you already approved this plan")."""
    case = approve(submitted(DELETE_ONE, policy=TWO), ALICE, now=T0, ttl=TTL)
    with pytest.raises(AlreadyApproved, match=r"^you already approved this plan$"):
        approve(case, ALICE, now=T0 + timedelta(minutes=1), ttl=TTL)


def test_an_approval_that_lapsed_may_be_given_again() -> None:
    """Once a person's approval expired, they may approve again, and it counts once."""
    case = approve(submitted(DELETE_ONE, policy=TWO), ALICE, now=T0, ttl=TTL)
    again = approve(case, ALICE, now=T0 + TTL, ttl=TTL)
    assert counted_approvers(again, now=T0 + TTL, ttl=TTL) == ("alice",)
    assert again.state is State.PENDING


def test_repeated_approvals_already_recorded_count_once() -> None:
    """Two approvals by one person (recorded before repeats were refused) count as one approver."""
    case = approve(submitted(DELETE_ONE, policy=TWO), ALICE, now=T0, ttl=TTL)
    doubled = replace(case, approvals=case.approvals * 2)
    assert counted_approvers(doubled, now=T0, ttl=TTL) == ("alice",)


def test_expired_approvals_do_not_count() -> None:
    """An approval counts until its lifetime has passed, not at or after that instant."""
    case = approve(submitted(FILE_TO_CUSTODIAN), ALICE, now=T0, ttl=TTL)
    assert case.state is State.APPROVED
    assert is_authorised(case, now=T0 + TTL - timedelta(microseconds=1), ttl=TTL)
    assert not is_authorised(case, now=T0 + TTL, ttl=TTL)
    assert is_authorised(case, now=T0 + 10 * TTL, ttl=None)  # None: approvals never expire


def test_an_expired_plan_goes_back_to_pending_and_cannot_apply() -> None:
    """Once its approvals lapse, apply is refused and refresh puts the plan back to pending."""
    case = approve(submitted(FILE_TO_CUSTODIAN), ALICE, now=T0, ttl=TTL)
    later = T0 + TTL + timedelta(seconds=1)
    with pytest.raises(NotApproved, match="0 of the 1 approval needed"):
        start_apply(case, AGENT, now=later, ttl=TTL)
    pending = refresh(case, now=later, ttl=TTL)
    assert pending.state is State.PENDING
    assert approve(pending, BOB, now=later, ttl=TTL).state is State.APPROVED


def test_refresh_leaves_plans_whose_approvals_still_count() -> None:
    """refresh changes nothing while the approvals suffice, nor for plans approved by a rule."""
    case = approve(submitted(FILE_TO_CUSTODIAN), ALICE, now=T0, ttl=TTL)
    assert refresh(case, now=T0 + timedelta(hours=1), ttl=TTL) is case
    auto = submitted(
        FILE_TO_CUSTODIAN,
        policy=policy_from({"rules": [{"name": "a", "ops_any": ["move"], "outcome": "auto_approve"}]}),
    )
    assert refresh(auto, now=T0 + 100 * TTL, ttl=TTL) is auto


def test_a_changed_fingerprint_voids_approvals() -> None:
    """Resubmitted against a changed store, a stale plan keeps no approval given for the old state."""
    case = approve(submitted(FILE_TO_CUSTODIAN), ALICE, now=T0, ttl=TTL)
    case = replace(case, state=State.STALE)  # the engine found the store changed
    changed = store(Entry("matters/acme/inbox/0003.pdf", "file", 4, sha("0003")))
    again = submitted(FILE_TO_CUSTODIAN, tree=changed, existing=case, now=T0 + timedelta(minutes=1))
    assert again.fingerprint != case.fingerprint
    assert counted_approvers(again, now=T0, ttl=TTL) == ()
    assert again.state is State.PENDING


def test_an_unchanged_fingerprint_keeps_approvals_across_resubmission() -> None:
    """A failed plan resubmitted against the same state is approved again by the approvals it had."""
    case = approve(submitted(FILE_TO_CUSTODIAN), ALICE, now=T0, ttl=TTL)
    failed = replace(case, state=State.FAILED)
    again = submitted(FILE_TO_CUSTODIAN, existing=failed, now=T0 + timedelta(minutes=1))
    assert again.state is State.APPROVED


def test_an_approval_for_another_digest_does_not_count() -> None:
    """An approval recorded with another plan's digest is never counted for this one."""
    case = approve(submitted(FILE_TO_CUSTODIAN), ALICE, now=T0, ttl=TTL)
    forged = replace(case.approvals[0], digest=DELETE_ONE.digest())
    assert counted_approvers(replace(case, approvals=(forged,)), now=T0, ttl=TTL) == ()


def test_naive_times_and_non_positive_lifetimes_are_bugs() -> None:
    """A datetime without a time zone, or a lifetime of zero, is a ValueError, not a silent mistake."""
    case = submitted(FILE_TO_CUSTODIAN)
    with pytest.raises(ValueError, match="timezone"):
        approve(case, ALICE, now=T0.replace(tzinfo=None), ttl=TTL)
    with pytest.raises(ValueError, match="positive"):
        approve(case, ALICE, now=T0, ttl=timedelta(0))


# -- who may apply -------------------------------------------------------------


def test_authors_approvers_and_admins_may_start_an_apply() -> None:
    """The author, approvers and admins may start an apply; another agent and an auditor may not."""
    case = approve(submitted(FILE_TO_CUSTODIAN), ALICE, now=T0, ttl=TTL)
    for who in (AGENT, BOB, CAROL):
        assert start_apply(case, who, now=T0, ttl=TTL).state is State.APPLYING
    for who in (OTHER_AGENT, AUDITOR):
        with pytest.raises(NotAllowed):
            start_apply(case, who, now=T0, ttl=TTL)
    with pytest.raises(NotAllowed, match="outside their scope"):
        start_apply(case, NARROW, now=T0, ttl=TTL)


def test_a_plan_approved_by_policy_needs_no_approver() -> None:
    """A rule's auto-approval authorises the apply with no approver, and does not expire."""
    auto = policy_from({"rules": [{"name": "a", "ops_any": ["move"], "outcome": "auto_approve"}]})
    case = submitted(FILE_TO_CUSTODIAN, policy=auto)
    assert case.state is State.APPROVED
    assert start_apply(case, AGENT, now=T0 + 100 * TTL, ttl=TTL).state is State.APPLYING


def test_an_empty_policy_needs_one_approver() -> None:
    """Under the empty policy a plan waits for one approver."""
    case = submitted(FILE_TO_CUSTODIAN, policy=Policy())
    assert (case.state, case.approvals_needed) == (State.PENDING, 1)


# -- the fingerprint -----------------------------------------------------------


def test_fingerprint_ignores_build_order_and_mtime() -> None:
    """Two trees with the same entries have one fingerprint, however built, whatever their mtimes."""
    entries = [
        Entry("a/b/c.txt", "file", 3, sha("c"), 7, mtime=1.0),
        Entry("a/d", "dir"),
        Entry("z.txt", "file", 1, None, None),
    ]
    shuffled = [replace(entries[2], mtime=99.0), entries[1], entries[0]]
    assert fingerprint(tree_of(entries)) == fingerprint(tree_of(shuffled))


@pytest.mark.parametrize(
    "changed",
    [
        Entry("a/b/c.txt", "file", 4, sha("c"), 7),  # size
        Entry("a/b/c.txt", "file", 3, sha("C"), 7),  # content
        Entry("a/b/c.txt", "file", 3, sha("c"), 8),  # generation
        Entry("a/b/c.txt", "dir"),  # kind
        Entry("a/b/C.txt", "file", 3, sha("c"), 7),  # name
    ],
)
def test_fingerprint_changes_with_any_compared_field(changed: Entry) -> None:
    """A different size, hash, generation, kind or name gives a different fingerprint."""
    base = [Entry("a/b/c.txt", "file", 3, sha("c"), 7)]
    assert fingerprint(tree_of(base)) != fingerprint(tree_of([changed]))


def test_fingerprint_is_the_documented_encoding() -> None:
    """The fingerprint is sha256 of a version line and one JSON array per entry, a stable encoding."""
    tree = tree_of([Entry("m/r\u00e9sum\u00e9.pdf", "file", 3, sha("x"), 5)])
    listing = (
        b"pva-state/v1\n"
        b'["m","dir",null,null,null]\n'
        b'["m/r\\u00e9sum\\u00e9.pdf","file",3,"' + sha("x").encode() + b'",5]\n'
    )
    assert fingerprint(tree) == hashlib.sha256(listing).hexdigest()
    assert fingerprint(tree_of([])) == "3f65b59f3e8f31802e5478934d1a75c955072707bed1c54c6550abdc6ce2bc1f"


@given(st.sets(st.sampled_from(["a", "b", "a/x", "b/y", "c"]), min_size=1), st.integers(0, 9))
def test_fingerprint_sees_an_added_file(paths: set[str], size: int) -> None:
    """Adding one file anywhere changes the fingerprint."""
    entries = [Entry(path, "dir") for path in sorted(paths)]
    before = tree_of(entries)
    after = tree_of([*entries, Entry(f"{min(paths)}/new.bin", "file", size, sha("new"))])
    assert fingerprint(before) != fingerprint(after)


def test_principals_from_tokens_are_actors() -> None:
    """The token store's Principal is what the workflow takes: a whole-store admin may approve anything."""
    admin = Principal("tok_0000000000ff", "root", Role.ADMIN, ("*",))
    case = submitted(FILE_TO_CUSTODIAN)
    assert approve(case, admin, now=T0, ttl=TTL).state is State.APPROVED
