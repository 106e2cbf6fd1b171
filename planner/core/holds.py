"""Legal holds as the verifier sees them: held paths, and the resolved changes they forbid. Pure.

A hold on a file or folder preserves everything under it: nothing there may
be moved, renamed, overwritten or deleted while the hold lasts, and no folder
holding it may be moved, renamed or deleted (that would move or delete it
too). New files may still be filed inside a held folder, and anything held
may be read and copied out. Paths are compared by collision key
(``paths.fold``), so no spelling of a held path escapes its hold.

The rule is one function over resolved changes (``held_changes``): the
verifier calls it op by op, so the sidecar (at submit, approval and apply),
the CLI and the agent tools all decide by it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, assert_never

from planner.core.errors import PlanSyntaxError, SchemaProblem
from planner.core.ops import Change, CopyEntry, MakeDirs, MoveEntry, TrashEntry, WriteFile
from planner.core.paths import contains, fold, path_problem
from planner.core.report import Code, Diagnostic


@dataclass(frozen=True, slots=True)
class Hold:
    """One held path: the hold's id (``hold_`` and 12 hex digits) and a store path it preserves."""

    id: str
    path: str


def holds_from_json(document: Any) -> tuple[Hold, ...]:
    """The held paths of a holds document: ``GET /v1/holds``'s answer (``{"holds": [...]}``) or its list.

    Each hold needs an ``id`` and ``paths``; released ones (``"status": "released"``) are left out.
    PlanSyntaxError (what="holds") names every problem.
    """
    items = document.get("holds") if isinstance(document, Mapping) else document
    if not isinstance(items, list):
        raise PlanSyntaxError(
            [SchemaProblem("", 'expected {"holds": [...]} or a list of holds')], what="holds"
        )
    problems: list[SchemaProblem] = []
    found: list[Hold] = []
    for index, item in enumerate(items):
        where = f"/holds/{index}"
        if not isinstance(item, Mapping) or not isinstance(item.get("id"), str):
            problems.append(SchemaProblem(where, "a hold is an object with an 'id' string and 'paths'"))
            continue
        paths = item.get("paths")
        if not isinstance(paths, list) or not all(
            isinstance(p, str) and path_problem(p) is None for p in paths
        ):
            problems.append(SchemaProblem(f"{where}/paths", "a list of store paths"))
            continue
        if item.get("status", "active") == "active":
            found.extend(Hold(item["id"], path) for path in paths)
    if problems:
        raise PlanSyntaxError(problems, what="holds")
    return tuple(found)


def held_changes(change: Change, holds: Sequence[Hold]) -> list[Diagnostic]:
    """An ``on_hold`` diagnostic for each path ``change`` would move, replace or remove under a hold."""
    if not holds:
        return []
    diagnostics = []
    for field, path, verb in _touched(change):
        hold = covering(path, holds)
        if hold is not None:
            diagnostics.append(_diagnostic(change.index, field, path, verb, hold))
    return diagnostics


def _touched(change: Change) -> Iterable[tuple[str, str, str]]:
    """(field, path, verb) of what ``change`` takes away from where it is: the paths a hold guards."""
    match change:
        case MakeDirs() | CopyEntry():
            return ()  # creates only; a copy reads its source
        case MoveEntry(src=src, dst=dst, replaced=replaced, rename=rename):
            moved = [("path" if rename else "src", src, "rename" if rename else "move")]
            return moved + ([("dst", dst, "overwrite")] if replaced is not None else [])
        case WriteFile(path=path, replaced=replaced):
            return [("path", path, "overwrite")] if replaced is not None else []
        case TrashEntry(path=path):
            return [("path", path, "delete")]
        case _:
            assert_never(change)


def covering(path: str, holds: Sequence[Hold], *, below: bool = True) -> Hold | None:
    """The first hold on ``path`` or on a folder above it; with ``below``, also on anything below it.

    Moving or deleting ``path`` carries what lies below it, so the verifier
    asks with ``below``; whether a new path is itself held asks without.
    """
    key = fold(path)
    for hold in holds:
        held = fold(hold.path)
        if contains(held, key) or (below and contains(key, held)):
            return hold
    return None


def _diagnostic(index: int, field: str, path: str, verb: str, hold: Hold) -> Diagnostic:
    # The message names the op's own path and the hold's id, never the held path: a hold placed on a
    # folder above the caller's scope must not show its name (the ethical wall).
    return Diagnostic(
        code=Code.ON_HOLD,
        op_index=index,
        field=field,
        path=path,
        message=f"cannot {verb} {path!r}: it is under legal hold {hold.id}, or holds something that is; "
        "held documents may be read and copied, not moved, renamed, overwritten or deleted, "
        "until counsel releases the hold",
    )
