"""``MemoryAudit``: the audit log in memory, for tests and tools that need no database."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

from planner.core.plan import Plan
from sidecar.audit.records import ApplyRecord, Incident, inside
from sidecar.errors import UnknownPlan


@dataclass
class MemoryAudit:
    """An ``AuditLog`` held in lists; append-only like the real one."""

    plans: dict[str, tuple[Plan, str]] = field(default_factory=dict)
    applies: list[ApplyRecord] = field(default_factory=list)
    incidents: list[Incident] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def record_plan(self, plan: Plan, *, author: str) -> None:
        with self._lock:
            self.plans.setdefault(plan.digest(), (plan, author))

    def plan(self, digest: str) -> Plan:
        """The recorded plan with this digest; UnknownPlan if it was never recorded."""
        with self._lock:
            recorded = self.plans.get(digest)
        if recorded is None:
            raise UnknownPlan(f"no plan with digest {digest}")
        return recorded[0]

    def outcome(self, digest: str) -> ApplyRecord | None:
        with self._lock:
            mine = [record for record in self.applies if record.digest == digest]
        return mine[-1] if mine else None

    def record_apply(self, record: ApplyRecord) -> None:
        with self._lock:
            if record.attempt and any(r.attempt == record.attempt for r in self.applies):
                return
            self.applies.append(record)

    def record_incident(self, incident: Incident) -> None:
        with self._lock:
            self.incidents.append(incident)

    def trash_locations(self, sha256: str, *, within: Sequence[str] | None = None) -> list[str]:
        with self._lock:
            files = [f for record in self.applies for f in record.trashed if f.sha256 == sha256]
        return [f.trash for f in reversed(files) if inside(f.path, within)]

    def blob_size(self, sha256: str, *, within: Sequence[str] | None = None) -> int | None:
        with self._lock:
            files = [f for record in self.applies for f in record.trashed if f.sha256 == sha256]
        sizes = [f.size for f in files if inside(f.path, within)]
        return sizes[-1] if sizes else None
