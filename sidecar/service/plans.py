"""``PlanService``: the workflow's use cases: verify, submit, approve, reject, apply, revert, read.

Each use case loads a case, asks the pure ``workflow`` what follows, and
saves the result with its audit event by compare-and-swap; when another
writer (a thread, another sidecar) changed the case first, it reads the case
again and decides anew. Errors are ``PvaError``s: the API maps them to HTTP.

Visibility is the ethical wall (``sidecar.walls.sees_plan``): an agent sees
the plans it submitted, every role only plans whose every path lies in its
scope. A plan a principal may not see is ``UnknownPlan`` to them (HTTP 404),
and id prefixes resolve among the plans they see, so its existence does not leak.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, TypeVar

from planner.core.errors import PvaError
from planner.core.fingerprint import fingerprint
from planner.core.footprint import footprint, pinned, reviewed
from planner.core.holds import held_changes
from planner.core.paths import path_problem, read_path_problem
from planner.core.plan import Plan
from planner.core.preview import Preview
from planner.core.report import Code, Diagnostic, Report
from planner.core.revision import BadSelection, subset
from planner.core.verify import simulate
from sidecar.apply.engine import Engine
from sidecar.apply.progress import Progress
from sidecar.audit.payloads import approval_payload, workflow_payload
from sidecar.audit.records import ApplyRecord
from sidecar.backends.base import FileStream
from sidecar.errors import LockTimeout, UnknownPlan
from sidecar.policy import Policy, named_paths
from sidecar.service.cases import NO_PLAN, Conflict, Event, StoredCase, Write
from sidecar.service.codec import base_changes, base_from, base_json
from sidecar.service.contents import previews, write_content
from sidecar.service.ports import ApplyQueue, CaseStore, PlanAudit
from sidecar.service.versions import NO_VERSIONS, Versions, previous_of, versions
from sidecar.tokens import Principal, Role
from sidecar.walls import sees_plan
from sidecar.workflow import (
    Action,
    IllegalTransition,
    NotAllowed,
    NotApproved,
    OpComment,
    PartRefused,
    PlanCase,
    State,
    approve,
    check_approver,
    check_proposer,
    check_revert,
    derive,
    mark_stale,
    override,
    raise_refusal,
    refresh,
    reject,
    request_changes,
    revert_applied,
    revert_submitted,
    revise,
    settle,
    start_apply,
    submit,
    supersede_refusal,
)

T = TypeVar("T")
log = logging.getLogger("pva.service")
FULL_ID = re.compile(r"[0-9a-f]{64}")  # a plan's whole id, its digest
RETRIES = 20  # compare-and-swap rounds before giving up: each lost round means another writer won one


@dataclass(frozen=True)
class Submission:
    """A submitted plan's case, and whether its submitter could see that case before submitting."""

    stored: StoredCase
    seen: bool  # the API answers 200 (a plan the caller saw already), not 201; never for a hidden one


@dataclass(frozen=True)
class WorkflowSettings:
    """How the workflow runs: approval lifetime, automatic apply, the lease of an apply in progress."""

    approval_ttl: timedelta | None = timedelta(days=7)
    auto_apply: bool = True
    apply_lease: timedelta = timedelta(minutes=30)


