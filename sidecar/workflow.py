"""The plan workflow: the states of a submitted plan, the actions that move it, and approvals.

The pragmatics layer of validation, pure: the HTTP service loads a plan's
``PlanCase``, calls one function here with the actor and the time, stores
what it returns and records it in the audit. Nothing here reads a clock, a
store or a database. docs/workflow.md draws the states and the table.

``TRANSITIONS`` is the whole state machine: (state, action) to the states the
action may lead to; ``None`` is a plan never submitted. ``transition`` refuses
every other pair. The functions below (``submit``, ``approve``, ``reject``,
``request_changes``, ``refresh``, ``start_apply``, ``settle``, ``mark_stale``, ``revert_submitted``,
``revert_applied``, ``revise``, ``derive``) check who may act and pick the target state.

``allowed_actions`` says which of the things a person can ask for (``Verb``:
approve, reject, apply, revert) this person may ask for now; ``refusal`` says
why not. The action functions raise that same refusal, so the page's buttons,
the API's ``actions`` and what the workflow accepts cannot disagree.

Invariants, where they live:

- An approval counts only for the digest and base-state fingerprint it was
  given for, only until it expires, and never when the approver submitted the
  plan, whatever their role (``counted_approvers``).
- ``applied`` is entered only from ``applying`` and never left but for
  ``reverted``: a digest applies at most once.
- A plan a person rejected stays rejected; one rejected automatically (by
  verification or a policy ``deny``) may be submitted again, and is decided anew.
- ``superseded`` is final: the plan was replaced by a revision its author
  submitted (``revise``) or by the part of it a person approved (``derive``);
  ``superseded_by`` names the one that replaced it, whose ``supersedes`` or
  ``derived.original`` names it back.

Exceptions, a branch of ``planner.core.errors.PvaError`` (exit code 2: the caller
asked for something the workflow does not allow)::

    PvaError
    └── WorkflowError          the workflow refuses the request
        ├── IllegalTransition  the action is not allowed in the plan's state (HTTP 409)
        ├── NotAllowed         the actor may not: role, scope, or they submitted it (HTTP 403)
        ├── AlreadyApproved    the approver's approval already counts (HTTP 409)
        ├── NotApproved        apply asked, but the approvals that count are too few (HTTP 409)
        └── PartRefused        the part of a plan a person chose fails verification or policy (HTTP 409)

``ValueError`` means the caller passed values that contradict each other
(a report of another plan, a naive datetime): a bug, not a request to refuse.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from types import MappingProxyType
from typing import Any, Protocol, assert_never

from planner.core.errors import PvaError
from planner.core.plan import Plan
from planner.core.report import Diagnostic, Report
from planner.core.revision import Subset
from planner.core.states import PlanState
from sidecar.policy import Decision, Override, Policy, Requirement, decide, named_paths

ADMIN = "admin"  # the role that may act for any author (supersede their plan)

SUBMITTING_ROLES = frozenset({"agent", "approver", "admin"})
APPROVING_ROLES = frozenset({"approver", "admin"})  # also the roles that may reject


State = PlanState  # the public contract (planner.core.states): the API and the clients read the same values


class Action(StrEnum):
    """What can happen to a plan."""

    SUBMIT = "submit"
    APPROVE = "approve"
    REJECT = "reject"
    REQUEST_CHANGES = "request_changes"
    EXPIRE = "expire"  # approvals lapsed or were voided: back to pending
    START_APPLY = "start_apply"
    APPLIED = "applied"
    FAILED = "failed"
    STALE = "stale"
    REVERT_SUBMITTED = "revert_submitted"
    REVERT_APPLIED = "revert_applied"
    SUPERSEDE = "supersede"  # replaced by a revision, or by the part a person approved
    OVERRIDE = "override"  # an admin overrides a require_override rule's deny: decided anew without it


class Verb(StrEnum):
    """What a person can ask for on a submitted plan (the page's buttons, the API's ``actions``)."""

    APPROVE = "approve"
    REJECT = "reject"  # also: request changes (the same people, in the same states)
    APPLY = "apply"
    REVERT = "revert"


_WORDS = {  # each action in the words a person reads in a refusal
    Action.SUBMIT: "submit",
    Action.APPROVE: "approve",
    Action.REJECT: "reject",
    Action.REQUEST_CHANGES: "request changes to",
    Action.OVERRIDE: "override the policy's deny of",
    Action.EXPIRE: "let the approvals lapse on",
    Action.START_APPLY: "apply",
    Action.APPLIED: "record as applied",
    Action.FAILED: "record as failed",
    Action.STALE: "mark as stale",
    Action.REVERT_SUBMITTED: "revert",
    Action.REVERT_APPLIED: "record the revert of",
    Action.SUPERSEDE: "supersede",
}

_DECIDED = frozenset({State.PENDING, State.APPROVED, State.REJECTED})


def _to(*states: State) -> frozenset[State]:
    return frozenset(states)


TRANSITIONS: Mapping[tuple[State | None, Action], frozenset[State]] = MappingProxyType(
    {
        (None, Action.SUBMIT): _DECIDED,
        (State.STALE, Action.SUBMIT): _DECIDED,
        (State.FAILED, Action.SUBMIT): _DECIDED,
        (State.REJECTED, Action.SUBMIT): _DECIDED,  # only after an automatic rejection (submit checks)
        (State.REJECTED, Action.OVERRIDE): _DECIDED,  # a later rule may deny it again
        (State.PENDING, Action.APPROVE): _to(State.PENDING, State.APPROVED),
        (State.PENDING, Action.REJECT): _to(State.REJECTED),
        (State.APPROVED, Action.REJECT): _to(State.REJECTED),
        (State.PENDING, Action.REQUEST_CHANGES): _to(State.CHANGES_REQUESTED),
        (State.APPROVED, Action.REQUEST_CHANGES): _to(State.CHANGES_REQUESTED),
        (State.APPROVED, Action.EXPIRE): _to(State.PENDING),
        (State.APPROVED, Action.START_APPLY): _to(State.APPLYING),
        (State.FAILED, Action.START_APPLY): _to(State.APPLYING),  # a retry: nothing changed
        (State.PENDING, Action.STALE): _to(State.STALE),
        (State.APPROVED, Action.STALE): _to(State.STALE),
        (State.APPLYING, Action.STALE): _to(State.STALE),
        (State.APPLYING, Action.APPLIED): _to(State.APPLIED),
        (State.APPLYING, Action.FAILED): _to(State.FAILED),
        (State.APPLIED, Action.REVERT_SUBMITTED): _to(State.APPLIED),
        (State.APPLIED, Action.REVERT_APPLIED): _to(State.REVERTED),
        # replaced by a revision (its author's) or by the part a person approved (from pending only)
        (State.PENDING, Action.SUPERSEDE): _to(State.SUPERSEDED),
        (State.APPROVED, Action.SUPERSEDE): _to(State.SUPERSEDED),
        (State.CHANGES_REQUESTED, Action.SUPERSEDE): _to(State.SUPERSEDED),
        (State.STALE, Action.SUPERSEDE): _to(State.SUPERSEDED),
        (State.FAILED, Action.SUPERSEDE): _to(State.SUPERSEDED),
        (State.REJECTED, Action.SUPERSEDE): _to(State.SUPERSEDED),  # only after an automatic rejection
    }
)


class WorkflowError(PvaError):
    """The workflow refuses the request."""

    exit_code = 2


class IllegalTransition(WorkflowError):
    """The action is not allowed in the plan's state (or not to the state asked for)."""

    def __init__(self, state: State | None, action: Action, detail: str = "") -> None:
        self.state = state
        self.action = action
        where = "a plan never submitted" if state is None else f"a plan that is {state}"
        super().__init__(f"cannot {_WORDS[action]} {where}{f': {detail}' if detail else ''}")


