"""The inverse plan: the ops that undo a verified plan, derived from its changes.

Undo is a plan like any other: it is returned as a plan *document* (JSON-ready
dict) and, when submitted, is parsed, verified and approved like any plan.
Content that an op removes from view (a deleted or overwritten file) is
restored by ``content_ref`` to its sha256: the apply engine keeps such content
in the store's trash, addressable by hash. Where the tree does not know a
file's hash, that part cannot be expressed and a ``no_inverse`` warning says so.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, assert_never

from planner.core.entry import Entry
from planner.core.ops import Change, CopyEntry, MakeDirs, MoveEntry, TrashEntry, WriteFile
from planner.core.paths import split
from planner.core.plan import PLAN_VERSION, Plan
from planner.core.report import Code, Diagnostic

OpDoc = dict[str, Any]
_ABSENT = {"absent": True}
_MAX_TITLE = 200


def inverse_plan(plan: Plan, changes: Sequence[Change]) -> tuple[dict[str, Any] | None, list[Diagnostic]]:
    """Return the plan document undoing ``changes`` (None if nothing to undo) and any warnings."""
    warnings: list[Diagnostic] = []
    ops: list[OpDoc] = []
    for change in reversed(changes):
        ops.extend(_undo(change, warnings))
    if not ops:
        return None, warnings
    title = f"Revert: {plan.title}"
    if len(title) > _MAX_TITLE:
        title = title[: _MAX_TITLE - 1] + "…"
    return {"pva": PLAN_VERSION, "title": title, "scope": list(plan.scope), "ops": ops}, warnings


def _op(kind: str, change: Change, expect: dict[str, Any] | None = None, **fields: Any) -> OpDoc:
    body: OpDoc = {"op": kind, **fields, "reason": f"undo op {change.index}"}
    if expect:
        body["expect"] = expect
    return body


def _pin(entry: Entry) -> dict[str, Any] | None:
    """An expectation on this version of a file: its hash if known, else its size."""
    if entry.is_dir:
        return None
    if entry.sha256 is not None:
        return {"sha256": entry.sha256}
    return None if entry.size is None else {"size": entry.size}


def _undo(change: Change, warnings: list[Diagnostic]) -> Iterator[OpDoc]:
    match change:
        case MakeDirs(paths=paths):
            for path in reversed(paths):
                yield _op("delete", change, path=path)
        case MoveEntry():
            yield from _undo_move(change, warnings)
        case WriteFile():
            yield from _undo_write(change, warnings)
        case CopyEntry(dst=dst, entries=entries):
            yield _op("delete", change, _pin(entries[0]), path=dst)
        case TrashEntry(removed=removed):
            for entry in removed:
                yield from _restore(change, entry, warnings)
        case _:
            assert_never(change)


def _undo_move(change: MoveEntry, warnings: list[Diagnostic]) -> Iterator[OpDoc]:
    expect = _pin(change.entry)  # a move keeps content, so the hash still identifies it
    if change.rename:
        yield _op("rename", change, expect, path=change.dst, name=split(change.src)[1])
    else:
        yield _op("move", change, expect, src=change.dst, dst=change.src)
    if change.replaced is not None:
        yield from _restore(change, change.replaced, warnings)


def _undo_write(change: WriteFile, warnings: list[Diagnostic]) -> Iterator[OpDoc]:
    expect = {"sha256": change.blob.sha256}
    if change.replaced is None:
        yield _op("delete", change, expect, path=change.path)
    elif change.replaced.sha256 is None:
        warnings.append(_cannot(change, change.path))
    else:
        yield _op(
            "write", change, expect, path=change.path, content_ref=change.replaced.sha256, overwrite=True
        )


def _restore(change: Change, entry: Entry, warnings: list[Diagnostic]) -> Iterator[OpDoc]:
    """Ops that bring a removed entry back from the trash."""
    if entry.is_dir:
        yield _op("mkdir", change, _ABSENT, path=entry.path)
    elif entry.sha256 is None:
        warnings.append(_cannot(change, entry.path))
    else:
        yield _op("write", change, _ABSENT, path=entry.path, content_ref=entry.sha256)


def _cannot(change: Change, path: str) -> Diagnostic:
    return Diagnostic(
        code=Code.NO_INVERSE,
        severity="warning",
        op_index=change.index,
        path=path,
        message=f"the sha256 of {path!r} is not known here, so the inverse plan cannot restore it; "
        "verify against a hashed snapshot",
    )
