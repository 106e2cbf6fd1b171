"""Versions of a plan: the part a person approves, and what changed from one version to the next. Pure.

``subset`` drops ops a person unticked and keeps the rest in order (the
verifier then says whether the part still stands on its own: a dropped
``mkdir`` that a kept op needs is a ``parent_not_found``). ``diff_ops`` matches
the ops of two versions by identity, their kind and the paths they name, and
says which were added, removed or changed (same identity, other fields).
Op indexes are 0-based here, as in the plan's JSON; people read them from 1.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from planner.core.plan import Op, Plan
from planner.core.report import Diagnostic

OpKey = tuple[str, tuple[str, ...]]
Change = Literal["added", "removed", "changed"]
PATH_FIELDS = ("path", "src", "dst")


class BadSelection(ValueError):
    """The ops to leave out do not make a smaller plan: none, all of them, or ops the plan does not have."""


@dataclass(frozen=True)
class Subset:
    """The plan made of the ops a person kept; ``kept[i]`` is the original index of the part's op ``i``."""

    plan: Plan
    kept: tuple[int, ...]
    without: tuple[int, ...]

    def original(self, diagnostic: Diagnostic) -> Diagnostic:
        """``diagnostic`` of the part with its op index as in the original plan."""
        if diagnostic.op_index is None:
            return diagnostic
        return diagnostic.model_copy(update={"op_index": self.kept[diagnostic.op_index]})


def subset(plan: Plan, without: Iterable[int]) -> Subset:
    """``plan`` without the ops at ``without`` (0-based): same title and scope, the other ops in order.

    BadSelection when ``without`` is empty, names every op, or names an op the plan does not have.
    """
    dropped = tuple(sorted(set(without)))
    count = len(plan.ops)
    outside = [index for index in dropped if not 0 <= index < count]
    if outside:
        listed = ", ".join(str(index + 1) for index in outside)
        raise BadSelection(f"the plan has ops 1 to {count}; there is no op {listed}")
    if not dropped:
        raise BadSelection("no op is left out: approve the whole plan instead")
    if len(dropped) == count:
        raise BadSelection("every op is left out: reject the plan instead")
    kept = tuple(index for index in range(count) if index not in set(dropped))
    part = plan.model_copy(update={"ops": [plan.ops[index] for index in kept]})
    return Subset(Plan.model_validate(part.model_dump(mode="json", exclude_defaults=True)), kept, dropped)


@dataclass(frozen=True)
class OpChange:
    """One difference between two versions: an op added (``op``), removed (``previous_op``) or changed (both).

    ``fields`` names what differs in a changed op (its identity, the kind and paths, is the same).
    """

    change: Change
    op: int | None
    previous_op: int | None
    fields: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "change": self.change,
            "op": self.op,
            "previous_op": self.previous_op,
            "fields": list(self.fields),
        }


def op_key(op: Op) -> OpKey:
    """An op's identity across versions: its kind and the paths it names (a rename's new name is a field)."""
    return op.op, tuple(str(getattr(op, name)) for name in PATH_FIELDS if hasattr(op, name))


def diff_ops(previous: Sequence[Op], current: Sequence[Op]) -> tuple[OpChange, ...]:
    """What changed from ``previous`` to ``current``: in ``current``'s order, then the removed ops.

    Ops are paired as ``matches`` pairs them; equal pairs are left out, the
    others are ``changed``: ``fields`` names what differs, and ``position``
    when the op moved among the others (ops apply in order: a ``mkdir`` moved
    after the move into its folder matters). Ops of ``current`` without a
    counterpart are ``added``; ops of ``previous`` without one are ``removed``.
    """
    pairs = matches(previous, current)
    back = {now: before for before, now in pairs.items()}
    kept_order = _in_order(sorted(back.items()))
    changes: list[OpChange] = []
    for index, op in enumerate(current):
        before = back.get(index)
        if before is None:
            changes.append(OpChange("added", index, None))
            continue
        fields = _differing(previous[before], op) + (() if index in kept_order else ("position",))
        if fields:
            changes.append(OpChange("changed", index, before, fields))
    changes += [OpChange("removed", None, index) for index in range(len(previous)) if index not in pairs]
    return tuple(changes)


def matches(previous: Sequence[Op], current: Sequence[Op]) -> dict[int, int]:
    """Each op of ``previous`` with a counterpart in ``current``, to its index there.

    An op's counterpart is the first op of ``current`` with its identity
    (``op_key``) that no earlier op of ``previous`` took.
    """
    waiting: dict[OpKey, list[int]] = {}
    for index, op in enumerate(current):
        waiting.setdefault(op_key(op), []).append(index)
    found: dict[int, int] = {}
    for index, op in enumerate(previous):
        candidates = waiting.get(op_key(op))
        if candidates:
            found[index] = candidates.pop(0)
    return found


def _in_order(pairs: list[tuple[int, int]]) -> set[int]:
    """The current indexes of the most pairs (current, previous) whose previous order is kept.

    A longest increasing subsequence of the previous indexes, by current index:
    the other matched ops are the ones that moved.
    """
    tails: list[int] = []  # tails[k]: the position in ``pairs`` ending the best run of k + 1
    ends: list[int] = []  # ends[k]: its previous index (increasing: bisect finds where one goes)
    links: list[int | None] = []
    for position, (_, before) in enumerate(pairs):
        k = bisect.bisect_left(ends, before)
        links.append(tails[k - 1] if k else None)
        if k == len(tails):
            tails.append(position)
            ends.append(before)
        else:
            tails[k], ends[k] = position, before
    kept: set[int] = set()
    at = tails[-1] if tails else None
    while at is not None:
        kept.add(pairs[at][0])
        at = links[at]
    return kept


def _differing(previous: Op, current: Op) -> tuple[str, ...]:
    old = previous.model_dump(mode="json", exclude_defaults=True, exclude_none=True)
    new = current.model_dump(mode="json", exclude_defaults=True, exclude_none=True)
    return tuple(sorted(name for name in old.keys() | new.keys() if old.get(name) != new.get(name)))