class NotAllowed(WorkflowError):
    """The actor may not do this: their role, their scope, or they submitted the plan."""


class AlreadyApproved(WorkflowError):
    """The approver's approval of this plan already counts: a second one would count for nothing."""

    def __init__(self) -> None:
        super().__init__("you already approved this plan")


class NotApproved(WorkflowError):
    """The plan may not apply: the approvals that still count are fewer than the policy needs."""


class PartRefused(WorkflowError):
    """The part of a plan a person chose to approve cannot be approved: nothing was approved.

    ``diagnostics`` are verification's errors, op indexes as in the original plan.
    """

    def __init__(self, message: str, diagnostics: Iterable[Diagnostic] = ()) -> None:
        self.diagnostics = tuple(diagnostics)
        super().__init__(message)


def transition(state: State | None, action: Action, to: State | None = None) -> State:
    """The state ``action`` leads to from ``state``; IllegalTransition if it may not happen.

    ``to`` picks the target where an action has several (submit: the policy's
    verdict; approve: whether enough approvals count); elsewhere it may be left out.
    """
    targets = TRANSITIONS.get((state, action))
    if targets is None:
        raise IllegalTransition(state, action)
    if to is None:
        if len(targets) != 1:
            raise ValueError(f"{action} from {state} leads to one of {sorted(targets)}: say which")
        (to,) = targets
    elif to not in targets:
        raise IllegalTransition(state, action, f"it cannot lead to {to}")
    return to


