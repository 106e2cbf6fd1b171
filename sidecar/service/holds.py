"""``HoldService``: place, release and list legal holds, behind the ethical wall.

Counsel and admins place and release holds, on paths inside their scope. A
hold is placed under the apply locks of its paths, so it is ordered with
every apply: one that checked before it finished first; any later one finds
the hold (``Engine.holds``) and goes ``stale``. On a store that enforces
holds itself (GCS temporary holds, ``BucketHolds``), every object under the
paths is held too, and released when no other hold in force still covers it;
the row says when the bucket has caught up, and ``settle`` (at start and in
the sweep) finishes what a crash left half done.
Everyone may list holds: whole when each path is in their scope, redacted
when a hold only reaches into it (``sidecar.walls.hold_sight``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from planner.core.holds import Hold, covering
from sidecar.apply.engine import Engine
from sidecar.backends.base import BucketHolds
from sidecar.holds import HoldInfo, HoldStore, InvalidHoldRequest, UnknownHold, checked_paths
from sidecar.tokens import Principal, Role
from sidecar.walls import hold_sight
from sidecar.workflow import NotAllowed

HOLDING_ROLES = frozenset({Role.COUNSEL, Role.ADMIN})  # who may place and release holds


@dataclass(frozen=True)
class HoldView:
    """A hold as one reader sees it: ``redacted`` ones carry only their id, status and the paths in scope."""

    info: HoldInfo
    redacted: bool


def may_hold(who: Principal) -> bool:
    """True when ``who``'s role may place and release holds (counsel, admin)."""
    return who.role in HOLDING_ROLES


@dataclass
class HoldService:
    """Holds over the audit database, enforced by the engine (and the bucket, where it can)."""

    store: HoldStore
    engine: Engine

    def place(self, who: Principal, paths: Sequence[str], *, matter: str, reason: str) -> HoldInfo:
        """Hold ``paths`` (each must exist, inside ``who``'s scope) for ``matter``."""
        self._check_role(who, "place")
        wanted = checked_paths(paths)
        outside = [path for path in wanted if not who.may_touch(path)]
        if outside:
            raise NotAllowed(f"{who.name} may not hold {outside[0]!r}: it is outside their scope")
        with self.engine.locks.hold(wanted, timeout=self.engine.lock_timeout):
            missing = [path for path in wanted if self.engine.backend.stat(path) is None]
            if missing:
                raise InvalidHoldRequest(f"nothing is at {missing[0]!r} to hold")
            info = self.store.place(wanted, matter=matter, reason=reason, actor=who.name)
        self.enforce(info)
        return info

    def enforce(self, info: HoldInfo) -> int:
        """Hold every object under the hold's paths in the bucket (idempotent); how many; then mark it so."""
        backend = self.engine.backend
        if not isinstance(backend, BucketHolds):
            self.store.settled(info.id, "none")
            return 0
        count = sum(backend.set_holds(path, held=True) for path in info.paths)
        self.store.settled(info.id, "held")
        return count

    def settle(self) -> int:
        """Finish the bucket's side of every hold placed or released before a crash; how many holds."""
        unsettled = self.store.unsettled()
        for info in unsettled:
            if info.active:
                self.enforce(info)
            else:
                self._clear(info)
        return len(unsettled)

    def release(self, who: Principal, hold_id: str, *, reason: str) -> HoldInfo:
        """Release a hold ``who`` sees whole; the bucket's holds go where no other hold covers them."""
        self._check_role(who, "release")
        info = self._whole(who, hold_id)
        released = self.store.release(info.id, reason=reason, actor=who.name)
        self._clear(released)
        return released

    def _clear(self, released: HoldInfo) -> None:
        """Clear the bucket's holds of a released hold where no hold in force still covers them."""
        backend = self.engine.backend
        if not isinstance(backend, BucketHolds):
            self.store.settled(released.id, "none")
            return
        still = self.store.held()
        for path in released.paths:
            if covering(path, still, below=False) is None:
                backend.set_holds(path, held=False)
                for hold in still:  # a hold in force below the released path keeps its objects
                    if covering(hold.path, [Hold(released.id, path)], below=False) is not None:
                        backend.set_holds(hold.path, held=True)
        self.store.settled(released.id, "cleared")

    def get(self, who: Principal, hold_id: str) -> HoldView:
        """The hold ``hold_id`` as ``who`` sees it; UnknownHold when they may not see it at all."""
        view = self._view(who, self.store.get(hold_id))
        if view is None:
            raise UnknownHold(f"no hold {hold_id}")
        return view

    def list(self, who: Principal, *, active: bool = True) -> list[HoldView]:
        """The holds ``who`` may see (in force only, by default), oldest first."""
        views = (self._view(who, info) for info in self.store.list(active=active))
        return [view for view in views if view is not None]

    def _view(self, who: Principal, info: HoldInfo) -> HoldView | None:
        sight = hold_sight(who, info.paths)
        if sight is None:
            return None
        if sight.whole:
            return HoldView(info, redacted=False)
        hidden = replace(
            info, matter="", reason="", paths=sight.paths, placed_by="", released_by=None, release_reason=None
        )
        return HoldView(hidden, redacted=True)

    def _whole(self, who: Principal, hold_id: str) -> HoldInfo:
        view = self.get(who, hold_id)
        if view.redacted:  # part of it lies behind a wall: only someone who sees all of it may release it
            raise NotAllowed(
                f"{who.name} may not release hold {hold_id}: some of its paths are outside their scope"
            )
        return view.info

    @staticmethod
    def _check_role(who: Principal, verb: str) -> None:
        if not may_hold(who):
            raise NotAllowed(
                f"{who.name} has role {who.role.value}; only counsel and admins may {verb} holds"
            )
