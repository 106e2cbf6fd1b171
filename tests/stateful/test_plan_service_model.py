"""Stateful test: two ``PlanService``s over one store agree with a model of the workflow.

``TwoServices`` drives two services (two sidecars) that share one memory
backend, one ``MemoryAudit`` and one ``MemoryCaseStore``, and sends each
request to either of them at random: submit, approve, reject, apply, revert,
sweep, an apply a third sidecar claimed and then died in, and the clock
moving on (approvals expire after an hour, an apply's lease is half an hour;
the clock is the machine's, never real time). A small model says what each
request does: who may do what (an author never approves, an approval that
still counts is not given twice, agents see only their own plans, two
approvals are needed, a failed plan submitted again is decided anew), which
refusal comes back, and where each case then stands. After every step both
services show every case in the state the model holds, and list the same
cases (an agent's list: the plans it submitted first).

Runs scale with the hypothesis profile (``tests/conftest.py``).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hypothesis import event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from planner.core.plan import Plan
from sidecar.apply.engine import Engine
from sidecar.apply.journal import FileJournals
from sidecar.apply.locks import PathLocks
from sidecar.audit.memory import MemoryAudit
from sidecar.audit.payloads import workflow_payload
from sidecar.backends.memory import MemoryBackend
from sidecar.errors import UnknownPlan
from sidecar.policy import Default, Policy
from sidecar.service.cases import Event, StoredCase
from sidecar.service.memory import MemoryCaseStore
from sidecar.service.plans import PlanService, WorkflowSettings
from sidecar.tokens import Principal, Role
from sidecar.workflow import AlreadyApproved, IllegalTransition, NotAllowed, NotApproved, State, start_apply

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
TTL, LEASE = 60, 30  # minutes; the clock moves by multiples of 7, so it never lands on either
PLANS = 1
assert settings.default is not None  # tests/conftest.py loads a profile
_DEEP = os.environ.get("HYPOTHESIS_PROFILE") == "deep"

AGENT = Principal("tok_000000000001", "agent-1", Role.AGENT, ("m",))
ALICE = Principal("tok_000000000002", "alice", Role.APPROVER, ("m",))
BOB = Principal("tok_000000000003", "bob", Role.APPROVER, ("*",))
CAROL = Principal("tok_000000000004", "carol", Role.ADMIN, ("*",))
PEOPLE = (AGENT, ALICE, BOB, CAROL)
Refusal = type[Exception] | None


def original(index: int) -> Plan:
    """Plan ``index``: file one document of the inbox (each plan its own)."""
    move = {"op": "move", "src": f"m/inbox/{index}.pdf", "dst": f"m/inbox/{index}-filed.pdf"}
    return Plan.model_validate({"pva": "plan/v1", "title": f"file {index}", "scope": ["m"], "ops": [move]})


class Clock:
    """The machine's clock: whole minutes it moves by, and a microsecond more at each reading."""

    def __init__(self) -> None:
        self.minutes = 0
        self.ticks = 0

    def __call__(self) -> datetime:
        self.ticks += 1
        return T0 + timedelta(minutes=self.minutes, microseconds=self.ticks)


@dataclass
class Case:
    """The model of one case: what the workflow says of it, in the machine's minutes."""

    state: State
    authors: list[str]
    revert_of: str | None = None
    approvals: dict[str, int] = field(default_factory=dict)  # approver -> minute of their latest approval
    claimed: int | None = None

    def counted(self, now: int) -> list[str]:
        return [name for name, at in self.approvals.items() if name not in self.authors and now - at < TTL]

    def authorised(self, now: int) -> bool:
        return len(self.counted(now)) >= 2