def _require(state: State | None, action: Action) -> None:
    if (state, action) not in TRANSITIONS:
        raise IllegalTransition(state, action)


# -- the case and its approvals -------------------------------------------------


class Actor(Protocol):
    """Who acts (``sidecar.tokens.Principal`` is one): a name, a role, and the subtrees they may touch."""

    @property
    def name(self) -> str: ...
    @property
    def role(self) -> str: ...
    def may_touch(self, path: str) -> bool: ...


class Outcome(Protocol):
    """How an apply ended (``sidecar.audit.records.ApplyRecord`` is one): what ``settle`` reads of it."""

    @property
    def digest(self) -> str: ...
    @property
    def status(self) -> str: ...  # "applied", "failed" or "stale"
    @property
    def diagnostics(self) -> tuple[Diagnostic, ...]: ...
    @property
    def inverse(self) -> dict[str, Any] | None: ...


@dataclass(frozen=True)
class Approval:
    """One person's approval, bound to the plan's digest and the fingerprint of the state they saw."""

    approver: str
    digest: str
    fingerprint: str
    time: datetime
    comment: str = ""
    groups: tuple[str, ...] = ()  # the approver's groups when they approved (policy requirements)


@dataclass(frozen=True)
class OpComment:
    """What a person asks to change in one op (``op``: its 0-based index, as in the plan's JSON)."""

    op: int
    comment: str


@dataclass(frozen=True)
class Rejection:
    """A person's rejection, or request for changes (``ops``: per op): final for this digest.

    The author revises the plan and submits the new version (another digest).
    """

    actor: str
    time: datetime
    comment: str = ""
    ops: tuple[OpComment, ...] = ()


@dataclass(frozen=True)
class Derivation:
    """How a part of a plan came to be: the plan it is of, who approved it, the ops left out (0-based)."""

    original: str
    approver: str
    without: tuple[int, ...]
    time: datetime


@dataclass(frozen=True)
class PlanCase:
    """Where one submitted plan (one digest) stands; every function returns a new one."""

    digest: str
    state: State
    authors: tuple[str, ...]  # everyone who submitted this digest, the first first; none may approve it
    paths: tuple[str, ...]  # every path the plan names: touched, and its scope's roots (policy.named_paths)
    fingerprint: str  # the base state of the latest submission: approvals bind to it
    decision: Decision | None  # the policy's; None when verification refused the plan
    submitted: datetime  # the latest submission
    diagnostics: tuple[Diagnostic, ...] = ()  # the latest verification's or apply's
    approvals: tuple[Approval, ...] = ()  # every approval given, counted or not
    rejection: Rejection | None = None
    inverse_digest: str | None = None  # the plan that undoes it, once applied
    supersedes: str | None = None  # the earlier version this revision replaced (its author said so)
    superseded_by: str | None = None  # the revision or approved part that replaced it (state superseded)
    derived: Derivation | None = None  # set on the part of a plan a person approved

    @property
    def author(self) -> str:
        return self.authors[0]

    @property
    def approvals_needed(self) -> int:
        return 0 if self.decision is None else self.decision.approvals_needed


def counted_approvers(case: PlanCase, *, now: datetime, ttl: timedelta | None) -> tuple[str, ...]:
    """The distinct approvers whose approval counts at ``now``, in the order they approved.

    An approval counts while its digest and fingerprint are the case's, it is
    younger than ``ttl`` (None: approvals never expire), and its approver is
    not one of the plan's authors.
    """
    return tuple(approval.approver for approval in counted_approvals(case, now=now, ttl=ttl))


def counted_approvals(case: PlanCase, *, now: datetime, ttl: timedelta | None) -> tuple[Approval, ...]:
    """The approvals that count at ``now``, one per approver (their first that counts), in order."""
    _check_time(now, ttl)
    found: dict[str, Approval] = {}
    for approval in case.approvals:
        if (
            approval.digest == case.digest
            and approval.fingerprint == case.fingerprint
            and approval.approver not in case.authors
            and (ttl is None or now < approval.time + ttl)
        ):
            found.setdefault(approval.approver, approval)
    return tuple(found.values())