@dataclass
class PlanService:
    """The use cases over one store, its engine, the audit, the cases and the policy."""

    engine: Engine
    audit: PlanAudit
    cases: CaseStore
    policy: Policy
    clock: Callable[[], datetime]
    settings: WorkflowSettings = WorkflowSettings()
    queue: ApplyQueue | None = (
        None  # set: applies are jobs a worker runs (``work``); None: the request runs them
    )

    # -- proposing ----------------------------------------------------------------

    def verify(self, plan: Plan, who: Principal) -> Report:
        """A dry run against the live store; stores nothing."""
        check_proposer(who, named_paths(plan))
        return self.engine.examine(plan)[0].report

    def submit(
        self, plan: Plan, who: Principal, *, revert_of: str | None = None, supersedes: str | None = None
    ) -> StoredCase:
        """Verify, record and decide ``plan``; the same digest again returns the existing case.

        ``supersedes``: the id of an earlier version ``who`` submitted, which becomes
        ``superseded`` in the transaction that records this one (``workflow.revise``).
        """
        return self.submission(plan, who, revert_of=revert_of, supersedes=supersedes).stored

    def submission(
        self, plan: Plan, who: Principal, *, revert_of: str | None = None, supersedes: str | None = None
    ) -> Submission:
        """``submit``, also telling whether ``who`` could see the plan's case before (the API's 200)."""
        check_writer(who)
        check_proposer(who, named_paths(plan))
        if supersedes is not None:  # refused before anything is verified or recorded
            old = self._load(supersedes, who)
            raise_refusal(supersede_refusal(old.case, who, plan.digest()))
            supersedes = old.digest
        before = self.cases.get(plan.digest())  # read once: the first round's case, and what ``who`` saw
        simulation, tree = self.engine.examine(plan)
        # Stored: what people review of the footprint read and the changes resolved over it (what
        # the trees replay); approvals bind to the fingerprint of its pinned part (what the ops name).
        reads = footprint(plan)
        base = base_json(reviewed(tree, reads), simulation.changes)
        bound = fingerprint(pinned(tree, reads))
        report = simulation.report
        first = [before]  # the first round's case; a round lost to another writer reads it again

        def once() -> StoredCase:
            existing = first.pop() if first else self.cases.get(plan.digest())
            return self._submit_once(
                plan, who, report, (base, bound), revert_of, existing=existing, supersedes=supersedes
            )

        stored = self._retrying(once)
        return Submission(self._auto_apply(stored, who), before is not None and visible(before, who))

    def _submit_once(
        self,
        plan: Plan,
        who: Principal,
        report: Report,
        verified: tuple[dict[str, Any], str],
        revert_of: str | None,
        *,
        existing: StoredCase | None,
        supersedes: str | None = None,
    ) -> StoredCase:
        base, bound = verified
        old = None if supersedes is None else self._reload_digest(supersedes)
        now = self.clock()
        case = submit(
            plan,
            report,
            author=who,
            fingerprint=bound,
            policy=self.policy,
            now=now,
            ttl=self.settings.approval_ttl,
            existing=None if existing is None else existing.case,
        )
        superseded = None
        if old is not None:
            case, superseded = revise(case, old.case, who, now=now)
        decision = case.decision
        event = Event(
            "workflow",
            who.name,
            workflow_payload(
                "submit",
                case.state.value,
                errors=len(report.errors),
                fingerprint=case.fingerprint,
                outcome=None if decision is None else decision.outcome,
                rule=None if decision is None else decision.rule_name,
                approvals_needed=None if decision is None else decision.approvals_needed,
                reason=None if decision is None else decision.reason,
                supersedes=case.supersedes,
            ),
        )
        write = self._submit_write(
            plan, case, existing=existing, event=event, report=report, base=base, revert_of=revert_of, now=now
        )
        if write is None:
            return existing or self._reload_digest(case.digest)
        if old is None or superseded is None:
            return self._save(write)
        payload = workflow_payload("supersede", superseded.state.value, by=case.digest)
        replaced = Write(old, Event("workflow", who.name, payload), {"case": superseded})
        return self.cases.write([write, replaced])[0]

    def _submit_write(
        self,
        plan: Plan,
        case: PlanCase,
        *,
        existing: StoredCase | None,
        event: Event,
        report: Report,
        base: dict[str, Any],
        revert_of: str | None,
        now: datetime,
    ) -> Write | None:
        """How a submission is saved: a new case, or the existing one decided anew or with a new author.

        None: the existing case stays as it is.
        """
        if existing is None:
            fresh = StoredCase(
                case=case,
                version=0,
                title=plan.title,
                report=report.model_dump(mode="json"),
                base=base,
                revert_of=revert_of,
                claimed=None,
                updated=now,
            )
            return Write(fresh, event, new=True, plan=plan)  # the plan is recorded with its case
        if case == existing.case:
            return None
        if case.submitted == existing.case.submitted:  # not decided anew: only a new author joined
            facts = {} if case.supersedes is None else {"supersedes": case.supersedes}
            resubmitted = replace(event, payload=workflow_payload("resubmit", case.state.value, **facts))
            return Write(existing, resubmitted, {"case": case})  # the new author is recorded
        return Write(existing, event, {"case": case, "report": report.model_dump(mode="json"), "base": base})

    def _save(self, write: Write) -> StoredCase:
        if write.new:
            return self.cases.create(write.stored, write.event, plan=write.plan)
        return self.cases.update(write.stored, write.event, **write.changes)

    # -- deciding -----------------------------------------------------------------

    def approve(self, ref: str, who: Principal, comment: str) -> StoredCase:
        """``who`` approves; with enough approvals the plan is approved (and applied, if configured).

        A legal hold placed since the plan was verified wins: the plan goes
        ``stale`` with its ``on_hold`` diagnostics instead (submit it again
        once the hold is released). The case is read once and handed on: to
        the approval, then to the apply.
        """

        def once(stored: StoredCase) -> StoredCase:
            now = self.clock()
            case = approve(  # first: only who may approve it learns of a hold this way
                refresh(stored.case, now=now, ttl=self.settings.approval_ttl),
                who,
                now=now,
                ttl=self.settings.approval_ttl,
                comment=comment,
            )
            held = self.held(stored)
            if held:  # a hold placed since the plan was verified wins over the approval
                stale = mark_stale(stored.case, held)
                payload = workflow_payload("stale", stale.state.value, message=f"stale: {held[0].message}")
                return self.cases.update(stored, Event("workflow", who.name, payload), case=stale)
            payload = approval_payload(who.name, "approved", comment, case.state.value)
            return self.cases.update(stored, Event("approval", who.name, payload), case=case)

        return self._auto_apply(self._changing(self._load(ref, who), once), who)

    def override(self, ref: str, who: Principal, reason: str) -> StoredCase:
        """An admin overrides the deny of a ``require_override`` rule: the policy decides the plan anew.

        Recorded as a 'workflow' event ``override`` naming the rule and the
        reason; then the plan is pending (or approved, and applied if configured).
        """
        plan = self.audit.plan(self._load(ref, who).digest)

        def once(stored: StoredCase) -> StoredCase:
            now, ttl = self.clock(), self.settings.approval_ttl
            report = Report.model_validate(stored.report)
            case = override(
                stored.case, plan, report, who, reason=reason, policy=self.policy, now=now, ttl=ttl
            )
            rule = stored.case.decision.rule_name if stored.case.decision else None
            payload = workflow_payload("override", case.state.value, rule=rule, reason=reason)
            return self.cases.update(stored, Event("workflow", who.name, payload), case=case)

        return self._auto_apply(self._changing(self._load(ref, who), once), who)

    def reject(self, ref: str, who: Principal, comment: str) -> StoredCase:
        """``who`` rejects the plan, for good."""

        def once(stored: StoredCase) -> StoredCase:
            case = reject(stored.case, who, now=self.clock(), comment=comment)
            payload = approval_payload(who.name, "rejected", comment, case.state.value)
            return self.cases.update(stored, Event("approval", who.name, payload), case=case)

        return self._changing(self._load(ref, who), once)

    def request_changes(self, ref: str, who: Principal, comment: str, ops: Iterable[OpComment]) -> StoredCase:
        """``who`` asks the author for changes, per op (0-based indexes of the plan's ops), for good."""
        asked = tuple(ops)
        stored = self._load(ref, who)
        count = len(self.audit.plan(stored.digest).ops)
        outside = sorted({c.op for c in asked if not 0 <= c.op < count})
        if outside:
            raise BadOp(f"the plan has ops 0 to {count - 1}; no op {', '.join(map(str, outside))}")

        def once(current: StoredCase) -> StoredCase:
            case = request_changes(current.case, who, now=self.clock(), comment=comment, ops=asked)
            payload = approval_payload(who.name, "changes_requested", comment, case.state.value)
            return self.cases.update(current, Event("approval", who.name, payload), case=case)

        return self._changing(stored, once)

    def approve_part(self, ref: str, who: Principal, comment: str, without: Iterable[int]) -> StoredCase:
        """``who`` approves the plan without the ops at ``without`` (0-based): the part, approved by them.

        The part is verified against the live store and recorded as derived from
        the plan (its authors the plan's, ``who`` and the ops left out in
        ``derived``); ``who``'s approval applies to it, and it then needs what any
        plan needs (and is applied, if configured, once approved). The plan
        becomes ``superseded``. The part, its approval and the plan's supersession
        are saved in one transaction with their events. PartRefused, and nothing
        approved or recorded, when the part fails verification or the policy
        denies it; BadOp when ``without`` names no op, every op, or ops the plan lacks.
        """
        stored = self._load(ref, who)
        now, ttl = self.clock(), self.settings.approval_ttl
        check_approver(refresh(stored.case, now=now, ttl=ttl), who, now=now, ttl=ttl)
        try:
            part = subset(self.audit.plan(stored.digest), without)
        except BadSelection as error:
            raise BadOp(str(error)) from None
        if self.cases.get(part.plan.digest()) is not None:
            raise PartRefused(
                f"that part of the plan was submitted already as plan {part.plan.digest()[:12]}: "
                "decide that plan"
            )
        simulation, tree = self.engine.examine(part.plan)
        reads = footprint(part.plan)
        base = base_json(reviewed(tree, reads), simulation.changes)
        bound = fingerprint(pinned(tree, reads))
        report = simulation.report

        def once(current: StoredCase) -> StoredCase:
            at = self.clock()
            derived, superseded = derive(
                refresh(current.case, now=at, ttl=ttl),
                part,
                report,
                approver=who,
                fingerprint=bound,
                policy=self.policy,
                now=at,
                ttl=ttl,
                comment=comment,
            )
            self.audit.record_plan(part.plan, author=current.case.author)  # only once it stands
            return self._save_part(current, derived, superseded, report=report, base=base, who=who, now=at)

        return self._auto_apply(self._changing(stored, once), who)

    def _save_part(
        self,
        original: StoredCase,
        derived: PlanCase,
        superseded: PlanCase,
        *,
        report: Report,
        base: dict[str, Any],
        who: Principal,
        now: datetime,
    ) -> StoredCase:
        without = list(derived.derived.without) if derived.derived else []
        state = derived.state.value
        fresh = StoredCase(
            case=derived,
            version=0,
            title=original.title,
            report=report.model_dump(mode="json"),
            base=base,
            revert_of=None,
            claimed=None,
            updated=now,
        )
        made = workflow_payload("derive", state, original=original.digest, without=without)
        approved = approval_payload(who.name, "approved", _approval_comment(derived, who.name), state)
        payload = workflow_payload("supersede", superseded.state.value, by=derived.digest, without=without)
        saved = self.cases.write(
            [
                Write(fresh, Event("workflow", who.name, made), new=True),
                Write(replace(fresh, version=1), Event("approval", who.name, approved), {"case": derived}),
                Write(original, Event("workflow", who.name, payload), {"case": superseded}),
            ]
        )
        return saved[1]

    # -- applying -----------------------------------------------------------------

    def apply(self, ref: str, who: Principal) -> StoredCase:
        """Apply an approved plan; an applied or applying plan comes back as it is (never twice).

        An apply abandoned past its lease is swept first, so asking again unsticks it.
        A read-only token applies nothing.
        """
        check_writer(who)
        return self._apply(self._load(ref, who), who)

    def _apply(self, stored: StoredCase, who: Principal) -> StoredCase:
        """Claim and run the apply of a case already read (read again only when another writer moved it)."""
        if stored.case.state is State.APPLYING and self._abandoned(stored):
            self.sweep()
            stored = self._reload(stored)
        claimed = self._changing(stored, lambda current: self._claim(current, who))
        if claimed.case.state is not State.APPLYING or claimed.claimed is None:
            return claimed
        if self.queue is not None:
            self.queue.enqueue(claimed.digest, who.name)
            return claimed
        return self._run(claimed, who.name)

    def work(self, digest: str, actor: str) -> StoredCase | None:
        """Run the queued apply of ``digest`` (a worker's job): settle what a dead worker left, then apply.

        Recovery first rolls forward or back the journal of a worker that died
        mid-apply and records its outcome; that outcome settles the plan. A
        plan no longer ``applying`` (settled, swept) is left as it is: a job
        that runs twice applies once.
        """
        self.engine.recover()
        stored = self.cases.get(digest)
        if stored is None or stored.case.state is not State.APPLYING:
            return stored
        record = self._outcome_since_claim(stored, self.clock())
        return self._run(stored, actor) if record is None else self._settle(stored, record)

    def _claim(self, stored: StoredCase, who: Principal) -> StoredCase:
        if stored.case.state in (State.APPLYING, State.APPLIED, State.REVERTED):
            return replace(stored, claimed=None)  # someone else's apply: report, do not run
        now, ttl = self.clock(), self.settings.approval_ttl
        refreshed = refresh(stored.case, now=now, ttl=ttl)
        if refreshed != stored.case:  # approvals lapsed: store that, then refuse
            expired = Event("workflow", "pva", workflow_payload("expire", refreshed.state.value))
            self.cases.update(stored, expired, case=refreshed)
            raise NotApproved(
                "its approvals expired or no longer count: it is pending again; approve it again"
            )
        case = start_apply(stored.case, who, now=now, ttl=ttl)
        return self.cases.update(
            stored,
            Event("workflow", who.name, workflow_payload("start_apply", case.state.value)),
            case=case,
            claimed=now,
        )

    def _run(self, claimed: StoredCase, actor: str) -> StoredCase:
        plan = self.audit.plan(claimed.digest)
        try:
            record = self.engine.apply(
                plan,
                actor=actor,
                base=base_from(claimed.base),
                recorded=True,  # recorded at submit
                claimed=claimed.claimed,  # a recovery that settled this claim meanwhile wins
            )
        except LockTimeout as error:  # nothing was done: the plan may apply again later
            record = _failed(claimed, actor, self.clock(), str(error), self.engine.backend.name)
            self.audit.record_apply(record)
        return self._settle(claimed, record)

    def _settle(self, claimed: StoredCase, record: ApplyRecord) -> StoredCase:
        def once(stored: StoredCase) -> StoredCase:
            if stored.case.state is not State.APPLYING:  # a sweep settled it meanwhile: show what it says
                log.warning(
                    "plan %s was settled as %s while its apply ran", claimed.digest, stored.case.state
                )
                return stored
            case = settle(stored.case, record)
            payload = workflow_payload(record.status, case.state.value, message=record.message)
            return self.cases.update(
                stored, Event("workflow", record.actor, payload), case=case, claimed=None
            )

        settled = self._changing(claimed, once)  # as claimed, unless a sweep moved it on meanwhile
        if settled.case.state is State.APPLIED and settled.revert_of is not None:
            self._mark_reverted(settled)
        return settled

    def _mark_reverted(self, inverse: StoredCase) -> None:
        def once() -> None:
            original = self.cases.get(inverse.revert_of or "")
            if original is None or original.case.state is not State.APPLIED:
                return
            if original.case.inverse_digest != inverse.digest:
                return
            case = revert_applied(original.case, inverse.case)
            payload = workflow_payload("revert_applied", case.state.value, inverse=inverse.digest)
            self.cases.update(original, Event("workflow", "pva", payload), case=case)

        self._retrying(once)

    def _auto_apply(self, stored: StoredCase, who: Principal) -> StoredCase:
        if not self.settings.auto_apply or stored.case.state is not State.APPROVED:
            return stored
        try:
            return self._apply(stored, who)  # the case just approved: not read again
        except IllegalTransition:
            return self.cases.get(stored.digest) or stored  # another writer moved it on meanwhile

    # -- reverting ----------------------------------------------------------------

    def revert(self, ref: str, who: Principal) -> StoredCase:
        """Submit the inverse of an applied plan for approval; the original stays applied until it runs."""
        check_writer(who)
        stored = self._load(ref, who)
        check_revert(stored.case, who, now=self.clock())
        record = self.audit.outcome(stored.digest)
        if record is None or record.inverse is None:
            raise IllegalTransition(
                stored.case.state, Action.REVERT_SUBMITTED, "its apply recorded no plan that undoes it"
            )
        inverse = self.submit(Plan.model_validate(record.inverse), who, revert_of=stored.digest)

        def once() -> None:
            current = self._load(ref, who)
            if current.case.state is State.APPLIED:
                case = revert_submitted(current.case, inverse.case)
                payload = workflow_payload("revert_submitted", case.state.value, inverse=inverse.digest)
                self.cases.update(current, Event("workflow", who.name, payload), case=case)

        self._retrying(once)
        return self.cases.get(inverse.digest) or inverse

    # -- reading ------------------------------------------------------------------

    def get(self, ref: str, who: Principal) -> StoredCase:
        return self._load(ref, who)

    def versions(self, stored: StoredCase, who: Principal) -> Versions:
        """What ``who`` may see of the plan's other versions: the difference, the discussion carried over."""

        def seen(digest: str) -> StoredCase | None:
            found = self.cases.get(digest)
            return found if found is not None and visible(found, who) else None

        if previous_of(stored.case) is None and stored.case.superseded_by is None:
            return NO_VERSIONS
        return versions(stored, seen=seen, plan_of=self.audit.plan)

    def progress(self, stored: StoredCase) -> Progress | None:
        """How far the plan's apply got (None before it was applied): the API's and the page's one answer."""
        if stored.case.state not in {State.APPLYING, State.APPLIED, State.FAILED, State.REVERTED}:
            return None
        return self.engine.progress.read(stored.digest)

    def contents(self, ref: str, who: Principal, indexes: Iterable[int]) -> list[Preview]:
        """What the writes at ``indexes`` put in the store, against the versions they replace."""
        stored = self._load(ref, who)
        plan = self.audit.plan(stored.digest)
        return previews(plan, stored.base, self.engine.backend, self.audit, indexes)

    def write_content(self, ref: str, who: Principal, index: int) -> FileStream:
        """What write op ``index`` puts in the store, whole, checked as it streams; the caller closes it."""
        stored = self._load(ref, who)
        return write_content(self.audit.plan(stored.digest), index, self.engine.backend, self.audit)

    def find(
        self,
        who: Principal,
        *,
        states: tuple[State, ...] = (),
        author: str | None = None,
        path: str | None = None,
        limit: int = 100,
        before: datetime | None = None,
        before_id: str | None = None,
    ) -> list[StoredCase]:
        """The cases ``who`` may see, newest first, filtered."""
        if who.role is Role.AGENT:  # an agent lists only its own plans
            if author not in (None, who.name):
                return []
            author = who.name
        shown: list[StoredCase] = []
        while len(shown) < limit:  # read on past hidden plans, so a page is full unless the list ends
            found = self.cases.find(
                states=states, author=author, path=path, limit=limit, before=before, before_id=before_id
            )
            shown.extend(stored for stored in found if visible(stored, who))
            if len(found) < limit:
                break
            before, before_id = found[-1].case.submitted, found[-1].digest
        return shown[:limit]

    def paths_applying(self) -> list[str]:
        """The paths named by the plans being applied now (the watch leaves them for its next scan)."""
        return [path for stored in self.cases.applying() for path in stored.case.paths]

    def sweep(self) -> list[StoredCase]:
        """Settle applies a stopped sidecar left ``applying``: after recovery, from the audit's outcome.

        An apply whose lease ran out, that recorded no outcome and whose
        journal no live process holds did nothing (recovery rolled back
        whatever it had started): it becomes ``failed``. A journal is seen
        wherever it lives: the store folder, the shared database, or (a
        ``gs://`` store on SQLite) this VM's state folder.
        """
        self.engine.recover()
        settled = []
        now = self.clock()
        for stale in self.cases.applying():
            record = self._outcome_since_claim(stale, now)
            if record is not None:
                settled.append(self._settle(stale, record))
            elif now - (stale.claimed or now) > self.settings.apply_lease and not self._journaled(
                stale.digest
            ):
                message = "the sidecar applying it stopped; nothing changed"
                failed = _failed(stale, "pva", now, message, self.engine.backend.name)
                self.audit.record_apply(failed)
                settled.append(self._settle(stale, failed))
        return settled

    # -- helpers ------------------------------------------------------------------

    def _outcome_since_claim(self, stored: StoredCase, now: datetime) -> ApplyRecord | None:
        """The outcome the audit recorded for the apply that claimed ``stored`` (not an earlier one's)."""
        record = self.audit.outcome(stored.digest)
        claimed = stored.claimed or now
        return record if record is not None and record.settles(claimed) else None

    def held(self, stored: StoredCase) -> list[Diagnostic]:
        """The on_hold diagnostics of the plan's changes, as verified, against the holds in force now."""
        holds = self.engine.holds()
        if not holds:
            return []
        changes = base_changes(stored.base)
        if changes is None:  # a base stored before changes were kept: resolve them again over it
            plan = self.audit.plan(stored.digest)
            return [
                d
                for d in simulate(plan, base_from(stored.base), holds=holds).report.errors
                if d.code == Code.ON_HOLD
            ]
        return [diagnostic for change in changes for diagnostic in held_changes(change, holds)]

    def _abandoned(self, stored: StoredCase) -> bool:
        claimed = stored.claimed or stored.updated
        return self.clock() - claimed > self.settings.apply_lease

    def _journaled(self, digest: str) -> bool:
        """True while a live process holds a journal of this plan (recovery settled every other one)."""
        return any(name.split(".")[0] == digest for name in self.engine.journals.names())

    def _load(self, ref: str, who: Principal) -> StoredCase:
        """The case ``ref`` names for ``who``: one read for a whole id, a lookup first for a prefix."""
        stored = self.cases.get(ref if FULL_ID.fullmatch(ref) else self.resolve(ref, who))
        if stored is None or not visible(stored, who):
            raise UnknownPlan(NO_PLAN)
        return stored

    def _reload_digest(self, digest: str) -> StoredCase:
        current = self.cases.get(digest)
        if current is None:
            raise UnknownPlan(NO_PLAN)
        return current

    def _reload(self, stored: StoredCase) -> StoredCase:
        current = self.cases.get(stored.digest)
        if current is None:
            raise UnknownPlan(NO_PLAN)
        return current

    def resolve(self, ref: str, who: Principal) -> str:
        """The digest of the one plan ``who`` sees whose id starts with ``ref`` (hidden ones never count)."""
        return self.cases.resolve(ref, lambda stored: visible(stored, who))

    def _changing(self, stored: StoredCase, change: Callable[[StoredCase], T]) -> T:
        """``change`` the case as read; when another writer moved it on (Conflict), read it anew, retry."""
        for _ in range(RETRIES):
            try:
                return change(stored)
            except Conflict:
                stored = self._reload(stored)
        raise Conflict("the plan kept changing under this request; try again")

    def _retrying(self, once: Callable[[], T]) -> T:
        for _ in range(RETRIES):
            try:
                return once()
            except Conflict:
                continue
        raise Conflict("the plan kept changing under this request; try again")


