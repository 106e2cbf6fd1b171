"""The plan state machine: every state and action pair against a spec, random runs, and whole lifecycles."""

from __future__ import annotations

import contextlib
import re
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from planner import Entry, Plan, Report, tree_of, verify
from planner.core.errors import PvaError
from sidecar.audit.records import ApplyRecord, ApplyStatus
from sidecar.policy import parse_policy
from sidecar.tokens import Principal
from sidecar.workflow import (
    TRANSITIONS,
    Action,
    IllegalTransition,
    NotAllowed,
    PlanCase,
    State,
    WorkflowError,
    approve,
    counted_approvers,
    is_authorised,
    mark_stale,
    refresh,
    reject,
    revert_applied,
    revert_submitted,
    settle,
    start_apply,
    submit,
    transition,
)

from .cases import (
    AGENT,
    ALICE,
    AUDITOR,
    BOB,
    CAROL,
    DELETE_ONE,
    EVIL_SCOPE,
    FILE_INBOX,
    FILE_TO_CUSTODIAN,
    NARROW,
    OTHER_AGENT,
    T0,
    TTL,
    filed,
    plan,
    sha,
    store,
    submitted,
)

DOCS = Path(__file__).resolve().parents[2] / "docs"
EXAMPLE = parse_policy((DOCS / "policy.example.toml").read_text(encoding="utf-8"))

# The spec, written out by hand from BRIEF.md and issue #4: (state, action) -> the states it may
# lead to. None is a plan never submitted. Every pair not listed must be refused.
DECIDED = {"pending", "approved", "rejected"}
SPEC: dict[tuple[str | None, str], set[str]] = {
    (None, "submit"): DECIDED,
    ("stale", "submit"): DECIDED,
    ("failed", "submit"): DECIDED,
    ("rejected", "submit"): DECIDED,  # guarded: automatic rejections only
    ("pending", "approve"): {"pending", "approved"},
    ("pending", "reject"): {"rejected"},
    ("approved", "reject"): {"rejected"},
    ("pending", "request_changes"): {"changes_requested"},  # issue 12: the review loop
    ("approved", "request_changes"): {"changes_requested"},
    ("approved", "expire"): {"pending"},
    ("approved", "start_apply"): {"applying"},
    ("failed", "start_apply"): {"applying"},
    ("pending", "stale"): {"stale"},
    ("approved", "stale"): {"stale"},
    ("applying", "stale"): {"stale"},
    ("applying", "applied"): {"applied"},
    ("applying", "failed"): {"failed"},
    ("applied", "revert_submitted"): {"applied"},
    ("applied", "revert_applied"): {"reverted"},
    # issue 12: replaced by a revision (its author's), or by the part a person approved (from pending)
    ("pending", "supersede"): {"superseded"},
    ("approved", "supersede"): {"superseded"},
    ("changes_requested", "supersede"): {"superseded"},
    ("stale", "supersede"): {"superseded"},
    ("failed", "supersede"): {"superseded"},
    ("rejected", "supersede"): {"superseded"},  # guarded: automatic rejections only
    ("rejected", "override"): {"pending", "approved", "rejected"},  # guarded: require_override denies only
}
STARTS: list[State | None] = [None, *State]
PAIRS = [(state, action) for state in STARTS for action in Action]


def _spec(state: State | None, action: Action) -> set[str] | None:
    return SPEC.get((None if state is None else state.value, action.value))


def test_states_and_actions_are_the_documented_ones() -> None:
    """The brief's eight states, changes_requested and superseded (issue 12), thirteen actions."""
    assert [s.value for s in State] == [
        "pending", "approved", "rejected", "applying", "applied", "failed", "stale", "reverted",
        "changes_requested", "superseded",
    ]  # fmt: skip
    assert len(Action) == 13
    assert len(PAIRS) == 143