def missing(case: PlanCase, *, now: datetime, ttl: timedelta | None) -> list[tuple[Requirement, int]]:
    """Each group requirement of the decision not met at ``now``, with how many approvals it still lacks.

    An approval counts for every group its approver belonged to when they
    gave it (a member of two groups counts for both).
    """
    if case.decision is None:
        return []
    counted = counted_approvals(case, now=now, ttl=ttl)
    lacking = []
    for need in case.decision.requirements:
        have = sum(1 for approval in counted if need.group in approval.groups)
        if have < need.approvals:
            lacking.append((need, need.approvals - have))
    return lacking


def op_needs(case: PlanCase, ops: int, *, now: datetime, ttl: timedelta | None) -> dict[int, list[str]]:
    """Whose approval each op (0-based, of ``ops``) still needs at ``now``, in words; the others left out.

    The one answer the API's ``needs``, the page's column and ``pva plans show`` give.
    """
    needs: dict[int, list[str]] = {}
    for need, lacking in missing(case, now=now, ttl=ttl):
        for op in range(ops) if need.ops is None else need.ops:
            needs.setdefault(op, []).append(f"{lacking} more of {need.group}")
    return dict(sorted(needs.items()))


def is_authorised(case: PlanCase, *, now: datetime, ttl: timedelta | None) -> bool:
    """True when the policy's decision is met at ``now``: approved by a rule, or enough approvals count.

    Enough: as many distinct approvers as the decision needs, and every group
    requirement (a rule's ``require``, the owners of each op's paths) met.
    """
    if case.decision is None or case.decision.outcome == "deny":
        return False
    enough = len(counted_approvers(case, now=now, ttl=ttl)) >= case.decision.approvals_needed
    return enough and not missing(case, now=now, ttl=ttl)


def resubmittable(case: PlanCase) -> bool:
    """True when submitting the plan again decides it anew (stale, failed, or rejected automatically)."""
    return case.state in (State.STALE, State.FAILED) or (
        case.state is State.REJECTED and case.rejection is None
    )


# -- what people and the engine do ---------------------------------------------


def submit(
    plan: Plan,
    report: Report,
    *,
    author: Actor,
    fingerprint: str,
    policy: Policy,
    now: datetime,
    ttl: timedelta | None,
    existing: PlanCase | None = None,
) -> PlanCase:
    """Submit ``plan``, verified against the live store in state ``fingerprint`` (``report``).

    A new plan, or an ``existing`` one that is ``resubmittable``, is decided
    anew: rejected when the report has errors, else as the policy says, and
    approved at once when the approvals that still count already suffice.
    Any other existing plan comes back as it is (idempotent by digest), the
    submitter added to its authors. NotAllowed when the submitter's role may
    not submit or a path of the plan is outside their scope.
    """
    digest = plan.digest()
    if report.digest != digest or (existing is not None and existing.digest != digest):
        raise ValueError("the report and the existing case must be of the plan submitted")
    _check_time(now, ttl)
    paths = named_paths(plan)
    check_proposer(author, paths)
    if existing is not None and not resubmittable(existing):
        return replace(existing, authors=_added(existing.authors, author.name))
    case = PlanCase(
        digest=digest,
        state=State.PENDING,  # replaced below, once the target is known
        authors=_added(() if existing is None else existing.authors, author.name),
        paths=paths,
        fingerprint=fingerprint,
        decision=None if report.errors else decide(plan, report, author, policy),
        submitted=now,
        diagnostics=tuple(report.diagnostics),
        approvals=() if existing is None else existing.approvals,
    )
    if case.decision is None or case.decision.outcome == "deny":
        target = State.REJECTED
    else:
        target = State.APPROVED if is_authorised(case, now=now, ttl=ttl) else State.PENDING
    previous = None if existing is None else existing.state
    return replace(case, state=transition(previous, Action.SUBMIT, target))


def check_proposer(actor: Actor, paths: Iterable[str]) -> None:
    """NotAllowed unless ``actor``'s role may propose plans and every path is inside their scope."""
    _raise(_proposer_refusal(actor, paths, "submit"))


