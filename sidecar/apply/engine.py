"""The apply engine: apply an authorised plan to a store, all or nothing, and audit it.

One apply, in order:

1. settle applies a crash interrupted (``recovery``);
2. lock the plan's paths; read what the plan touches from the live store;
3. verify against that state and the legal holds in force (read under the
   lock, so a hold placed after approval wins): any error means nothing
   changes (``stale`` when a precondition, the state the plan was approved
   against or a hold stands in its way, ``failed`` otherwise);
4. compile the resolved changes into steps (``compile``), staging new content;
5. write the journal's intent (durable), stage new content, then run the
   steps batch by batch, each batch made durable before the next
   (``batches``); then the commit record;
6. record the outcome in the audit, read the touched paths back and compare
   them with the prediction (a difference is an incident), clean up; on a
   store that enforces holds itself (``BucketHolds``), hold what was filed
   into a held folder.

A failure before the commit rolls every step back. Idempotent by digest: a
plan already applied returns its recorded outcome.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from planner.core.entry import Blob, Entry
from planner.core.errors import NotFound, PvaError, TreeError
from planner.core.footprint import Read, bound, footprint
from planner.core.holds import Hold, covering
from planner.core.ops import execute
from planner.core.plan import Plan, Write
from planner.core.report import Code, Diagnostic, Report
from planner.core.tree import Tree
from planner.core.verify import Simulation, simulate
from sidecar.apply.batches import plan_batches
from sidecar.apply.compile import Rename, StepRecorder, run_step
from sidecar.apply.finisher import Finisher, Hook
from sidecar.apply.journal import Journal, JournalStore
from sidecar.apply.journal_records import Audited, Batch, Commit, Intent, Rollback, Staged
from sidecar.apply.leases import working
from sidecar.apply.locks import Fenced, Locks, PathLocks
from sidecar.apply.outcome import kept, op_records
from sidecar.apply.progress import MemoryProgress, ProgressBoard, Tracker
from sidecar.apply.recovery import Recovered, recover, roll_back
from sidecar.audit.log import AuditLog
from sidecar.audit.records import ApplyRecord, ApplyStatus, Incident
from sidecar.backends.base import BLOBS, STAGING, Backend, BucketHolds
from sidecar.backends.progress import counting
from sidecar.errors import CommittedError, ContentMismatch, StoreError


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _no_hook(_label: str) -> None:
    """Crash points: tests pass a hook that kills the process at one of them."""


def _no_holds() -> Sequence[Hold]:
    return ()


@dataclass
class Engine:
    """Applies plans to one store; safe to share between threads."""

    backend: Backend
    audit: AuditLog
    journals: JournalStore
    locks: Locks = field(default_factory=PathLocks)
    clock: Callable[[], datetime] = _utcnow
    lock_timeout: float = 60.0
    hook: Hook = _no_hook
    progress: ProgressBoard = field(default_factory=MemoryProgress)  # where applies post how far they got
    progress_interval: float = 1.0  # seconds between two posts of an apply's progress, at least
    holds: Callable[[], Sequence[Hold]] = _no_holds  # the legal holds in force, read anew at each check

    @property
    def finisher(self) -> Finisher:
        """What settles an apply past its last step, over this engine's store, audit and journals."""
        return Finisher(self.backend, self.audit, self.journals, self.clock, self.hook)

    def recover(self) -> list[Recovered]:
        """Finish or undo every apply a crash interrupted."""
        return recover(self.journals, self.locks, self.finisher, lock_timeout=self.lock_timeout)

    def apply(
        self,
        plan: Plan,
        *,
        actor: str,
        author: str | None = None,
        base: Tree | None = None,
        recorded: bool = False,
        claimed: datetime | None = None,
    ) -> ApplyRecord:
        """Apply ``plan`` as ``actor``; ``base`` is the state it was approved against, if any.

        Only what ``footprint.bound`` keeps of ``base`` counts: any difference
        from the same view of the live store makes the apply stale. The plan is
        recorded in the audit first (by ``author``), unless it is ``recorded``
        already (the service records it at submit).

        ``claimed``: when the caller's claim to apply began. An outcome recorded
        since then (another worker's, or a recovery's of a dead worker's apply)
        settles that claim: it is returned and nothing runs. The check is made
        under the plan's path locks, which recovery holds while it records, so
        a second job of one claim never records a second outcome.
        """
        self.recover()
        digest = plan.digest()
        if not recorded:
            self.audit.record_plan(plan, author=author or actor)
        reads = footprint(plan)
        with self.locks.hold([read.path for read in reads], timeout=self.lock_timeout) as lease:
            earlier = self.audit.outcome(digest)
            if earlier is not None and (
                earlier.status == "applied" or (claimed is not None and earlier.settles(claimed))
            ):
                return earlier  # idempotent: a retried apply never applies twice, nor settles a claim twice
            record = _Attempt(self, plan, actor, reads, lease).run(base)
            if record.status == "applied":
                self.hold_new(op.path for op in record.ops if op.after is not None)
            return record

    def hold_new(self, paths: Iterable[str]) -> None:
        """On a store that enforces holds itself, hold what lies under a hold in force (filed into one)."""
        if not isinstance(self.backend, BucketHolds):
            return
        holds = self.holds()
        for path in paths:
            if covering(path, holds, below=False) is not None:
                self.backend.set_holds(path, held=True)

    def verify(self, plan: Plan) -> Report:
        """Verify against the live store without changing anything (a dry run)."""
        return self.examine(plan)[0].report

    def examine(self, plan: Plan) -> tuple[Simulation, Tree]:
        """Verify against the live store; also return what was read (the plan's footprint).

        The footprint is the base state: approvals bind to its ``pinned`` part,
        and the page's trees are its changes replayed over it.
        """
        tree = self.backend.read_tree(footprint(plan))
        return simulate(plan, tree, blobs=self.blob_sizes(plan), holds=self.holds()), tree

    def blob_sizes(self, plan: Plan) -> dict[str, int]:
        """Sizes of the stored blobs the plan's content_ref writes name (missing ones left out).

        Only content the plan may name counts: trashed from inside the plan's
        scope (which lies inside its author's). Content behind a wall is
        missing, exactly as content that never existed, so its existence
        does not leak.
        """
        sizes = {}
        for op in plan.ops:
            ref = op.content_ref if isinstance(op, Write) else None
            if ref is not None and self._blob_sources(ref, plan.scope):
                size = self.audit.blob_size(ref, within=plan.scope)
                if size is not None:
                    sizes[ref] = size
        return sizes

    def _blob_sources(self, sha256: str, within: Sequence[str]) -> list[str]:
        uploaded = f"{BLOBS}/{sha256}"  # counts only while it holds the content its name says
        found = [uploaded] if self.backend.staged_sha256(uploaded) == sha256 else []
        trashed = self.audit.trash_locations(sha256, within=within)
        return found + [where for where in trashed if self.backend.exists(where)]

    def stage_blob(
        self, path: str, blob: Blob, *, within: Sequence[str], target: str | None = None
    ) -> tuple[str, ...]:
        """Put a write's content at the reserved ``path``: inline bytes, or a stored blob.

        A stored copy (an uploaded blob, a trashed file) is hashed once staged,
        and used only if it still holds exactly the content its sha256 names;
        the altered copies skipped are returned; ``within`` is the plan's
        scope, as for ``blob_sizes``. If none holds it,
        ContentMismatch: nothing is restored. ``target`` is the store path
        the content is for, for messages. Not durable on its own: the attempt
        syncs once after staging everything.
        """
        if blob.data is not None:
            self.backend.stage_bytes(path, blob.data, durable=False)
            return ()
        sources = self._blob_sources(blob.sha256, within)
        if not sources:
            raise NotFound(path, f"no stored blob has sha256 {blob.sha256}")
        altered: list[str] = []
        for source in sources:
            self.backend.stage_copy(path, source)
            if self.backend.staged_sha256(path) == blob.sha256:
                return tuple(altered)
            self.backend.discard(path)
            altered.append(source)
        where = target or path
        raise ContentMismatch(
            where,
            f"the stored copy of {where!r} (sha256 {blob.sha256[:12]}) was altered: "
            f"{', '.join(altered)} no longer holds that content, so it is not restored",
            altered=tuple(altered),
        )


