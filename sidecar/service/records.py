"""``RecordService``: what principals may read of the audit and the store (events, history, snapshot).

Scope rules: a principal reads only inside its scope. The audit's events
are for approvers, auditors and admins; a principal scoped to subtrees must
name a path inside them (or a plan it may see), so other matters' events
never show. A document's history and a snapshot are for every role, inside
its scope.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from planner.manifest import entry_line, header_line
from sidecar.audit.store import SqlAuditStore
from sidecar.audit.views import EventView, History
from sidecar.backends.base import Backend
from sidecar.errors import UnknownPlan
from sidecar.service.cases import SqlCaseStore
from sidecar.service.plans import check_path_filter, visible
from sidecar.tokens import Principal, Role
from sidecar.workflow import NotAllowed

AUDIT_ROLES = frozenset({Role.APPROVER, Role.AUDITOR, Role.ADMIN})
MAX_EVENTS = 1000


@dataclass
class RecordService:
    """Reads of the audit and the store, within the reader's role and scope."""

    audit: SqlAuditStore
    cases: SqlCaseStore
    backend: Backend

    def events(
        self,
        who: Principal,
        *,
        path: str | None = None,
        plan: str | None = None,
        actor: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        after: int = 0,
        limit: int = 100,
    ) -> list[EventView]:
        """Audit events in chain order after seq ``after``, filtered, within ``who``'s scope."""
        if who.role not in AUDIT_ROLES:
            raise NotAllowed(
                f"{who.name} has role {who.role.value}; the audit is for approvers, auditors and admins"
            )
        digest = None
        if plan is not None:
            digest = self.cases.resolve(plan)
            stored = self.cases.get(digest)
            if stored is None or not visible(stored, who):
                raise UnknownPlan(f"no plan {plan}")
        if path is not None:
            _check_path(who, path)
        elif digest is None and not who.whole_store:
            raise NotAllowed(
                f"{who.name} is scoped to {', '.join(who.scopes)}: give a path inside it, or a plan"
            )
        return self.audit.events(
            path=path,
            digest=digest,
            actor=actor,
            since=since,
            until=until,
            after=after,
            limit=max(1, min(limit, MAX_EVENTS)),
        )

    def history(self, who: Principal, path: str) -> History:
        """A document's chain of custody; the path must be inside ``who``'s scope."""
        _check_path(who, path)
        return self.audit.history(path)

    def snapshot(self, who: Principal, prefix: str) -> Iterator[str]:
        """A manifest (manifest/v1 lines) of everything at and below ``prefix`` ('' for the whole store)."""
        if prefix:
            _check_path(who, prefix)
        elif not who.whole_store:
            raise NotAllowed(f"{who.name} is scoped to {', '.join(who.scopes)}: give a prefix inside it")
        entries = self.backend.walk(prefix)
        yield header_line(f"{self.backend.name}/{prefix}".rstrip("/"), hashed=True) + "\n"
        for entry in entries:
            yield entry_line(entry) + "\n"


def _check_path(who: Principal, path: str) -> None:
    check_path_filter(path)
    if not who.may_touch(path):
        raise NotAllowed(f"{who.name} may not read {path!r}: it is outside their scope")