def _proposer_refusal(actor: Actor, paths: Iterable[str], verb: str) -> WorkflowError | None:
    if actor.role not in SUBMITTING_ROLES:
        return NotAllowed(f"{actor.name} has role {actor.role}, which may not verify or submit plans")
    return _scope_refusal(actor, paths, verb)


# -- what a person may ask for --------------------------------------------------


def allowed_actions(case: PlanCase, actor: Actor, now: datetime, *, ttl: timedelta | None) -> frozenset[Verb]:
    """What ``actor`` may ask for on ``case`` at ``now``: the one answer the page and the API show."""
    return frozenset(verb for verb in Verb if refusal(case, actor, verb, now=now, ttl=ttl) is None)


def refusal(
    case: PlanCase, actor: Actor, verb: Verb, *, now: datetime, ttl: timedelta | None
) -> WorkflowError | None:
    """Why ``actor`` may not ask for ``verb`` on ``case`` at ``now``; None when they may.

    The action functions (``approve``, ``reject``, ``start_apply``) and the
    service's revert raise exactly this, so nothing is offered that is refused.
    """
    _check_time(now, ttl)
    match verb:
        case Verb.APPROVE:
            return (
                _state_refusal(case, Action.APPROVE)
                or _judge_refusal(case, actor, "approve")
                or (AlreadyApproved() if actor.name in counted_approvers(case, now=now, ttl=ttl) else None)
            )
        case Verb.REJECT:
            return _state_refusal(case, Action.REJECT) or _judge_refusal(case, actor, "reject")

        case Verb.APPLY:
            return _state_refusal(case, Action.START_APPLY) or _applier_refusal(case, actor, now, ttl)
        case Verb.REVERT:
            return _revert_refusal(case) or _proposer_refusal(actor, case.paths, "revert")
        case _:  # pragma: no cover  # every verb is handled above
            assert_never(verb)


def _state_refusal(case: PlanCase, action: Action) -> WorkflowError | None:
    return None if (case.state, action) in TRANSITIONS else IllegalTransition(case.state, action)


def _applier_refusal(
    case: PlanCase, actor: Actor, now: datetime, ttl: timedelta | None
) -> WorkflowError | None:
    if actor.role not in SUBMITTING_ROLES or (
        actor.role not in APPROVING_ROLES and actor.name not in case.authors
    ):
        return NotAllowed(
            f"{actor.name} ({actor.role}) may not apply this plan: its authors, approvers and admins may"
        )
    outside = _scope_refusal(actor, case.paths, "apply")
    if outside is not None or is_authorised(case, now=now, ttl=ttl):
        return outside
    counted = len(counted_approvers(case, now=now, ttl=ttl))
    lacking = missing(case, now=now, ttl=ttl)
    if counted >= case.approvals_needed and lacking:
        return NotApproved("it still needs " + "; ".join(_lacking(need, n) for need, n in lacking))
    return NotApproved(
        f"{counted} of the {_n(case.approvals_needed, 'approval')} needed still "
        f"{'counts' if counted == 1 else 'count'} (the others expired, or were given for another "
        "state of the store)"
    )


def _lacking(need: Requirement, count: int) -> str:
    where = "the plan" if need.ops is None else "ops " + ", ".join(str(op + 1) for op in need.ops)
    return f"{count} more of {need.group} for {where}"


def _revert_refusal(case: PlanCase) -> WorkflowError | None:
    if case.state is not State.APPLIED:
        return IllegalTransition(case.state, Action.REVERT_SUBMITTED, "only an applied plan can be reverted")
    if case.inverse_digest is None:
        return IllegalTransition(
            case.state, Action.REVERT_SUBMITTED, "its apply recorded no plan that undoes it"
        )
    return None


def check_approver(case: PlanCase, actor: Actor, *, now: datetime, ttl: timedelta | None) -> None:
    """Raise why ``actor`` may not approve ``case`` at ``now`` (in whole or in part), if they may not."""
    _raise(refusal(case, actor, Verb.APPROVE, now=now, ttl=ttl))


def raise_refusal(error: WorkflowError | None) -> None:
    """Raise ``error``, a refusal the workflow gave; nothing when it is None."""
    _raise(error)


def check_revert(case: PlanCase, actor: Actor, *, now: datetime) -> None:
    """Raise why ``actor`` may not revert ``case`` (submit the plan that undoes it), if they may not."""
    _raise(refusal(case, actor, Verb.REVERT, now=now, ttl=None))