class TwoServices(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.clock = Clock()
        self.folder = tempfile.TemporaryDirectory()
        backend = MemoryBackend()
        for index in range(PLANS):
            backend.put(f"m/inbox/{index}.pdf", f"document {index}".encode())
        self.audit = MemoryAudit()
        self.cases = MemoryCaseStore(self.audit, self.clock)
        journals, locks = FileJournals(Path(self.folder.name)), PathLocks()
        policy = Policy(default=Default(outcome="require_approvals", approvals=2))
        settings = WorkflowSettings(
            approval_ttl=timedelta(minutes=TTL), auto_apply=False, apply_lease=timedelta(minutes=LEASE)
        )
        self.services = [
            PlanService(
                Engine(backend, self.audit, journals, locks=locks, clock=self.clock),
                self.audit,
                self.cases,
                policy,
                self.clock,
                settings,
            )
            for _ in range(2)
        ]
        self.model: dict[str, Case] = {}
        self.inverses: dict[str, str] = {}  # applied plan -> the plan that undoes it, once asked

    def teardown(self) -> None:
        self.folder.cleanup()

    # -- the model ------------------------------------------------------------

    @property
    def now(self) -> int:
        return self.clock.minutes

    def _sees(self, case: Case, who: Principal) -> bool:
        return who.role is not Role.AGENT or who.name in case.authors

    def _visible(self, digest: str, who: Principal) -> Case | None:
        case = self.model.get(digest)
        return case if case is not None and self._sees(case, who) else None

    def _sweep(self) -> None:
        for case in self.model.values():
            if case.state is State.APPLYING and case.claimed is not None and self.now - case.claimed > LEASE:
                case.state, case.claimed = State.FAILED, None
                event("an abandoned apply failed")

    def _expect_submit(self, digest: str, who: Principal, revert_of: str | None) -> None:
        """A new plan is pending; a failed one is decided anew (its approvals may still suffice)."""
        case = self.model.setdefault(digest, Case(State.PENDING, [], revert_of=revert_of))
        if who.name not in case.authors:
            case.authors.append(who.name)
        if case.state is State.FAILED:
            case.state = State.APPROVED if case.authorised(self.now) else State.PENDING

    def _expect_approve(self, case: Case, who: Principal) -> Refusal:
        state = case.state
        if state is State.APPROVED and not case.authorised(self.now):
            state = State.PENDING  # refreshed before the approval
        if state is not State.PENDING:
            return IllegalTransition
        if who.name in case.authors or who.role is Role.AGENT:
            return NotAllowed
        if who.name in case.counted(self.now):
            return AlreadyApproved
        case.approvals[who.name] = self.now
        case.state = State.APPROVED if case.authorised(self.now) else State.PENDING
        return None

    def _expect_reject(self, case: Case, who: Principal) -> Refusal:
        if case.state not in (State.PENDING, State.APPROVED):
            return IllegalTransition
        if who.name in case.authors or who.role is Role.AGENT:
            return NotAllowed
        case.state = State.REJECTED
        return None

    def _expect_apply(self, digest: str, case: Case, who: Principal) -> Refusal:
        if case.state is State.APPLYING and case.claimed is not None and self.now - case.claimed > LEASE:
            self._sweep()
        if case.state in (State.APPLYING, State.APPLIED, State.REVERTED):
            return None  # someone else's apply: reported as it stands
        if case.state is State.APPROVED and not case.authorised(self.now):
            case.state = State.PENDING  # the lapse is stored, then the apply refused
            return NotApproved
        if case.state not in (State.APPROVED, State.FAILED):
            return IllegalTransition
        if who.role is Role.AGENT and who.name not in case.authors:
            return NotAllowed
        if not case.authorised(self.now):
            return NotApproved
        case.state, case.claimed = State.APPLIED, None
        event("applied")
        undone = self.model.get(case.revert_of or "")
        undoes = self.inverses.get(case.revert_of or "") == digest
        if undone is not None and undone.state is State.APPLIED and undoes:
            undone.state = State.REVERTED
            event("a revert applied")
        return None

    # -- the requests ---------------------------------------------------------

    def _call(self, expected: Refusal, request: Callable[[], StoredCase]) -> StoredCase | None:
        """Run ``request`` and check it fails with the refusal the model expects (or succeeds)."""
        event(f"refused: {expected.__name__}" if expected else "done")
        outcome: StoredCase | Exception
        try:
            outcome = request()
        except (UnknownPlan, IllegalTransition, NotAllowed, AlreadyApproved, NotApproved) as error:
            outcome = error
        if isinstance(outcome, Exception):
            assert type(outcome) is expected, f"expected {expected}, got {outcome!r}"
            return None
        assert expected is None, f"expected {expected}, it succeeded"
        return outcome

    def _pick(self, data: st.DataObject) -> str:
        return data.draw(st.sampled_from(sorted(self.model)))

    @initialize(side=st.integers(0, 1))
    def submit_every_plan(self, side: int) -> None:
        """Every run starts with the plans submitted, so that its steps reach approvals and applies."""
        for index in range(PLANS):
            self.submit(index, AGENT, side)

    @rule(index=st.integers(0, PLANS - 1), who=st.sampled_from((AGENT, ALICE)), side=st.integers(0, 1))
    def submit(self, index: int, who: Principal, side: int) -> None:
        plan = original(index)
        stored = self.services[side].submit(plan, who)
        assert stored.digest == plan.digest()
        self._expect_submit(stored.digest, who, None)

    @precondition(lambda self: self.model)
    @rule(data=st.data(), who=st.sampled_from(PEOPLE), side=st.integers(0, 1))
    def approve(self, data: st.DataObject, who: Principal, side: int) -> None:
        digest = self._pick(data)
        case = self._visible(digest, who)
        expected = UnknownPlan if case is None else self._expect_approve(case, who)
        self._call(expected, lambda: self.services[side].approve(digest, who, "fine"))

    @precondition(lambda self: self.model)
    @rule(data=st.data(), who=st.sampled_from(PEOPLE), side=st.integers(0, 1))
    def reject(self, data: st.DataObject, who: Principal, side: int) -> None:
        if data.draw(st.integers(0, 3)):  # rarely: a rejection ends a plan, and the rest want plans alive
            return
        digest = self._pick(data)
        case = self._visible(digest, who)
        expected = UnknownPlan if case is None else self._expect_reject(case, who)
        self._call(expected, lambda: self.services[side].reject(digest, who, "no"))

    @precondition(lambda self: self.model)
    @rule(data=st.data(), who=st.sampled_from(PEOPLE), side=st.integers(0, 1))
    def apply(self, data: st.DataObject, who: Principal, side: int) -> None:
        digest = self._pick(data)
        case = self._visible(digest, who)
        expected = UnknownPlan if case is None else self._expect_apply(digest, case, who)
        self._call(expected, lambda: self.services[side].apply(digest, who))

    @precondition(lambda self: self.model)
    @rule(data=st.data(), who=st.sampled_from((AGENT, ALICE, BOB)), side=st.integers(0, 1))
    def revert(self, data: st.DataObject, who: Principal, side: int) -> None:
        digest = self._pick(data)
        case = self._visible(digest, who)
        if case is None:
            expected: Refusal = UnknownPlan
        else:
            expected = None if case.state is State.APPLIED else IllegalTransition
        inverse = self._call(expected, lambda: self.services[side].revert(digest, who))
        if inverse is None:
            return
        name = inverse.digest
        event("revert submitted")
        assert self.inverses.setdefault(digest, name) == name  # one plan undoes it, however often asked
        self._expect_submit(name, who, digest)

    @rule(side=st.integers(0, 1))
    def sweep(self, side: int) -> None:
        self._sweep()
        self.services[side].sweep()

    @precondition(lambda self: self.model)
    @rule(data=st.data())
    def abandoned_apply(self, data: st.DataObject) -> None:
        """A third sidecar claims an authorised plan for its apply, then stops before running it."""
        digest = self._pick(data)
        case = self.model[digest]
        if case.state not in (State.APPROVED, State.FAILED) or not case.authorised(self.now):
            return
        stored = self.cases.get(digest)
        assert stored is not None
        now = self.clock()
        claimed = start_apply(stored.case, CAROL, now=now, ttl=timedelta(minutes=TTL))
        event = Event("workflow", CAROL.name, workflow_payload("start_apply", "applying"))
        self.cases.update(stored, event, case=claimed, claimed=now)
        case.state, case.claimed = State.APPLYING, self.now

    @rule(steps=st.integers(1, 4))
    def wait(self, steps: int) -> None:
        self.clock.minutes += 7 * steps

    # -- what must hold -------------------------------------------------------

    @invariant()
    def both_services_show_the_model(self) -> None:
        for digest, case in self.model.items():
            seen = [service.get(digest, CAROL) for service in self.services]
            assert seen[0] == seen[1]
            assert seen[0].case.state is case.state, (digest[:8], seen[0].case.state, case.state)
            assert list(seen[0].case.authors) == case.authors
            assert seen[0].revert_of == case.revert_of

    @invariant()
    def both_services_list_the_cases_each_may_see(self) -> None:
        for who in (CAROL, AGENT):
            lists = [[stored.digest for stored in service.find(who)] for service in self.services]
            assert lists[0] == lists[1]
            assert sorted(lists[0]) == sorted(d for d, case in self.model.items() if self._lists(case, who))

    def _lists(self, case: Case, who: Principal) -> bool:
        """An agent's list holds the plans it submitted first (``find`` filters by the first author)."""
        return who.role is not Role.AGENT or case.authors[0] == who.name


TwoServices.TestCase.settings = settings(
    max_examples=settings.default.max_examples * 3, stateful_step_count=100 if _DEEP else 40
)
TestTwoServices = TwoServices.TestCase
