"""``MemoryCaseStore``: the plan cases in memory, with ``SqlCaseStore``'s semantics, for tests.

The same compare-and-swap by version (``Conflict`` when another writer saved
first), the same resolution of id prefixes among visible cases, the same
order and paging of lists (``tests/service/test_case_store_conformance.py``
holds both to it). A plan's scope, which the path filter reads, comes from
the ``MemoryAudit`` the plan was recorded in, as the SQL store reads the
audit's ``plan_scopes``. The events that record each change are kept in a
list, and so are the notices the SQL store would add to its outbox.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from planner.core.paths import contains
from planner.core.plan import Plan
from sidecar.audit.memory import MemoryAudit
from sidecar.db import Clock, utc_now
from sidecar.notify.notices import Notice, notice_kind
from sidecar.service.cases import (
    MAX_LIST,
    Conflict,
    Event,
    StoredCase,
    Write,
    check_ref,
    notice_of,
    the_one,
)
from sidecar.service.ports import CaseStore, PlanAudit
from sidecar.workflow import State


@dataclass
class MemoryCaseStore:
    """A ``CaseStore`` held in a dict by digest; safe to share between threads and services."""

    audit: MemoryAudit
    clock: Clock = utc_now
    events: list[tuple[str, Event]] = field(default_factory=list)  # (digest, event), in order
    notices: list[Notice] = field(default_factory=list)  # what the SQL store's outbox would hold, in order
    _cases: dict[str, StoredCase] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def get(self, digest: str) -> StoredCase | None:
        with self._lock:
            return self._cases.get(digest)

    def resolve(self, ref: str, visible: Callable[[StoredCase], bool]) -> str:
        check_ref(ref)
        with self._lock:
            cases = sorted(self._cases.values(), key=lambda stored: stored.digest)
        return the_one(ref, [s.digest for s in cases if s.digest.startswith(ref) and visible(_listed(s))])

    def create(self, stored: StoredCase, event: Event, *, plan: Plan | None = None) -> StoredCase:
        with self._lock:
            created = self._insert(stored, event)
            self._record(plan, stored)
            return created

    def write(self, writes: list[Write]) -> list[StoredCase]:
        with self._lock:
            saved = (dict(self._cases), len(self.events), len(self.notices))
            try:
                done = [
                    self._insert(w.stored, w.event) if w.new else self._update(w.stored, w.event, w.changes)
                    for w in writes
                ]
            except Conflict:  # none of them, as a rolled back transaction
                self._cases = saved[0]
                del self.events[saved[1] :], self.notices[saved[2] :]
                raise
            for w in writes:  # plans are recorded only once every change stands, as in one transaction
                self._record(w.plan, w.stored)
            return done

    def update(self, stored: StoredCase, event: Event, **changes: Any) -> StoredCase:
        with self._lock:
            return self._update(stored, event, changes)

    def _insert(self, stored: StoredCase, event: Event) -> StoredCase:
        if stored.digest in self._cases:
            raise Conflict(stored.digest)
        new = replace(stored, version=1, updated=self.clock())
        self._save(None, new, event)
        return new

    def _update(self, stored: StoredCase, event: Event, changes: dict[str, Any]) -> StoredCase:
        current = self._cases.get(stored.digest)
        if current is None or current.version != stored.version:
            raise Conflict(stored.digest)
        new = replace(stored, **changes, version=stored.version + 1, updated=self.clock())
        kept = {"report": current.report, "base": current.base}  # unchanged unless given, as in SQL
        saved = replace(new, **(kept | {k: v for k, v in changes.items() if k in kept}))
        self._save(current.case.state, saved, event)
        return new

    def _record(self, plan: Plan | None, stored: StoredCase) -> None:
        """Record a new case's plan in the audit, as the SQL store does in the case's transaction."""
        if plan is not None:
            self.audit.record_plan(plan, author=stored.case.author)

    def _save(self, before: State | None, stored: StoredCase, event: Event) -> None:
        self._cases[stored.digest] = stored
        status = {"status": stored.case.state.value}
        self.events.append((stored.digest, replace(event, payload=event.payload | status)))
        kind = notice_kind(None if before is None else before.value, stored.case.state.value)
        if kind is not None:
            self.notices.append(notice_of(kind, stored, stored.report, event, self.clock()))

    def find(
        self,
        *,
        states: tuple[State, ...] = (),
        author: str | None = None,
        path: str | None = None,
        limit: int = 100,
        before: datetime | None = None,
        before_id: str | None = None,
    ) -> list[StoredCase]:
        with self._lock:
            cases = list(self._cases.values())
        cases.sort(key=lambda stored: stored.digest)
        cases.sort(key=lambda stored: stored.case.submitted, reverse=True)
        shown = [
            stored
            for stored in cases
            if (not states or stored.case.state in states)
            and (author is None or stored.case.author == author)
            and (before is None or _earlier(stored, before, before_id))
            and (path is None or self._touches(stored.digest, path))
        ]
        return [_listed(stored) for stored in shown[: max(1, min(limit, MAX_LIST))]]

    def applying(self) -> list[StoredCase]:
        with self._lock:
            return [_listed(s) for s in self._cases.values() if s.case.state is State.APPLYING]

    def _touches(self, digest: str, path: str) -> bool:
        recorded = self.audit.plans.get(digest)
        scope = () if recorded is None else recorded[0].scope
        return any(contains(root, path) or contains(path, root) for root in scope)


def _earlier(stored: StoredCase, before: datetime, before_id: str | None) -> bool:
    """After (``before``, ``before_id``) in list order: submitted earlier, or as early and later by digest."""
    submitted = stored.case.submitted
    return submitted < before or (before_id is not None and submitted == before and stored.digest > before_id)


def _listed(stored: StoredCase) -> StoredCase:
    """A case as lists show it: without its report and base (``get`` has those)."""
    return replace(stored, report={}, base={})


def _satisfies(cases: MemoryCaseStore, audit: MemoryAudit) -> tuple[CaseStore, PlanAudit]:
    """Never called: mypy checks here that the memory stores are what ``PlanService`` needs."""
    return cases, audit