def approve(
    case: PlanCase, approver: Actor, *, now: datetime, ttl: timedelta | None, comment: str = ""
) -> PlanCase:
    """Record ``approver``'s approval of a pending plan; approved once enough distinct approvals count.

    NotAllowed for the plan's authors (whatever their role), for roles other
    than approver and admin, and for an approver whose scope misses a path;
    AlreadyApproved when their approval already counts (one that expired or
    was given for another state of the store may be given again).
    """
    _raise(refusal(case, approver, Verb.APPROVE, now=now, ttl=ttl))
    groups = tuple(getattr(approver, "groups", ()))  # a Principal's; an actor without groups has none
    approval = Approval(approver.name, case.digest, case.fingerprint, now, comment, groups)
    approved = replace(case, approvals=(*case.approvals, approval))
    target = State.APPROVED if is_authorised(approved, now=now, ttl=ttl) else State.PENDING
    return replace(approved, state=transition(case.state, Action.APPROVE, target))


def reject(case: PlanCase, actor: Actor, *, now: datetime, comment: str = "") -> PlanCase:
    """A person rejects a pending or approved plan, for good; the same people as ``approve`` may."""
    _raise(refusal(case, actor, Verb.REJECT, now=now, ttl=None))
    state = transition(case.state, Action.REJECT)
    return replace(case, state=state, rejection=Rejection(actor.name, now, comment))


def request_changes(
    case: PlanCase, actor: Actor, *, now: datetime, comment: str, ops: Iterable[OpComment] = ()
) -> PlanCase:
    """A person asks for changes to a pending or approved plan, per op: ``changes_requested``, for good.

    The same people as ``reject`` may. The author revises the plan and
    submits the new version; this digest stays as it is.
    """
    _raise(_state_refusal(case, Action.REQUEST_CHANGES) or _judge_refusal(case, actor, "request changes to"))
    state = transition(case.state, Action.REQUEST_CHANGES)
    return replace(case, state=state, rejection=Rejection(actor.name, now, comment, tuple(ops)))


def override_refusal(case: PlanCase, actor: Actor) -> WorkflowError | None:
    """Why ``actor`` may not override the policy's deny of ``case``; None when they may.

    Admins only, never an author, within their scope; and only a plan a rule
    with ``enforcement = "require_override"`` denied (``decision.overridable``).
    """
    if actor.role != "admin":
        return NotAllowed(f"{actor.name} has role {actor.role}; only admins may override a policy rule")
    if actor.name in case.authors:
        return NotAllowed(f"{actor.name} submitted this plan and cannot override the policy for it")
    decision = case.decision
    overridable = decision is not None and decision.outcome == "deny" and decision.overridable
    if case.state is not State.REJECTED or case.rejection is not None or not overridable:
        detail = "only a plan denied by a rule with enforcement 'require_override' can be overridden"
        return IllegalTransition(case.state, Action.OVERRIDE, detail)
    return _scope_refusal(actor, case.paths, "override")


def override(
    case: PlanCase,
    plan: Plan,
    report: Report,
    actor: Actor,
    *,
    reason: str,
    policy: Policy,
    now: datetime,
    ttl: timedelta | None,
) -> PlanCase:
    """An admin overrides the deny of ``case`` with ``reason``: the policy decides it anew without that rule.

    The new decision records the override (with those before it); the plan is
    pending, approved at once when its approvals suffice, or rejected again
    when a later rule denies it too. ``plan`` and ``report`` are the case's.
    """
    _raise(override_refusal(case, actor))
    if plan.digest() != case.digest or report.digest != case.digest:
        raise ValueError("the plan and report must be the overridden case's")
    assert case.decision is not None
    assert case.decision.rule_name is not None
    note = Override(rule_name=case.decision.rule_name, actor=actor.name, reason=reason, time=now.isoformat())
    overrides = [*case.decision.overrides, note]
    decision = decide(plan, report, _Proposer(case.author), policy, overrides=overrides)
    decided = replace(case, decision=decision)
    assert decided.decision is not None
    if decided.decision.outcome == "deny":
        target = State.REJECTED
    else:
        target = State.APPROVED if is_authorised(decided, now=now, ttl=ttl) else State.PENDING
    return replace(decided, state=transition(case.state, Action.OVERRIDE, target))


def refresh(case: PlanCase, *, now: datetime, ttl: timedelta | None) -> PlanCase:
    """Send an approved plan back to pending when its approvals no longer suffice at ``now``."""
    if case.state is State.APPROVED and not is_authorised(case, now=now, ttl=ttl):
        return replace(case, state=transition(case.state, Action.EXPIRE))
    return case


