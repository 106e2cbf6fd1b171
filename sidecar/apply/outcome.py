"""Audit records from resolved changes. Pure."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import assert_never

from planner.core.entry import Entry
from planner.core.ops import Change, CopyEntry, MakeDirs, MoveEntry, TrashEntry, WriteFile
from planner.core.paths import rebase
from sidecar.audit.records import OpRecord, TrashedFile


def op_records(
    changes: Sequence[Change], trashed: Sequence[tuple[int, str, str]]
) -> tuple[list[OpRecord], list[TrashedFile]]:
    """One OpRecord per change, and every file sent to trash (``trashed``: op, path, where)."""
    where = {(op, path): spot for op, path, spot in trashed}
    ops = [_record(change, where) for change in changes]
    files: list[TrashedFile] = []
    for change in changes:
        for entry, spot in _trashed(change, where):
            if not entry.is_dir:
                files.append(TrashedFile(entry.path, spot, entry.sha256, entry.size))
    return ops, files


def _record(change: Change, where: dict[tuple[int, str], str]) -> OpRecord:
    index = change.index
    match change:
        case MakeDirs(paths=paths):
            made = paths[-1] if paths else ""
            return OpRecord(index, "mkdir", made, after=Entry(made, "dir") if made else None)
        case MoveEntry(src=src, dst=dst, entry=entry, replaced=replaced, rename=rename):
            after = Entry(dst, entry.kind, entry.size, entry.sha256)
            trash = where.get((index, dst))
            if rename:
                return OpRecord(index, "rename", dst, src, kept(replaced), after, trash)
            return OpRecord(index, "move", dst, src, kept(replaced), after, trash)
        case WriteFile(path=path, blob=blob, replaced=replaced):
            after = Entry(path, "file", blob.size, blob.sha256)
            return OpRecord(index, "write", path, None, kept(replaced), after, where.get((index, path)))
        case CopyEntry(src=src, dst=dst, entries=entries):
            first = entries[0]
            return OpRecord(index, "copy", dst, src, None, Entry(dst, first.kind, first.size, first.sha256))
        case TrashEntry(path=path, removed=removed):
            return OpRecord(index, "delete", path, None, kept(removed[0]), None, where.get((index, path)))
        case _:
            assert_never(change)


def _trashed(change: Change, where: dict[tuple[int, str], str]) -> list[tuple[Entry, str]]:
    match change:
        case TrashEntry(path=path, removed=removed):
            spot = where[(change.index, path)]
            return [(entry, rebase(entry.path, path, spot)) for entry in removed]
        case (
            MoveEntry(dst=dst, replaced=Entry() as replaced)
            | WriteFile(path=dst, replaced=Entry() as replaced)
        ):
            return [(replaced, where[(change.index, dst)])]
        case _:
            return []


def kept(entry: Entry | None) -> Entry | None:
    """An entry as records keep it: without its mtime (informational, never compared, never written down)."""
    return entry if entry is None or entry.mtime is None else replace(entry, mtime=None)
