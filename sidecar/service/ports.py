"""What ``PlanService`` needs of its stores (the case store, the audit) and of the apply queue, as protocols.

``SqlCaseStore`` and ``SqlAuditStore`` are the stores the sidecar runs on;
``MemoryCaseStore`` and ``MemoryAudit`` hold the same in memory, so the
workflow's use cases run in tests without a database. mypy checks that each
satisfies the protocol it is passed as.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol

from planner.core.plan import Plan
from sidecar.audit.log import AuditLog
from sidecar.service.cases import Event, StoredCase, Write
from sidecar.workflow import State


class CaseStore(Protocol):
    """Where each submitted plan stands; writers compare and swap by version."""

    def get(self, digest: str) -> StoredCase | None:
        """The case with this digest, with its report and base."""
        ...

    def resolve(self, ref: str, visible: Callable[[StoredCase], bool]) -> str:
        """The digest of the one ``visible`` case whose digest starts with ``ref``; UnknownPlan otherwise."""
        ...

    def create(self, stored: StoredCase, event: Event, *, plan: Plan | None = None) -> StoredCase:
        """Insert a new case at version 1; Conflict when another writer inserted it first.

        ``plan``: recorded in the audit (unless it is already) in the same transaction.
        """
        ...

    def update(self, stored: StoredCase, event: Event, **changes: Any) -> StoredCase:
        """Save ``stored`` with ``changes`` at the next version; Conflict if its version moved on."""
        ...

    def write(self, writes: list[Write]) -> list[StoredCase]:
        """Save several changes in one transaction, in order: all of them, or none (Conflict)."""
        ...

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
        """Cases, newest submission first then by digest, without their reports and bases."""
        ...

    def applying(self) -> list[StoredCase]:
        """Cases an apply took."""
        ...


class ApplyQueue(Protocol):
    """Where a claimed apply waits for a worker (sidecar.jobs): the worker calls ``PlanService.work``."""

    def enqueue(self, digest: str, actor: str) -> None:
        """Queue the apply of the plan ``digest``, claimed by ``actor`` (a job run twice applies once)."""
        ...


class PlanAudit(AuditLog, Protocol):
    """The audit as the service sees it: the engine's ``AuditLog`` and the recorded plans."""

    def plan(self, digest: str) -> Plan:
        """The recorded plan with this digest; UnknownPlan if it was never recorded."""
        ...