@pytest.mark.parametrize(("state", "action"), PAIRS, ids=[f"{s}-{a}" for s, a in PAIRS])
def test_every_pair_is_allowed_exactly_as_the_spec_says(state: State | None, action: Action) -> None:
    """A pair in the spec leads to each of its targets and no other; a pair not in it is refused."""
    targets = _spec(state, action)
    for to in State:
        if targets is not None and to.value in targets:
            assert transition(state, action, to) is to
        else:
            with pytest.raises(IllegalTransition) as caught:
                transition(state, action, to)
            assert (caught.value.state, caught.value.action) == (state, action)
    if targets is None:
        with pytest.raises(IllegalTransition):
            transition(state, action)
    elif len(targets) == 1:
        assert transition(state, action).value in targets
    else:
        with pytest.raises(ValueError, match="say which"):
            transition(state, action)


def test_the_table_is_the_spec() -> None:
    """TRANSITIONS holds the spec's pairs and targets, nothing more."""
    actual = {
        (None if s is None else s.value, a.value): {t.value for t in ts} for (s, a), ts in TRANSITIONS.items()
    }
    assert actual == SPEC


def test_refusals_are_workflow_errors_with_exit_code_2() -> None:
    """An illegal transition is a PvaError the CLI exits 2 on, and its message names state and action."""
    with pytest.raises(IllegalTransition) as caught:
        transition(State.APPLIED, Action.START_APPLY)
    assert isinstance(caught.value, WorkflowError)
    assert isinstance(caught.value, PvaError)
    assert caught.value.exit_code == 2
    assert str(caught.value) == "cannot apply a plan that is applied"
    with pytest.raises(IllegalTransition, match="never submitted"):
        transition(None, Action.APPROVE)


@pytest.mark.parametrize("action", list(Action))
def test_refusals_name_actions_in_plain_words(action: Action) -> None:
    """No refusal shows an internal action name such as revert_submitted or start_apply."""
    text = str(IllegalTransition(State.REVERTED, action))
    assert "_" not in text
    assert text.startswith("cannot ")


def test_the_docs_table_is_the_transition_table() -> None:
    """The transition table in docs/workflow.md says what TRANSITIONS does."""
    text = (DOCS / "workflow.md").read_text(encoding="utf-8")
    header = next(line for line in text.splitlines() if line.startswith("| from"))
    actions = [cell.strip(" `") for cell in header.strip("|").split("|")[1:]]
    assert actions == [a.value for a in Action]
    shown: dict[tuple[str | None, str], set[str]] = {}
    for line in text.splitlines():
        row = re.match(r"\| \*\*(\(new\)|\w+)\*\* \|(.*)\|$", line)
        if row is None:
            continue
        state = None if row[1] == "(new)" else row[1]
        for action, cell in zip(actions, row[2].split("|"), strict=True):
            targets = {t.strip(" †‡") for t in cell.split(",")} - {"", "—"}
            if targets:
                shown[(state, action)] = targets
    assert shown == SPEC


@given(st.lists(st.tuples(st.sampled_from(Action), st.sampled_from(State)), max_size=60))
def test_random_action_sequences_stay_valid_and_apply_at_most_once(steps: list[tuple[Action, State]]) -> None:
    """Whatever actions are tried, the state is always a plan state and 'applied' is entered at most once."""
    state: State | None = None
    entered_applied = 0
    for action, to in steps:
        try:
            after = transition(state, action, to)
        except IllegalTransition:
            continue
        assert isinstance(after, State)
        entered_applied += after is State.APPLIED and state is not State.APPLIED
        state = after
    assert entered_applied <= 1


def test_applied_is_entered_only_from_applying_and_left_only_by_revert() -> None:
    """No pair but (applying, applied) leads into applied, and from applied only revert actions are legal."""
    into = {
        pair
        for pair, targets in TRANSITIONS.items()
        if State.APPLIED in targets and pair[0] is not State.APPLIED
    }
    assert into == {(State.APPLYING, Action.APPLIED)}
    out = {action for (state, action) in TRANSITIONS if state is State.APPLIED}
    assert out == {Action.REVERT_SUBMITTED, Action.REVERT_APPLIED}
    assert not [pair for pair in TRANSITIONS if pair[0] is State.REVERTED]


# -- lifecycles through the workflow functions ---------------------------------


