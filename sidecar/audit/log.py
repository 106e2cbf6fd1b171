"""The audit log as the apply engine sees it (implemented by ``SqlAuditStore``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from planner.core.plan import Plan
from sidecar.audit.records import ApplyRecord, Incident


class AuditLog(Protocol):
    """Append-only: nothing recorded is ever changed or removed."""

    def record_plan(self, plan: Plan, *, author: str) -> None:
        """Record a plan's body and author; recording the same digest again does nothing."""
        ...

    def outcome(self, digest: str) -> ApplyRecord | None:
        """The terminal outcome of the last apply of this plan, if any (for idempotency)."""
        ...

    def record_apply(self, record: ApplyRecord) -> None:
        """Record the terminal outcome of one apply (its ops, trashed files, diagnostics).

        Idempotent by ``record.attempt``: crash recovery may record an outcome
        the crashed process already recorded, and it must count once.
        """
        ...

    def record_incident(self, incident: Incident) -> None: ...

    def trash_locations(self, sha256: str, *, within: Sequence[str] | None = None) -> list[str]:
        """Reserved paths of trashed files with this content, newest first (for content_ref).

        ``within``: only files trashed from inside one of these subtrees (a
        plan's scope), so that content behind a wall stays unknown.
        """
        ...

    def blob_size(self, sha256: str, *, within: Sequence[str] | None = None) -> int | None:
        """The size of stored content with this hash (trashed files, ``within`` as above)."""
        ...
