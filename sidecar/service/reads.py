"""``ReadService``: what principals may read of the audit and the store.

The audit's events and a document's history; the store's folders (``tree``),
files (``open_file``) and manifests (``manifest``, ``snapshot``).

Scope rules: a principal reads only inside its scope, behind the ethical
wall (``sidecar.walls``). The audit's events are for approvers, auditors and
admins; a principal scoped to subtrees must name a path inside them (or a
plan it may see), and even then sees only the events of plans it may see:
an apply that also touched another matter is hidden whole. A document's
history, the store's folders, files and manifests are for every role,
inside its scope (one check, ``_check_path``: the path itself must lie in a
scope, so a listing never shows a name outside it); a history keeps only the
items of plans the reader may see. Whole-file reads go to the audit as
'read' events (``AuditReads``): who read which version of which document.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, TypeVar

from planner.core.entry import Entry
from planner.core.errors import NotFound
from planner.core.manifest import entry_line, header_line
from sidecar.audit.payloads import DocumentRead
from sidecar.audit.store import SqlAuditStore
from sidecar.audit.views import EventView, History
from sidecar.backends.base import Backend, FileStream
from sidecar.errors import NotInStore, UnknownPlan
from sidecar.policy import named_paths
from sidecar.service.cases import SqlCaseStore
from sidecar.service.plans import check_read_path, visible
from sidecar.tokens import Principal, Role
from sidecar.walls import sees_event, sees_paths, walled_history
from sidecar.workflow import NotAllowed

_T = TypeVar("_T")
AUDIT_ROLES = frozenset({Role.APPROVER, Role.AUDITOR, Role.ADMIN})
MAX_EVENTS = 1000
MAX_DEPTH = 64  # levels a tree listing goes down
AuditReads = Literal["off", "whole", "all"]  # which file reads become 'read' events


@dataclass(frozen=True)
class TreePage:
    """One page of a folder's listing: entries parents first, by name; ``next_after`` pages on."""

    path: str
    entries: tuple[Entry, ...]
    next_after: str | None


@dataclass
class ReadService:
    """Reads of the audit and the store, within the reader's role and scope."""

    audit: SqlAuditStore
    cases: SqlCaseStore
    backend: Backend
    audit_reads: AuditReads = "whole"

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
        """A manifest (manifest/v1 lines) of all at and below ``prefix`` ('' for the whole store), hashed.

        Streamed as it is read, and what no plan can name (links, special
        files, names that are not UTF-8) is passed by, as in ``manifest``;
        the prefix itself must be a file or a folder (else Refused, 409).
        """
        self._check_readable(who, prefix)
        top = self.backend.stat(prefix) if prefix else None
        yield header_line(f"{self.backend.name}/{prefix}".rstrip("/"), hashed=True) + "\n"
        if top is not None:
            yield entry_line(top) + "\n"
        if not prefix or (top is not None and top.is_dir):
            for entry in self.backend.entries(prefix, hashed=True):
                yield entry_line(entry) + "\n"

    def tree(
        self, who: Principal, path: str, *, depth: int = 1, after: str | None = None, limit: int = 500
    ) -> TreePage:
        """The entries below the folder ``path``, ``depth`` levels down, after the path ``after``.

        Paged by path in the listing's order (parents first, by name: the
        order of the path's segments), so a page boundary is stable while
        the folder changes. Files carry their sha256 only where the store knows it.
        """
        self._check_readable(who, path)
        if after is not None:
            check_read_path(after)
        wanted, found = max(1, limit), list[Entry]()
        levels = max(1, min(depth, MAX_DEPTH))
        for entry in _found(lambda: self.backend.entries(path, depth=levels, after=after)):
            found.append(entry)
            if len(found) > wanted:
                break
        more = len(found) > wanted
        shown = tuple(found[:wanted])
        return TreePage(path, shown, shown[-1].path if more else None)

    def manifest(self, who: Principal, path: str, *, hashed: bool = False) -> Iterator[str]:
        """A manifest (manifest/v1 lines) of the folder ``path``; files hashed only when asked."""
        self._check_readable(who, path)
        entries = _found(lambda: self.backend.entries(path, hashed=hashed))
        yield header_line(f"{self.backend.name}/{path}".rstrip("/"), hashed=hashed) + "\n"
        for entry in entries:
            yield entry_line(entry) + "\n"

    def open_file(self, who: Principal, path: str) -> FileStream:
        """The file ``path`` opened for ``who`` to stream; the caller closes it (after ``served``)."""
        if not path:
            raise NotInStore(path, "the store root is a folder, not a file")
        _check_path(who, path)
        return _found(lambda: self.backend.open_read(path))

    def served(self, who: Principal, entry: Entry, size: int, part: tuple[int, int] | None) -> None:
        """Record that ``who`` is served ``size`` bytes of ``entry`` (``part``: a range), as set."""
        if self.audit_reads == "off" or (part is not None and self.audit_reads == "whole"):
            return
        version = entry.sha256 if entry.sha256 is not None else f"generation:{entry.generation}"
        shown = None if part is None else f"bytes={part[0]}-{part[1] - 1}"
        self.audit.record_read(DocumentRead(entry.path, version, size, shown), actor=who.name)

    def _check_readable(self, who: Principal, path: str) -> None:
        if path:
            _check_path(who, path)
        elif not who.whole_store:
            raise NotAllowed(f"{who.name} is scoped to {', '.join(who.scopes)}: give a path inside it")


def _found(opening: Callable[[], _T]) -> _T:
    """What ``opening`` opens; a path that names nothing is NotInStore (404), not a tree conflict."""
    try:
        return opening()
    except NotFound as error:
        raise NotInStore(error.path, str(error)) from None


def _check_path(who: Principal, path: str) -> None:
    check_read_path(path)
    if not who.may_touch(path):
        raise NotAllowed(f"{who.name} may not read {path!r}: it is outside their scope")