BACK = plan(
    {"op": "move", "src": "matters/acme/custodians/alice/0001.pdf", "dst": "matters/acme/inbox/0001.pdf"}
)


def record(p: Plan, status: ApplyStatus, inverse: Plan | None = None) -> ApplyRecord:
    body: dict[str, Any] | None = (
        None if inverse is None else inverse.model_dump(mode="json", exclude_none=True)
    )
    return ApplyRecord(p.digest(), status, "agent-7", T0, T0, inverse=body)


def approved(p: Plan) -> PlanCase:
    return approve(submitted(p), ALICE, now=T0, ttl=TTL)


def test_submit_decides_pending_approved_or_rejected_by_policy() -> None:
    """Submitting under the example policy gives pending, approved or rejected, with the rule that fired."""
    pending = submitted(FILE_TO_CUSTODIAN, policy=EXAMPLE)
    auto = submitted(FILE_INBOX, policy=EXAMPLE)
    blob = sha("big")
    huge = plan({"op": "write", "path": "matters/acme/inbox/big.bin", "content_ref": blob})
    denied = submit(
        huge,
        verify(huge, store(), blobs={blob: 10**9}),
        author=AGENT,
        fingerprint="f",
        policy=EXAMPLE,
        now=T0,
        ttl=TTL,
    )
    assert (pending.state, pending.approvals_needed) == (State.PENDING, 1)
    assert auto.state is State.APPROVED
    assert auto.decision is not None
    assert auto.decision.rule_name == "inbox-filing"
    assert denied.state is State.REJECTED
    assert denied.decision is not None
    assert denied.decision.rule_name == "large-writes"
    assert denied.rejection is None  # the policy rejected it, not a person


def test_verification_errors_reject_with_diagnostics_and_no_policy_decision() -> None:
    """A plan the live store refuses is rejected with the verifier's diagnostics; the policy is not asked."""
    case = submitted(FILE_TO_CUSTODIAN, tree=tree_of([Entry("matters/acme", "dir")]))
    assert case.state is State.REJECTED
    assert case.decision is None
    assert "not_found" in {d.code.value for d in case.diagnostics}


def test_resubmitting_the_same_digest_returns_the_existing_plan() -> None:
    """Submitting a digest that is pending again returns that case, not a new one, and its approvals stay."""
    case = approve(submitted(DELETE_ONE, policy=EXAMPLE), ALICE, now=T0, ttl=TTL)
    again = submitted(DELETE_ONE, policy=EXAMPLE, existing=case, now=T0 + timedelta(hours=1))
    assert again == case


def test_a_rejection_by_a_person_is_final() -> None:
    """After a person rejects a plan, submitting it again returns it rejected and nobody can approve it."""
    case = reject(submitted(FILE_TO_CUSTODIAN), BOB, now=T0, comment="wrong custodian")
    assert case.rejection is not None
    assert case.rejection.comment == "wrong custodian"
    again = submitted(FILE_TO_CUSTODIAN, existing=case)
    assert again.state is State.REJECTED
    with pytest.raises(IllegalTransition):
        approve(again, ALICE, now=T0, ttl=TTL)


def test_an_automatic_rejection_is_decided_anew_on_resubmission() -> None:
    """A plan rejected by verification is decided again when submitted against a store where it holds."""
    case = submitted(FILE_TO_CUSTODIAN, tree=tree_of([Entry("matters/acme", "dir")]))
    again = submitted(FILE_TO_CUSTODIAN, existing=case)
    assert again.state is State.PENDING
    assert again.diagnostics == ()


def test_an_approved_plan_can_still_be_rejected_before_it_applies() -> None:
    """An approver may reject a plan another approved, as long as it has not started applying."""
    case = reject(approved(FILE_TO_CUSTODIAN), BOB, now=T0)
    assert case.state is State.REJECTED


@pytest.mark.parametrize("who", [AUDITOR, EVIL_SCOPE, NARROW])
def test_submitters_need_a_submitting_role_and_scope_over_every_path(who: Principal) -> None:
    """An auditor, or anyone whose scope misses a path of the plan, may not submit it."""
    with pytest.raises(NotAllowed):
        submitted(FILE_TO_CUSTODIAN, author=who)


