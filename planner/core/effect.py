"""The effect of a plan: which paths it creates, moves, writes, copies and trashes."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import assert_never

from planner.core.ops import Change, CopyEntry, MakeDirs, MoveEntry, TrashEntry, WriteFile
from planner.core.plan import OP_KINDS, Plan
from planner.core.report import Effect


def effect_of(plan: Plan, changes: Sequence[Change]) -> Effect:
    """Summarise the resolved changes of a plan (ops with errors have none)."""
    created: list[str] = []
    moved: list[dict[str, str]] = []
    written: list[str] = []
    overwritten: list[str] = []
    copied: list[dict[str, str]] = []
    deleted: list[str] = []
    files_deleted = bytes_written = bytes_copied = 0
    for change in changes:
        match change:
            case MakeDirs(paths=paths):
                created.extend(paths)
            case MoveEntry(src=src, dst=dst, replaced=replaced):
                moved.append({"src": src, "dst": dst})
                if replaced is not None:
                    overwritten.append(dst)
            case WriteFile(path=path, blob=blob, replaced=replaced):
                written.append(path)
                (created if replaced is None else overwritten).append(path)
                bytes_written += blob.size or 0
            case CopyEntry(src=src, dst=dst, entries=entries):
                created.append(dst)
                copied.append({"src": src, "dst": dst})
                bytes_copied += sum(e.size or 0 for e in entries if not e.is_dir)
            case TrashEntry(path=path, removed=removed):
                deleted.append(path)
                files_deleted += sum(1 for e in removed if not e.is_dir)
            case _:
                assert_never(change)
    counts: Counter[str] = Counter(op.op for op in plan.ops)
    # Plain dicts: pydantic validates them in bulk, far faster than a model each.
    return Effect.model_validate(
        {
            "counts": {kind: counts.get(kind, 0) for kind in OP_KINDS},
            "created": created,
            "moved": moved,
            "written": written,
            "overwritten": overwritten,
            "copied": copied,
            "deleted": deleted,
            "files_deleted": files_deleted,
            "bytes_written": bytes_written,
            "bytes_copied": bytes_copied,
        }
    )