def start_apply(case: PlanCase, actor: Actor, *, now: datetime, ttl: timedelta | None) -> PlanCase:
    """Hand an approved (or failed, to retry) plan to the engine: ``applying``.

    The plan's authors, approvers and admins may, within their scope.
    NotApproved when the approvals that count at ``now`` are too few (call
    ``refresh`` to store that). An applying or applied plan is refused:
    nothing applies twice.
    """
    _raise(refusal(case, actor, Verb.APPLY, now=now, ttl=ttl))
    return replace(case, state=transition(case.state, Action.START_APPLY))


def settle(case: PlanCase, record: Outcome) -> PlanCase:
    """Take the engine's outcome: applied, failed (nothing changed) or stale, with its diagnostics."""
    if record.digest != case.digest:
        raise ValueError(f"the apply record is of plan {record.digest[:12]}, not {case.digest[:12]}")
    action = {"applied": Action.APPLIED, "failed": Action.FAILED, "stale": Action.STALE}[record.status]
    state = transition(case.state, action)
    inverse = None
    if state is State.APPLIED and record.inverse is not None:
        inverse = Plan.model_validate(record.inverse).digest()
    return replace(case, state=state, diagnostics=record.diagnostics, inverse_digest=inverse)


def mark_stale(case: PlanCase, diagnostics: Iterable[Diagnostic]) -> PlanCase:
    """A re-check found the store changed under a pending, approved or applying plan."""
    return replace(case, state=transition(case.state, Action.STALE), diagnostics=tuple(diagnostics))


def revert_submitted(case: PlanCase, inverse: PlanCase) -> PlanCase:
    """Check that ``inverse``, just submitted, is the plan that undoes this applied one; it stays applied."""
    _check_inverse(case, inverse, Action.REVERT_SUBMITTED)
    return replace(case, state=transition(case.state, Action.REVERT_SUBMITTED))


def revert_applied(case: PlanCase, inverse: PlanCase) -> PlanCase:
    """This applied plan's inverse was applied: it is ``reverted``."""
    _check_inverse(case, inverse, Action.REVERT_APPLIED)
    if inverse.state is not State.APPLIED:
        raise IllegalTransition(case.state, Action.REVERT_APPLIED, f"its inverse plan is {inverse.state}")
    return replace(case, state=transition(case.state, Action.REVERT_APPLIED))


# -- checks -------------------------------------------------------------------


def _raise(error: WorkflowError | None) -> None:
    if error is not None:
        raise error


def _judge_refusal(case: PlanCase, actor: Actor, verb: str) -> WorkflowError | None:
    """Only approvers and admins who did not submit the plan and whose scope holds it may judge it."""
    if actor.name in case.authors:
        return NotAllowed(f"{actor.name} submitted this plan and cannot {verb} it, whatever their role")
    if actor.role not in APPROVING_ROLES:
        return NotAllowed(f"{actor.name} has role {actor.role}; only approvers and admins may {verb} plans")
    return _scope_refusal(actor, case.paths, verb)


def _scope_refusal(actor: Actor, paths: Iterable[str], verb: str) -> WorkflowError | None:
    outside = [path for path in paths if not actor.may_touch(path)]
    if not outside:
        return None
    shown = ", ".join(repr(path) for path in outside[:3]) + (", ..." if len(outside) > 3 else "")
    verb_of = "is" if len(outside) == 1 else "are"
    return NotAllowed(
        f"{actor.name} may not {verb} this plan: {len(outside)} of its paths {verb_of} outside "
        f"their scope ({shown})"
    )


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _check_inverse(case: PlanCase, inverse: PlanCase, action: Action) -> None:
    _require(case.state, action)
    if case.inverse_digest is None:
        raise IllegalTransition(case.state, action, "its apply recorded no inverse plan (nothing to undo)")
    if inverse.digest != case.inverse_digest:
        detail = f"plan {inverse.digest[:12]} is not the plan that undoes it"
        raise IllegalTransition(case.state, action, detail)


def _check_time(now: datetime, ttl: timedelta | None) -> None:
    if now.tzinfo is None:
        raise ValueError("workflow times must be timezone-aware")
    if ttl is not None and ttl <= timedelta(0):
        raise ValueError("the approval lifetime must be positive (None: approvals never expire)")


