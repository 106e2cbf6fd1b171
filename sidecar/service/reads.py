"""``ReadService``: what principals may read of the audit and the store (events, history, snapshot).

Scope rules: a principal reads only inside its scope, behind the ethical
wall (``sidecar.walls``). The audit's events are for approvers, auditors and
admins; a principal scoped to subtrees must name a path inside them (or a
plan it may see), and even then sees only the events of plans it may see:
an apply that also touched another matter is hidden whole. A document's
history and a snapshot are for every role, inside its scope; a history
keeps only the items of plans the reader may see.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime

from planner.core.manifest import entry_line, header_line
from sidecar.audit.store import SqlAuditStore
from sidecar.audit.views import EventView, History
from sidecar.backends.base import Backend
from sidecar.errors import UnknownPlan
from sidecar.policy import named_paths
from sidecar.service.cases import SqlCaseStore
from sidecar.service.plans import check_path_filter, visible
from sidecar.tokens import Principal, Role
from sidecar.walls import sees_event, sees_paths, walled_history
from sidecar.workflow import NotAllowed

AUDIT_ROLES = frozenset({Role.APPROVER, Role.AUDITOR, Role.ADMIN})
MAX_EVENTS = 1000


@dataclass
class ReadService:
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
            digest = self.cases.resolve(plan, lambda stored: visible(stored, who))
        if path is not None:
            _check_path(who, path)
        elif digest is None and not who.whole_store:
            raise NotAllowed(
                f"{who.name} is scoped to {', '.join(who.scopes)}: give a path inside it, or a plan"
            )
        wanted, shown = max(1, min(limit, MAX_EVENTS)), list[EventView]()
        sees = self._plan_check(who)
        while len(shown) < wanted:  # read on past hidden events, so a page is full unless the audit ends
            found = self.audit.events(
                path=path, digest=digest, actor=actor, since=since, until=until, after=after, limit=wanted
            )
            shown.extend(event for event in found if sees_event(who, event, sees))
            if len(found) < wanted:
                break
            after = found[-1].seq
        return shown[:wanted]

    def history(self, who: Principal, path: str) -> History:
        """A document's chain of custody, path inside ``who``'s scope, without what the wall hides."""
        _check_path(who, path)
        return walled_history(who, self.audit.history(path), self._plan_check(who))

    def plan_check(self, who: Principal) -> Callable[[str], bool]:
        """Whether ``who`` may see the plan of a digest (the wall); custody reports ask it too."""
        return self._plan_check(who)

    def _plan_check(self, who: Principal) -> Callable[[str], bool]:
        """Whether every path of a plan lies in ``who``'s scope, by digest, each plan read once.

        The wall, not the agents' own-plans rule: a history shows an agent
        who else changed a document in its scope. A plan applied with no
        case (``pva apply`` on the VM) is judged by the paths of its body.
        """
        known: dict[str, bool] = {}

        def sees(digest: str) -> bool:
            if who.whole_store:  # every path is inside: no plan need be read
                return True
            if digest not in known:
                paths = self._paths(digest)
                known[digest] = paths is not None and sees_paths(who, paths)
            return known[digest]

        return sees

    def _paths(self, digest: str) -> tuple[str, ...] | None:
        """The paths the plan names (the wall's); None for a digest no plan has."""
        stored = self.cases.get(digest)
        if stored is not None:
            return stored.case.paths
        try:
            return named_paths(self.audit.plan(digest))
        except UnknownPlan:
            return None

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