def test_a_report_of_another_plan_is_a_bug() -> None:
    """Submitting a plan with another plan's report is a ValueError, not a decision."""
    with pytest.raises(ValueError, match="report"):
        submit(
            FILE_INBOX,
            verify(DELETE_ONE, store()),
            author=AGENT,
            fingerprint="f",
            policy=EXAMPLE,
            now=T0,
            ttl=TTL,
        )


def test_a_plan_applies_once_and_a_retried_apply_is_refused() -> None:
    """approved, applying, applied; another apply is then refused and resubmission returns the case."""
    case = start_apply(approved(FILE_TO_CUSTODIAN), AGENT, now=T0, ttl=TTL)
    assert case.state is State.APPLYING
    with pytest.raises(IllegalTransition):
        start_apply(case, AGENT, now=T0, ttl=TTL)  # a concurrent second apply
    done = settle(case, record(FILE_TO_CUSTODIAN, "applied", inverse=BACK))
    assert (done.state, done.inverse_digest) == (State.APPLIED, BACK.digest())
    with pytest.raises(IllegalTransition):
        start_apply(done, AGENT, now=T0, ttl=TTL)
    assert submitted(FILE_TO_CUSTODIAN, existing=done).state is State.APPLIED


def test_a_failed_apply_can_be_retried() -> None:
    """A failed apply changed nothing: while its approvals count it may start again."""
    case = start_apply(approved(FILE_TO_CUSTODIAN), AGENT, now=T0, ttl=TTL)
    failed = settle(case, record(FILE_TO_CUSTODIAN, "failed"))
    assert failed.state is State.FAILED
    assert start_apply(failed, AGENT, now=T0, ttl=TTL).state is State.APPLYING


def test_a_stale_plan_is_resubmitted_against_the_new_state() -> None:
    """The engine's stale outcome keeps its diagnostics; re-verified and submitted, the plan waits again."""
    case = start_apply(approved(FILE_TO_CUSTODIAN), AGENT, now=T0, ttl=TTL)
    stale = settle(case, record(FILE_TO_CUSTODIAN, "stale"))
    assert stale.state is State.STALE
    with pytest.raises(IllegalTransition):
        start_apply(stale, AGENT, now=T0, ttl=TTL)
    changed = store(Entry("matters/acme/inbox/0009.pdf", "file", 1, sha("9")))
    assert submitted(FILE_TO_CUSTODIAN, tree=changed, existing=stale).state is State.PENDING


def test_a_recheck_can_mark_a_waiting_plan_stale() -> None:
    """A pending or approved plan found out of date before apply becomes stale with the diagnostics given."""
    case = mark_stale(submitted(FILE_TO_CUSTODIAN), ())
    assert case.state is State.STALE
    with pytest.raises(IllegalTransition):
        mark_stale(case, ())


def test_an_outcome_for_another_plan_is_a_bug() -> None:
    """Settling a case with another plan's apply record is a ValueError."""
    case = start_apply(approved(FILE_TO_CUSTODIAN), AGENT, now=T0, ttl=TTL)
    with pytest.raises(ValueError, match="apply record"):
        settle(case, record(DELETE_ONE, "applied"))


def test_revert_binds_to_the_recorded_inverse() -> None:
    """Only the recorded inverse, once applied, reverts a plan; another plan or an unapplied one cannot."""
    case = start_apply(approved(FILE_TO_CUSTODIAN), AGENT, now=T0, ttl=TTL)
    done = settle(case, record(FILE_TO_CUSTODIAN, "applied", inverse=BACK))
    inverse = submitted(BACK, tree=filed())
    assert inverse.state is State.PENDING
    assert revert_submitted(done, inverse) == done
    with pytest.raises(IllegalTransition, match="is not the plan that undoes it"):
        revert_submitted(done, submitted(DELETE_ONE))
    with pytest.raises(IllegalTransition, match="its inverse plan is pending"):
        revert_applied(done, inverse)
    inverse = start_apply(approve(inverse, BOB, now=T0, ttl=TTL), AGENT, now=T0, ttl=TTL)
    inverse = settle(inverse, record(BACK, "applied", inverse=FILE_TO_CUSTODIAN))
    reverted = revert_applied(done, inverse)
    assert reverted.state is State.REVERTED
    with pytest.raises(IllegalTransition):
        revert_applied(reverted, inverse)


