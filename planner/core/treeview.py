"""The before and after folder trees of the area a plan touches, each row marked with what happens. Pure.

*Before* is what the service keeps of the plan's footprint as read from the
store when it was verified (``planner.core.footprint.reviewed``: the paths it
reads, their ancestors, all below what it reads whole, and their folders'
other entries when there are not too many). *After* is that
footprint with the verifier's own resolved changes carried out on it
(``planner.core.ops.execute``, the interpreter the apply runs): no second
simulation, so the trees cannot show a result the apply would not give.
The marks come from the report's effect. A moved document shows at both
places; a chain of moves (a to b, b to c) shows as one move, a to c.

The page, the API's plan view and ``pva plans show`` all use these rows;
``trees_json`` and ``trees_from`` carry them over the wire.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal, cast

from planner.core.entry import Entry
from planner.core.ops import Change, execute
from planner.core.paths import rebase, split
from planner.core.report import Effect
from planner.core.tree import Tree

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
    sha256: str | None = None  # when the footprint read it


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


def trees(base: Tree, changes: Sequence[Change], effect: Effect) -> Trees:
    """The before and after trees: ``base`` (the footprint read at submit), then with ``changes`` done.

    ``changes`` are the verifier's resolved changes over exactly ``base``, in
    order, so carrying them out cannot fail; ``base`` is never changed.
    """
    after = base.fork()
    for change in changes:
        execute(change, after)
    before_marks, after_marks = marks(effect)
    return Trees(
        before=tuple(_rows(base.walk(), before_marks)), after=tuple(_rows(after.walk(), after_marks))
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


def _rows(entries: Iterable[Entry], marked: dict[str, list[Mark]]) -> Iterator[TreeRow]:
    marked_above: list[tuple[str, str]] = []  # (folder path, what it says about what is inside)
    for entry in entries:
        path, is_dir = entry.path, entry.is_dir
        while marked_above and not path.startswith(marked_above[-1][0] + "/"):
            marked_above.pop()
        own = tuple(marked.get(path, ()))
        within = marked_above[-1][1] if marked_above and not own else ""
        name, depth = split(path)[1], path.count("/")
        yield TreeRow(path, name, depth, is_dir, entry.size, own, within, entry.sha256)
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


def trees_json(shown: Trees) -> dict[str, Any]:
    """The trees as JSON values (the API's plan view carries them)."""
    return {
        "before": [_row_json(row) for row in shown.before],
        "after": [_row_json(row) for row in shown.after],
    }


def trees_from(body: dict[str, Any]) -> Trees:
    """The inverse of ``trees_json``."""
    return Trees(
        before=tuple(_row_from(row) for row in body["before"]),
        after=tuple(_row_from(row) for row in body["after"]),
    )


def _row_json(row: TreeRow) -> dict[str, Any]:
    return {
        "path": row.path,
        "kind": "dir" if row.is_dir else "file",
        "size": row.size,
        "sha256": row.sha256,
        "marks": [{"kind": m.kind, "label": m.label, "detail": m.detail} for m in row.marks],
        "within": row.within,
    }


def _row_from(body: dict[str, Any]) -> TreeRow:
    path = body["path"]
    marks = tuple(Mark(cast("MarkKind", m["kind"]), m["label"], m["detail"]) for m in body["marks"])
    is_dir = body["kind"] == "dir"
    return TreeRow(
        path, split(path)[1], path.count("/"), is_dir, body["size"], marks, body["within"], body["sha256"]
    )
