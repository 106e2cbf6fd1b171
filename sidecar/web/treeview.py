"""The before and after folder trees of the area a plan touches, each row marked with what happens. Pure.

*Before* is the base a plan was verified against (``StoredCase.base``: the
paths it reads, their ancestors and their folders' listings). *After* is the
same base with the plan simulated on it by the verifier, the interpreter
the apply runs, so the page cannot show a result the apply would not give.
The marks come from the stored report's effect. A moved document shows at
both places; a chain of moves (a to b, b to c) shows as one move, a to c.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from planner.paths import rebase, split
from planner.plan import Plan
from planner.report import Effect
from planner.verify import simulate
from sidecar.service.codec import base_from

MarkKind = Literal["moves_away", "moved_here", "new", "replaced", "trash", "copied"]


@dataclass(frozen=True)
class Mark:
    """What happens to one path: a word that says it (never colour alone) and the other path, if any."""

    kind: MarkKind
    label: str  # one or two words, shown as a badge
    detail: str = ""  # e.g. "to matters/acme/alice/0001.pdf"


@dataclass(frozen=True)
class TreeRow:
    """One file or folder of a tree, with its indentation and marks."""

    path: str
    name: str
    depth: int
    is_dir: bool
    size: int | None
    marks: tuple[Mark, ...] = ()
    within: str = ""  # set when a folder above it is marked: "moves", "goes to trash", ...


@dataclass(frozen=True)
class Trees:
    """The two trees, as rows in walk order (parents first, names sorted)."""

    before: tuple[TreeRow, ...]
    after: tuple[TreeRow, ...]


class _Origins:
    """Where each path a plan moves came from, following chains and moved folders."""

    def __init__(self) -> None:
        self.origin: dict[str, str] = {}  # current path -> the path it had before the plan

    def of(self, path: str) -> str:
        probe = path
        while probe:
            if probe in self.origin:
                return rebase(path, probe, self.origin[probe])
            probe = split(probe)[0]
        return path

    def move(self, src: str, dst: str) -> str:
        first = self.of(src)
        self.origin.pop(src, None)
        self.origin[dst] = first
        return first


def trees(base: Sequence[Mapping[str, Any]], plan: Plan, effect: Effect) -> Trees:
    """The before and after trees of ``plan`` over ``base`` (base_json rows), marked from ``effect``."""
    before_tree = base_from([dict(row) for row in base])
    after_tree = simulate(plan, before_tree).tree
    before_marks, after_marks = marks(effect)
    return Trees(
        before=tuple(_rows(((e.path, e.is_dir, e.size) for e in before_tree.walk()), before_marks)),
        after=tuple(_rows(((e.path, e.is_dir, e.size) for e in after_tree.walk()), after_marks)),
    )


def marks(effect: Effect) -> tuple[dict[str, list[Mark]], dict[str, list[Mark]]]:
    """The marks of the before tree and of the after tree, by path."""
    before: dict[str, list[Mark]] = {}
    after: dict[str, list[Mark]] = {}
    created = set(effect.created)
    copies = {transfer.dst: transfer.src for transfer in effect.copied}
    origins = _Origins()
    for transfer in effect.moved:
        first = origins.move(transfer.src, transfer.dst)
        if first in created:  # made by the plan, then moved: new where it ends up
            created.add(transfer.dst)
    for dst, first in origins.origin.items():
        if first in created:
            continue
        renamed = split(first)[0] == split(dst)[0]
        word = "renamed" if renamed else "moves"
        shown_dst, shown_src = (split(dst)[1], split(first)[1]) if renamed else (dst, first)
        before.setdefault(first, []).append(Mark("moves_away", word, f"to {shown_dst}"))
        after.setdefault(dst, []).append(
            Mark("moved_here", "renamed" if renamed else "moved", f"from {shown_src}")
        )
    for path in effect.overwritten:
        before.setdefault(origins.of(path), []).append(
            Mark("replaced", "replaced", "this version goes to trash")
        )
        after.setdefault(path, []).append(Mark("replaced", "new content", "replaces the old version"))
    for path in effect.created:
        detail = f"copy of {copies[path]}" if path in copies else ""
        after.setdefault(path, []).append(Mark("new", "new", detail))
    for transfer in effect.copied:
        before.setdefault(origins.of(transfer.src), []).append(Mark("copied", "copied", f"to {transfer.dst}"))
    for path in effect.deleted:
        before.setdefault(origins.of(path), []).append(Mark("trash", "to trash", "recoverable from trash"))
    return before, after


_WITHIN = {
    "moves_away": "moves with its folder",
    "moved_here": "moved with its folder",
    "trash": "goes to trash with its folder",
    "new": "new, in a new folder",
}


def _rows(
    entries: Iterable[tuple[str, bool, int | None]], marked: dict[str, list[Mark]]
) -> Iterator[TreeRow]:
    marked_above: list[tuple[str, str]] = []  # (folder path, what it says about what is inside)
    for path, is_dir, size in entries:
        while marked_above and not path.startswith(marked_above[-1][0] + "/"):
            marked_above.pop()
        own = tuple(marked.get(path, ()))
        within = marked_above[-1][1] if marked_above and not own else ""
        yield TreeRow(path, split(path)[1], path.count("/"), is_dir, size, own, within)
        said = next((_WITHIN[mark.kind] for mark in own if mark.kind in _WITHIN), "")
        if is_dir and said:
            marked_above.append((path, said))


def changed_only(rows: Sequence[TreeRow]) -> tuple[TreeRow, ...]:
    """The rows that are marked, and the folders that lead to them (for long trees)."""
    keep: set[str] = set()
    for row in rows:
        if row.marks:
            probe = row.path
            while probe and probe not in keep:
                keep.add(probe)
                probe = split(probe)[0]
    return tuple(row for row in rows if row.path in keep)