def test_a_plan_with_nothing_to_undo_cannot_be_reverted() -> None:
    """An applied plan whose apply recorded no inverse plan refuses a revert."""
    case = start_apply(approved(FILE_TO_CUSTODIAN), AGENT, now=T0, ttl=TTL)
    done = settle(case, record(FILE_TO_CUSTODIAN, "applied"))
    with pytest.raises(IllegalTransition, match="nothing to undo"):
        revert_submitted(done, submitted(BACK))


# -- random runs of the whole workflow ----------------------------------------


UNFILE = plan(
    {"op": "move", "src": "matters/acme/inbox/sorted/0001.pdf", "dst": "matters/acme/inbox/0001.pdf"}
)
# Needing one approver, one, two, none, none; the first two and the last two undo each other.
PLANS = (FILE_TO_CUSTODIAN, BACK, DELETE_ONE, FILE_INBOX, UNFILE)
INVERSE = {
    a.digest(): b
    for a, b in (
        (FILE_TO_CUSTODIAN, BACK),
        (BACK, FILE_TO_CUSTODIAN),
        (FILE_INBOX, UNFILE),
        (UNFILE, FILE_INBOX),
    )
}
PEOPLE = (AGENT, OTHER_AGENT, ALICE, BOB, CAROL, NARROW, AUDITOR)
_SORTED = tree_of([Entry("matters/acme/inbox/sorted/0001.pdf", "file", 4, sha("0001"))])
_BASE = {BACK.digest(): filed(), UNFILE.digest(): _SORTED}
GOOD = {p.digest(): verify(p, _BASE.get(p.digest(), store())) for p in PLANS}
assert all(report.ok for report in GOOD.values())
BROKEN = {p.digest(): verify(p, tree_of([Entry("matters/acme", "dir")])) for p in PLANS}


