"""The ethical wall: what a principal may see of plans, audit events and histories. Pure.

A scope is a wall. The one rule, used by the service, the API, the approval
page and (through the API) the CLI: a principal sees a plan only when every
path it names lies in their scopes (an agent, besides, only the plans it
submitted). A plan names its ops' paths and its declared scope's roots
(``policy.named_paths``). Whatever concerns a plan they may not see is
hidden whole: its events, its history items, its id (prefixes resolve among
visible plans only); never shown with its title, reasons, comments, names or
digest.
Events that name no plan (tokens, incidents, holds) are for whole-store readers.
A legal hold is seen whole only when each of its paths is in scope; one that
reaches into the scope from outside (a path in scope beside others, or a
folder above a scope root) is seen redacted: its id and only the held paths
inside the scope, never its matter, reason or names (``hold_sight``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from planner.core.paths import contains, fold
from sidecar.audit.views import EventView, History

AGENT = "agent"


class Reader(Protocol):
    """Who reads (``sidecar.tokens.Principal`` is one): a name, a role, and the subtrees they may touch."""

    @property
    def name(self) -> str: ...
    @property
    def role(self) -> str: ...
    @property
    def whole_store(self) -> bool: ...
    @property
    def scopes(self) -> tuple[str, ...]: ...
    def may_touch(self, path: str) -> bool: ...


def sees_paths(who: Reader, paths: Iterable[str]) -> bool:
    """True when every one of ``paths`` lies inside ``who``'s scopes."""
    return all(who.may_touch(path) for path in paths)


def sees_plan(who: Reader, *, authors: Iterable[str], paths: Iterable[str]) -> bool:
    """True when ``who`` may see a plan: every path it touches in scope, and, for an agent, its author."""
    if who.role == AGENT and who.name not in authors:
        return False
    return sees_paths(who, paths)


PlanCheck = Callable[[str], bool]  # digest -> may the reader see this plan


def sees_event(who: Reader, event: EventView, plan_visible: PlanCheck) -> bool:
    """True when ``who`` may see an audit event: any, for the whole store; else those of plans they see."""
    if who.whole_store:
        return True
    return event.digest is not None and plan_visible(event.digest)


def walled_history(who: Reader, history: History, plan_visible: PlanCheck) -> History:
    """``history`` without the items of plans ``who`` may not see, and without names outside their scope."""
    return History(
        path=history.path,
        items=tuple(item for item in history.items if plan_visible(item.digest)),
        origins=tuple(name for name in history.origins if who.may_touch(name)),
        current=tuple(name for name in history.current if who.may_touch(name)),
    )


@dataclass(frozen=True)
class HoldSight:
    """What a reader sees of a legal hold: the held paths they may know of, and whether that is all of it."""

    paths: tuple[str, ...]
    whole: bool  # False: redacted, shown without its matter, reason and names


def hold_sight(who: Reader, paths: Sequence[str]) -> HoldSight | None:
    """What ``who`` sees of a hold on ``paths``: whole, redacted to the part in their scope, or nothing."""
    if sees_paths(who, paths):
        return HoldSight(tuple(paths), whole=True)
    inside = {path for path in paths if who.may_touch(path)}
    # A hold on a folder above a scope root holds the whole scope: the reader sees it on that root.
    above = {root for root in who.scopes if any(contains(fold(path), fold(root)) for path in paths)}
    shown = tuple(sorted(inside | above))
    return HoldSight(shown, whole=False) if shown else None
