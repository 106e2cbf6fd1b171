"""The write-ahead journal of applies: one JSON-lines file per apply, next to the store.

Why a file in the store's reserved area and not the audit database: the
journal must be durable in the same place, and by the same barrier, as the
changes it describes. ``syncfs`` on the store makes the renames of a batch
and the journal's record of them durable together, and recovery needs only
the store to decide (ADR 0002). The audit database records outcomes.

Records, in order (each appended and fsynced before the next step)::

    {"type": "intent", ...}        the steps and batches; written before the first change
    {"type": "staged"}             new content is staged; steps may run from here on
    {"type": "batch", "n": k}      batch k is durable
    {"type": "commit"}             the commit point: the plan is applied
    {"type": "rollback"}           recovery or a failure is undoing the apply
    {"type": "undone", "n": k}     batch k is undone
    {"type": "rolled_back"}        nothing of the plan remains
    {"type": "audited"}            the outcome is in the audit database
    {"type": "done"}               staging cleaned up; the journal is archived next

The applying process holds an exclusive ``flock`` on its journal for the
whole apply: a journal nobody holds belongs to a crashed apply.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sidecar.errors import StoreFault

Record = dict[str, Any]


class JournalBusy(Exception):  # control flow, never leaves this package
    """Another live process holds this journal."""


class Journal:
    """One apply's journal, held open and locked by its owner."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd = fd

    @property
    def name(self) -> str:
        return self.path.stem

    def append(self, record: Record) -> None:
        """Append one record durably."""
        line = json.dumps(record, sort_keys=True, separators=(",", ":")).encode() + b"\n"
        try:
            os.write(self._fd, line)
            os.fsync(self._fd)
        except OSError as error:
            raise StoreFault(
                str(self.path), f"cannot write the journal: {error.strerror}", errno=error.errno
            ) from None

    def records(self) -> list[Record]:
        """Every complete record; a torn last line (a crash mid-write) is ignored."""
        with open(self.path, "rb") as handle:
            lines = handle.read().split(b"\n")
        records = []
        for line in lines:
            try:
                records.append(json.loads(line))
            except ValueError:
                break  # only the last line can be torn: appends are sequential
        return records

    def close(self) -> None:
        os.close(self._fd)  # releases the flock


class FileJournals:
    """Journals as files in a folder (``<store>/.pva/journal`` for the local backend)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.archive = folder / "done"

    def _ready(self) -> None:
        for folder in (self.folder, self.archive):
            folder.mkdir(parents=True, exist_ok=True)
            if folder.is_symlink() or not folder.is_dir():
                raise StoreFault(str(folder), f"{folder} must be a real folder")

    def names(self) -> list[str]:
        """Journals not yet archived: applies in progress or interrupted."""
        self._ready()
        return sorted(p.stem for p in self.folder.glob("*.jsonl"))

    @contextmanager
    def create(self, name: str, intent: Record) -> Iterator[Journal]:
        """Create a journal holding ``intent``, durably, and hold it for the block."""
        self._ready()
        path = self.folder / f"{name}.jsonl"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND | os.O_NOFOLLOW, 0o600)
        journal = Journal(path, fd)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            journal.append(intent)
            _fsync_dir(self.folder)
            yield journal
        finally:
            journal.close()

    @contextmanager
    def hold(self, name: str) -> Iterator[Journal]:
        """Hold an existing journal; JournalBusy if a live process holds it."""
        path = self.folder / f"{name}.jsonl"
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_NOFOLLOW)
        journal = Journal(path, fd)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise JournalBusy(name) from None
            yield journal
        finally:
            journal.close()

    def retire(self, journal: Journal, stamp: str) -> None:
        """Move a finished journal to the archive (kept: it is part of the record)."""
        target = self.archive / f"{journal.name}.{stamp}.jsonl"
        os.rename(journal.path, target)
        _fsync_dir(self.folder)
        _fsync_dir(self.archive)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