class Workflow(RuleBasedStateMachine):
    """Random submissions, approvals, rejections, clock ticks, store changes, applies and reverts."""

    def __init__(self) -> None:
        super().__init__()
        self.now = T0
        self.store_version = 0
        self.cases: dict[str, PlanCase] = {}
        self.applied: Counter[str] = Counter()
        self.rejected_by_people: set[str] = set()

    def _keep(self, case: PlanCase) -> None:
        old = self.cases.get(case.digest)
        if case.state is State.APPLIED and (old is None or old.state is not State.APPLIED):
            self.applied[case.digest] += 1
        if case.state is State.APPROVED and (old is None or old.state is not State.APPROVED):
            assert is_authorised(case, now=self.now, ttl=TTL)
        self.cases[case.digest] = case

    def _attempt(self, digest: str, act: Any) -> None:
        case = self.cases.get(digest)
        if case is None:
            return
        with contextlib.suppress(WorkflowError):  # a refusal changes nothing
            self._keep(act(case))

    @rule(p=st.sampled_from(PLANS), who=st.sampled_from(PEOPLE), broken=st.sampled_from([False] * 3 + [True]))
    def submit_plan(self, p: Plan, who: Principal, broken: bool) -> None:
        digest = p.digest()
        report: Report = (BROKEN if broken else GOOD)[digest]
        existing = self.cases.get(digest)
        try:
            case = submit(
                p,
                report,
                author=who,
                fingerprint=f"state {self.store_version}",
                policy=EXAMPLE,
                now=self.now,
                ttl=TTL,
                existing=existing,
            )
        except WorkflowError:
            return
        if existing is not None and existing.state in (State.PENDING, State.APPROVED, State.APPLIED):
            assert case.state is existing.state  # idempotent
        self._keep(case)

    @rule(p=st.sampled_from(PLANS), who=st.sampled_from(PEOPLE))
    def approve_plan(self, p: Plan, who: Principal) -> None:
        self._attempt(p.digest(), lambda case: approve(case, who, now=self.now, ttl=TTL))

    @rule(p=st.sampled_from(PLANS), who=st.sampled_from(PEOPLE))
    def reject_plan(self, p: Plan, who: Principal) -> None:
        before = self.cases.get(p.digest())
        self._attempt(p.digest(), lambda case: reject(case, who, now=self.now))
        after = self.cases.get(p.digest())
        if after is not None and after is not before:
            self.rejected_by_people.add(p.digest())

    @rule(minutes=st.sampled_from([1, 60, 600, 1500]), store_changes=st.sampled_from([False] * 3 + [True]))
    def time_passes(self, minutes: int, store_changes: bool) -> None:
        self.now += timedelta(minutes=minutes)
        self.store_version += store_changes
        for digest in list(self.cases):
            self._attempt(digest, lambda case: refresh(case, now=self.now, ttl=TTL))

    @rule(p=st.sampled_from(PLANS), who=st.sampled_from(PEOPLE))
    def start(self, p: Plan, who: Principal) -> None:
        before = self.cases.get(p.digest())
        self._attempt(p.digest(), lambda case: start_apply(case, who, now=self.now, ttl=TTL))
        started = before is not None and self.cases[p.digest()] is not before
        if started:
            assert before is not None
            assert is_authorised(before, now=self.now, ttl=TTL)

    @rule(p=st.sampled_from(PLANS), status=st.sampled_from(["applied", "applied", "failed", "stale"]))
    def engine_settles(self, p: Plan, status: ApplyStatus) -> None:
        outcome = record(p, status, INVERSE.get(p.digest()))
        self._attempt(p.digest(), lambda case: settle(case, outcome))

    @rule(p=st.sampled_from(PLANS), who=st.sampled_from(PEOPLE))
    def apply_now(self, p: Plan, who: Principal) -> None:
        """What the service does when a plan is approved and applies automatically."""
        self.start(p, who)
        self.engine_settles(p, "applied")

    @rule(p=st.sampled_from(PLANS), drift=st.sampled_from([False] * 3 + [True]))
    def recheck(self, p: Plan, drift: bool) -> None:
        if drift:
            self._attempt(p.digest(), lambda case: mark_stale(case, ()))

    @rule(pick=st.integers(0, 3), who=st.sampled_from(PEOPLE), approver=st.sampled_from((ALICE, BOB, CAROL)))
    def revert(self, pick: int, who: Principal, approver: Principal) -> None:
        """Submit the inverse of an applied plan, approve and apply it, then mark the plan reverted."""
        applied = [p for p in PLANS if p.digest() in INVERSE and self._state(p) is State.APPLIED]
        if not applied:
            return
        p = applied[pick % len(applied)]
        inverse = INVERSE[p.digest()]
        self.submit_plan(inverse, who, broken=False)
        if inverse.digest() not in self.cases:
            return
        self._attempt(p.digest(), lambda case: revert_submitted(case, self.cases[inverse.digest()]))
        self.approve_plan(inverse, approver)
        self.apply_now(inverse, who)
        self._attempt(p.digest(), lambda case: revert_applied(case, self.cases[inverse.digest()]))

    def _state(self, p: Plan) -> State | None:
        case = self.cases.get(p.digest())
        return None if case is None else case.state

    @invariant()
    def every_digest_applies_at_most_once(self) -> None:
        assert all(count <= 1 for count in self.applied.values())

    @invariant()
    def authors_never_count_as_approvers(self) -> None:
        for case in self.cases.values():
            assert isinstance(case.state, State)
            assert not set(case.authors) & set(counted_approvers(case, now=self.now, ttl=TTL))

    @invariant()
    def a_rejection_by_a_person_stays(self) -> None:
        for digest in self.rejected_by_people:
            assert self.cases[digest].state is State.REJECTED


TestWorkflow = Workflow.TestCase