class _Attempt:
    """One apply of one plan, under its lock."""

    def __init__(
        self, engine: Engine, plan: Plan, actor: str, reads: list[Read], lease: Fenced | None
    ) -> None:
        self.engine = engine
        self.lease = lease  # the lock it runs under; a shared journal writes only while it is live
        self.backend = engine.backend
        self.plan = plan
        self.digest = plan.digest()
        self.actor = actor
        self.reads = reads
        self.id = uuid.uuid4().hex
        self.started = engine.clock()
        self.incidents: list[str] = []  # incident messages recorded during this attempt

    def run(self, base: Tree | None) -> ApplyRecord:
        tree = self.backend.read_tree(self.reads)
        simulation = simulate(
            self.plan, tree, blobs=self.engine.blob_sizes(self.plan), holds=self.engine.holds()
        )
        drift = _drift(bound(base, self.reads), bound(tree, self.reads)) if base is not None else []
        # A precondition the live store cannot check (a generation on a local
        # store, say) must not pass silently at apply: it is an error here.
        unchecked = [
            d.model_copy(update={"severity": "error"})
            for d in simulation.report.warnings
            if d.code == Code.UNVERIFIED
        ]
        if drift or unchecked or not simulation.report.ok:
            return self._refuse(simulation.report, [*drift, *unchecked])
        recorder = StepRecorder(self.digest)
        for change in simulation.changes:
            recorder.op = change.index
            execute(change, recorder)
        intent = self._intent(simulation, recorder)
        with (
            self.engine.journals.create(f"{self.digest}.{self.id}", intent, self.lease) as journal,
            working(self.lease, journal.name),
        ):
            self.engine.hook("intent")
            return self._run_steps(journal, intent, recorder)

    def _stage(self, journal: Journal, recorder: StepRecorder) -> None:
        """Stage new content and make trash folders; the 'staged' record says it is done."""
        self.backend.discard(f"{STAGING}/{self.digest}")  # leftovers of an attempt that died staging
        self.backend.ensure_dir(f"{STAGING}/{self.digest}")
        targets = {step.src: step.dst for step in recorder.steps if isinstance(step, Rename)}
        for path, blob in recorder.blobs:
            try:
                altered = self.engine.stage_blob(path, blob, within=self.plan.scope, target=targets.get(path))
            except ContentMismatch as error:
                self._incident(str(error), error.altered)
                raise
            if altered:
                self._incident(
                    f"stored copies of sha256 {blob.sha256[:12]} were altered and skipped: "
                    f"{', '.join(altered)}",
                    altered,
                )
        for folder in recorder.trash_dirs:
            self.backend.ensure_dir(folder)
        self.backend.sync()  # every staged byte is durable before the record says so
        journal.append(Staged())
        self.engine.hook("staged")

    def _incident(self, message: str, paths: tuple[str, ...]) -> None:
        self.engine.audit.record_incident(Incident(self.digest, message, paths))
        self.incidents.append(message)

    def _run_steps(self, journal: Journal, intent: Intent, recorder: StepRecorder) -> ApplyRecord:
        hook = self.engine.hook
        batches = intent.batches
        steps = recorder.steps
        engine = self.engine
        tracker = Tracker(
            engine.progress, self.digest, steps, len(self.plan.ops), interval=engine.progress_interval
        )
        tracker.post()  # nothing done yet: readers see the totals at once
        ran = 0  # steps that completed: exactly what a failure must undo
        try:
            self._stage(journal, recorder)
            with counting(tracker):
                for number, (start, end) in enumerate(batches):
                    for index in range(start, end):
                        if self.lease is not None:  # a replica whose lease ran out does nothing more
                            self.lease.check()
                        run_step(self.backend, steps[index])
                        ran = index + 1
                        tracker.stepped(index, steps[index])
                        hook(f"step {index}")
                    self.backend.sync()
                    journal.append(Batch(number))
                    hook(f"batch {number}")
        except (StoreError, TreeError) as error:
            tracker.post()
            journal.append(Rollback(str(error)))
            roll_back(self.backend, journal, recorder.steps, batches, hook, ran=ran)
            return self.engine.finisher.finish(
                journal,
                intent,
                status="failed",
                recovered=False,
                message=f"rolled back: {error}",
                incidents=tuple(self.incidents),
            )
        tracker.post()
        journal.append(Commit())
        try:
            hook("commit")
            return self.engine.finisher.finish(
                journal, intent, status="applied", recovered=False, incidents=tuple(self.incidents)
            )
        except KeyboardInterrupt as interrupt:
            raise KeyboardInterrupt(self._committed(journal)) from interrupt
        except PvaError as error:
            raise CommittedError(f"{self._committed(journal)}; it stopped on: {error}") from error

    def _committed(self, journal: Journal) -> str:
        """What holds when an apply stops after its commit point: applied, audited or not yet."""
        audited = (
            "and audited"
            if Audited in journal.kinds
            else "but not audited yet: recovery records it in the audit"
        )
        return (
            f"after the commit point: plan {self.digest[:12]} is applied {audited}; "
            "recovery (the next apply, 'pva recover' or a sidecar start) finishes what is left"
        )

    def _intent(self, simulation: Simulation, recorder: StepRecorder) -> Intent:
        ops, trashed = op_records(simulation.changes, recorder.trashed)
        return Intent(
            digest=self.digest,
            attempt=self.id,
            actor=self.actor,
            started=self.started,
            locks=tuple(read.path for read in self.reads),
            steps=tuple(recorder.steps),
            batches=tuple(plan_batches(recorder.steps)),
            ops=tuple(ops),
            trashed=tuple(trashed),
            warnings=tuple(simulation.report.warnings),
            prediction=_prediction(simulation),
            inverse=simulation.report.inverse,
        )

    def _refuse(self, report: Report, found: list[Diagnostic]) -> ApplyRecord:
        diagnostics = (*found, *(d for d in report.diagnostics if d.code != Code.UNVERIFIED))
        # A hold is a change of the store's state under the plan, as a changed file is.
        stale = any(d.code in (Code.PRECONDITION_FAILED, Code.ON_HOLD) for d in diagnostics)
        status: ApplyStatus = "stale" if stale else "failed"
        errors = [d for d in diagnostics if d.severity == "error"]
        record = ApplyRecord(
            digest=self.digest,
            status=status,
            actor=self.actor,
            started=self.started,
            finished=self.engine.clock(),
            diagnostics=diagnostics,
            message=f"{status}: {len(errors)} problem{'s' * (len(errors) != 1)}, nothing changed; "
            f"first: {errors[0].message}",
            store=self.backend.name,
            attempt=self.id,
        )
        self.engine.audit.record_apply(record)
        return record