def _added(names: tuple[str, ...], name: str) -> tuple[str, ...]:
    return names if name in names else (*names, name)


# -- versions: revisions and approved parts ----------------------------------


class _Proposer:
    """The author a derived part is decided for by the policy: its first author, as an agent."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.role = "agent"  # the case keeps no author's role: decide as for the least trusted one


def supersede_refusal(case: PlanCase, actor: Actor, by: str) -> WorkflowError | None:
    """Why ``actor`` may not replace ``case`` with a revision whose digest is ``by``; None when they may.

    Its authors and admins may, while it is pending, approved, changes_requested,
    stale, failed or rejected automatically; never one a person rejected (that is
    final: submit the new version on its own), nor a plan that applies or applied.
    """
    if by == case.digest:
        return IllegalTransition(case.state, Action.SUPERSEDE, "a plan cannot supersede itself")
    if case.state is State.REJECTED and case.rejection is not None:
        detail = "a person rejected it; submit the new version without 'supersedes'"
        return IllegalTransition(case.state, Action.SUPERSEDE, detail)
    refused = _state_refusal(case, Action.SUPERSEDE)
    if refused is not None:
        return refused
    if actor.name not in case.authors and actor.role != ADMIN:
        return NotAllowed(
            f"{actor.name} did not submit this plan: only its authors and admins may supersede it"
        )
    return None


def revise(new: PlanCase, old: PlanCase, actor: Actor, *, now: datetime) -> tuple[PlanCase, PlanCase]:
    """``actor`` submitted ``new`` as the revision of ``old``: the new records it, the old is superseded.

    IllegalTransition or NotAllowed as ``supersede_refusal`` says; IllegalTransition
    when ``new`` already replaced another plan.
    """
    _check_time(now, None)
    _raise(supersede_refusal(old, actor, new.digest))
    if new.supersedes not in (None, old.digest):
        detail = f"it already supersedes plan {new.supersedes[:12]}"
        raise IllegalTransition(new.state, Action.SUPERSEDE, detail)
    superseded = replace(old, state=transition(old.state, Action.SUPERSEDE), superseded_by=new.digest)
    return replace(new, supersedes=old.digest), superseded


def derive(
    original: PlanCase,
    part: Subset,
    report: Report,
    *,
    approver: Actor,
    fingerprint: str,
    policy: Policy,
    now: datetime,
    ttl: timedelta | None,
    comment: str = "",
) -> tuple[PlanCase, PlanCase]:
    """``approver`` approves ``part`` of the pending ``original`` (verified: ``report``).

    ``part`` is ``planner.core.revision.subset`` of the original plan.

    The part is a new case: its authors are the original's, it records who
    approved it and the ops left out (``derived``), it is decided by the policy
    like any plan, and it carries the approver's approval (approved once the
    approvals it needs count). The original is superseded by it. Whoever may
    approve the original may do this, and nobody else. PartRefused, and
    nothing approved, when the part fails verification or the policy denies it.
    """
    _raise(refusal(original, approver, Verb.APPROVE, now=now, ttl=ttl))
    plan = part.plan
    if report.digest != plan.digest():
        raise ValueError("the report must be of the part")
    if report.errors:
        errors = [part.original(error) for error in report.errors]  # numbered as the approver saw them
        first = errors[0]
        where = "" if first.op_index is None else f" (op {first.op_index + 1})"
        raise PartRefused(
            f"the plan without op{'s' if len(part.without) > 1 else ''} "
            f"{', '.join(str(index + 1) for index in part.without)} fails verification, so nothing was "
            f"approved: {first.code}{where}: {first.message}",
            errors,
        )
    decision = decide(plan, report, _Proposer(original.author), policy)
    if decision.outcome == "deny":
        raise PartRefused(f"the policy denies the part, so nothing was approved: {decision.reason}")
    case = PlanCase(
        digest=plan.digest(),
        state=transition(None, Action.SUBMIT, State.PENDING),
        authors=original.authors,
        paths=named_paths(plan),
        fingerprint=fingerprint,
        decision=decision,
        submitted=now,
        diagnostics=tuple(report.diagnostics),
        derived=Derivation(original.digest, approver.name, part.without, now),
    )
    approved = approve(case, approver, now=now, ttl=ttl, comment=comment)
    superseded = replace(
        original, state=transition(original.state, Action.SUPERSEDE), superseded_by=approved.digest
    )
    return approved, superseded