class BadOp(PvaError):
    """A comment names an op the plan does not have (HTTP 422)."""

    exit_code = 2


class BadPath(PvaError):
    """A path given to filter or read by is not a store path (HTTP 422)."""

    exit_code = 2


def _approval_comment(case: PlanCase, approver: str) -> str:
    return next((a.comment for a in reversed(case.approvals) if a.approver == approver), "")


def check_writer(who: Principal) -> None:
    """NotAllowed for a read-only token: it reads and verifies, and changes nothing."""
    if who.read_only:
        raise NotAllowed(f"{who.name} is a read-only token: it may read and verify, not submit or change")


def check_path_filter(path: str) -> None:
    """BadPath unless ``path`` is a valid store path."""
    problem = path_problem(path)
    if problem is not None:
        raise BadPath(f"{path!r} is not a store path: {problem}")


def check_read_path(path: str) -> None:
    """BadPath unless ``path`` can name an entry to read (``planner.core.paths.read_path_problem``)."""
    problem = read_path_problem(path)
    if problem is not None:
        raise BadPath(f"{path!r} cannot name an entry of the store: {problem}")


def visible(stored: StoredCase, who: Principal) -> bool:
    """True when ``who`` may see the case: the ethical wall's rule (``sidecar.walls.sees_plan``)."""
    return sees_plan(who, authors=stored.case.authors, paths=stored.case.paths)


def _failed(stored: StoredCase, actor: str, now: datetime, message: str, store: str) -> ApplyRecord:
    return ApplyRecord(
        digest=stored.digest,
        status="failed",
        actor=actor,
        started=stored.claimed or now,
        finished=now,
        message=f"failed, nothing changed: {message}",
        store=store,
    )