def _prediction(simulation: Simulation) -> dict[str, Entry | None]:
    """What each path the plan produced or removed should hold afterwards."""
    effect = simulation.report.effect
    paths = {*effect.created, *effect.written, *effect.overwritten, *effect.deleted}
    paths.update(t.dst for t in effect.moved)
    paths.update(t.src for t in effect.moved)
    paths.update(t.dst for t in effect.copied)
    return {path: kept(simulation.tree.stat(path)) for path in sorted(paths)}


def _drift(before: dict[str, Entry], after: dict[str, Entry]) -> list[Diagnostic]:
    """Differences between what a plan's reads bound when it was verified and what they bind now."""
    return [
        Diagnostic(
            code=Code.PRECONDITION_FAILED, path=path, message=_how(path, before.get(path), after.get(path))
        )
        for path in sorted(before.keys() | after.keys())
        if not _unchanged(before.get(path), after.get(path))
    ]


def _unchanged(old: Entry | None, new: Entry | None) -> bool:
    if old is None or new is None:
        return old is new
    return (old.kind, old.size, old.sha256, old.generation) == (
        new.kind,
        new.size,
        new.sha256,
        new.generation,
    )


def _how(path: str, old: Entry | None, new: Entry | None) -> str:
    """What changed at ``path``, in words: appeared, removed, another kind, size, content, generation."""
    if old is None:
        return f"{path!r} appeared since the plan was verified"
    if new is None:
        return f"{path!r} was removed since the plan was verified"
    if old.kind != new.kind:
        return f"{path!r} was a {_KIND[old.kind]} and is now a {_KIND[new.kind]}"
    if old.size != new.size:
        return f"{path!r} changed since the plan was verified (size {old.size} -> {new.size})"
    if old.sha256 != new.sha256:
        return (
            f"{path!r} was rewritten since the plan was verified: same size, other content "
            f"(sha256 {_short(old.sha256)} -> {_short(new.sha256)})"
        )
    return (
        f"{path!r} was replaced since the plan was verified (generation {old.generation} -> {new.generation})"
    )


_KIND = {"file": "file", "dir": "folder"}


def _short(digest: str | None) -> str:
    return "unknown" if digest is None else digest[:12]
