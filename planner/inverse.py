"""The inverse plan: the ops that undo a verified plan, derived from its changes.

Undo is a plan like any other, so it is reviewed and approved before it runs.
Content that an op removes from view (a deleted or overwritten file) is
restored by ``content_ref`` to its sha256: the apply engine keeps such content
in the store's trash, addressable by hash. Where the tree does not know a
file's hash, that part cannot be expressed and a ``no_inverse`` warning says so.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import assert_never

from planner.entry import Entry
from planner.ops import Change, CopyEntry, MakeDirs, MoveEntry, TrashEntry, WriteFile
from planner.paths import split
from planner.plan import Delete, Expect, Mkdir, Move, Op, Plan, Rename, Write
from planner.report import Code, Diagnostic


def inverse_plan(plan: Plan, changes: Sequence[Change]) -> tuple[Plan | None, list[Diagnostic]]:
    """Return the plan undoing ``changes`` (None if nothing to undo) and any warnings."""
    warnings: list[Diagnostic] = []
    ops: list[Op] = []
    for change in reversed(changes):
        ops.extend(_undo(change, warnings))
    if not ops:
        return None, warnings
    title = f"Revert: {plan.title}"
    inverse = Plan.model_construct(
        pva=plan.pva, title=title if len(title) <= 200 else title[:199] + "…", scope=plan.scope, ops=ops
    )
    return inverse, warnings


def _reason(change: Change) -> str:
    return f"undo op {change.index}"


def _pin(entry: Entry) -> Expect | None:
    """An expectation that identifies this version of a file, if the tree knows one."""
    if entry.is_dir or (entry.sha256 is None and entry.generation is None):
        return None
    return Expect.model_construct(sha256=entry.sha256, generation=entry.generation)


def _undo(change: Change, warnings: list[Diagnostic]) -> Iterator[Op]:
    match change:
        case MakeDirs(paths=paths):
            for path in reversed(paths):
                yield Delete.model_construct(op="delete", path=path, reason=_reason(change))
        case MoveEntry():
            yield from _undo_move(change, warnings)
        case WriteFile():
            yield from _undo_write(change, warnings)
        case CopyEntry(dst=dst, entries=entries):
            top = entries[0]
            expect = _pin(Entry(dst, top.kind, top.size, top.sha256))
            yield Delete.model_construct(op="delete", path=dst, expect=expect, reason=_reason(change))
        case TrashEntry(removed=removed):
            for entry in removed:
                yield from _restore(change, entry, warnings)
        case _:
            assert_never(change)


def _undo_move(change: MoveEntry, warnings: list[Diagnostic]) -> Iterator[Op]:
    src, dst, entry = change.src, change.dst, change.entry
    expect = _pin(Entry(dst, entry.kind, entry.size, entry.sha256))
    why = _reason(change)
    if change.rename:
        yield Rename.model_construct(op="rename", path=dst, name=split(src)[1], expect=expect, reason=why)
    else:
        yield Move.model_construct(op="move", src=dst, dst=src, expect=expect, reason=why)
    if change.replaced is not None:
        yield from _restore(change, change.replaced, warnings)


def _undo_write(change: WriteFile, warnings: list[Diagnostic]) -> Iterator[Op]:
    expect = Expect.model_construct(sha256=change.blob.sha256)
    why = _reason(change)
    if change.replaced is None:
        yield Delete.model_construct(op="delete", path=change.path, expect=expect, reason=why)
    elif change.replaced.sha256 is None:
        warnings.append(_cannot(change, change.path))
    else:
        yield Write.model_construct(
            op="write",
            path=change.path,
            content_ref=change.replaced.sha256,
            overwrite=True,
            expect=expect,
            reason=why,
        )


def _restore(change: Change, entry: Entry, warnings: list[Diagnostic]) -> Iterator[Op]:
    """Ops that bring a removed entry back from the trash."""
    why = _reason(change)
    absent = Expect.model_construct(absent=True)
    if entry.is_dir:
        yield Mkdir.model_construct(op="mkdir", path=entry.path, expect=absent, reason=why)
    elif entry.sha256 is None:
        warnings.append(_cannot(change, entry.path))
    else:
        yield Write.model_construct(
            op="write", path=entry.path, content_ref=entry.sha256, expect=absent, reason=why
        )


def _cannot(change: Change, path: str) -> Diagnostic:
    return Diagnostic(
        code=Code.NO_INVERSE,
        severity="warning",
        op_index=change.index,
        path=path,
        message=f"the sha256 of {path!r} is not known here, so the inverse plan cannot restore it; "
        "verify against a hashed snapshot",
    )
