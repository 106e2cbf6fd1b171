"""The write-ahead journal of applies: the ``JournalStore`` protocol, and its files next to the store.

Why a file in the store's reserved area and not the audit database: the
journal must be durable in the same place as the changes it describes, on
the same filesystem: after a batch's renames, ``syncfs`` makes them durable,
and only then is the batch's record appended (and fsynced), so a recorded
batch is a durable batch. Recovery needs only the store to decide (ADR 0002).
The audit database records outcomes.

The records, in order, are ``sidecar.apply.journal_records`` (typed, one JSON
form each). ``JournalStore`` and ``Journal`` are what the engine and recovery
depend on; ``FileJournals`` is the file implementation.

The applying process holds an exclusive ``flock`` on its journal for the
whole apply: a journal nobody holds belongs to a crashed apply.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Protocol

from sidecar.apply.journal_records import Intent, JournalRecord, decode, encode
from sidecar.apply.locks import Fenced
from sidecar.apply.reserved import folder
from sidecar.backends.base import JOURNAL
from sidecar.errors import translated

RecordType = type[JournalRecord]


class JournalBusy(Exception):  # control flow, never leaves this package
    """Another live process holds this journal."""


class Journal(Protocol):
    """One apply's journal, held by its owner: records are only ever appended."""

    @property
    def name(self) -> str: ...

    @property
    def kinds(self) -> set[RecordType]:
        """The types of the records it holds."""
        ...

    def append(self, record: JournalRecord) -> None:
        """Append one record durably."""
        ...

    def records(self) -> list[JournalRecord]:
        """Every complete record, in order."""
        ...

    def claim(self, lease: Fenced | None) -> None:
        """Write from now on under ``lease``, the settling replica's (JournalBusy if another claimed it)."""
        ...


class JournalStore(Protocol):
    """Where applies keep their journals: one per apply, held by one process at a time.

    A journal is held by the apply that creates it until it is retired; one
    that nobody holds belongs to a crashed apply, and recovery holds it to
    settle it. Every appended record is durable before ``append`` returns.
    """

    def names(self) -> list[str]:
        """Journals not yet retired: applies in progress or interrupted."""
        ...

    def create(self, name: str, intent: Intent, lease: Fenced | None) -> AbstractContextManager[Journal]:
        """Create a journal holding ``intent``, durably, and hold it for the block.

        ``lease``: the lock it is written under; a store shared by replicas
        writes only while that lease is live (``sqljournals``).
        """
        ...

    def hold(self, name: str) -> AbstractContextManager[Journal]:
        """Hold an existing journal; JournalBusy if a live process holds it."""
        ...

    def retire(self, journal: Journal) -> None:
        """Set a finished journal aside (kept: it is part of the record)."""
        ...


class FileJournal:
    """One apply's journal file, held open and locked by its owner."""

    def __init__(self, name: str, fd: int, *, new: bool = False) -> None:
        self.name = name
        self._fd = fd
        self._kinds: set[RecordType] | None = set() if new else None  # read lazily for an old journal

    @property
    def kinds(self) -> set[RecordType]:
        """The types of the records it holds (read once for a journal opened again)."""
        if self._kinds is None:
            self._kinds = {type(record) for record in self.records()}
        return self._kinds

    def append(self, record: JournalRecord) -> None:
        """Append one record durably."""
        line = json.dumps(encode(record), sort_keys=True, separators=(",", ":")).encode() + b"\n"
        with translated(f"journal {self.name}"):
            os.write(self._fd, line)
            os.fsync(self._fd)
        self.kinds.add(type(record))

    def records(self) -> list[JournalRecord]:
        """Every complete record; a torn last line (a crash mid-write) is ignored.

        A complete line that is not a record pva writes is a RecoveryError.
        """
        with translated(f"journal {self.name}"):
            size = os.fstat(self._fd).st_size
            lines = os.pread(self._fd, size, 0).split(b"\n")
        bodies = []
        for line in lines:
            try:
                bodies.append(json.loads(line))
            except ValueError:
                break  # only the last line can be torn: appends are sequential
        return [decode(body) for body in bodies]

    def claim(self, lease: Fenced | None) -> None:
        """Nothing to do: the ``flock`` this process holds is the claim."""

    def close(self) -> None:
        os.close(self._fd)  # releases the flock


class FileJournals:
    """A ``JournalStore``: journals as files in the store's reserved area (``.pva/journal``)."""

    def __init__(self, root: Path, under: str = JOURNAL) -> None:
        self.root = root
        self.parts = tuple(under.split("/"))

    def names(self) -> list[str]:
        """Journals not yet archived: applies in progress or interrupted."""
        with folder(self.root, *self.parts) as fd, translated("the journal folder"):
            return sorted(name.removesuffix(".jsonl") for name in os.listdir(fd) if name.endswith(".jsonl"))

    @contextmanager
    def create(self, name: str, intent: Intent, lease: Fenced | None = None) -> Iterator[FileJournal]:  # noqa: ARG002  # the flock is the hold
        """Create a journal holding ``intent``, durably, and hold it for the block.

        The journal is written and locked under a temporary name, then renamed
        into place: another process's recovery (which settles every journal it
        can lock) must never see a journal between its creation and its lock,
        or without its intent.
        """
        temporary = f".{name}.tmp"
        with folder(self.root, *self.parts) as where, translated(f"journal {name}"):
            fd = os.open(temporary, _CREATE, 0o600, dir_fd=where)
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # a new file: nobody else can hold it
        journal = FileJournal(name, fd, new=True)
        try:
            journal.append(intent)
            with folder(self.root, *self.parts) as where, translated(f"journal {name}"):
                os.link(temporary, f"{name}.jsonl", src_dir_fd=where, dst_dir_fd=where)  # never replaces
                os.unlink(temporary, dir_fd=where)
                os.fsync(where)
            yield journal
        finally:
            journal.close()

    @contextmanager
    def hold(self, name: str) -> Iterator[FileJournal]:
        """Hold an existing journal; JournalBusy if a live process holds it."""
        with folder(self.root, *self.parts) as where, translated(f"journal {name}"):
            fd = os.open(f"{name}.jsonl", _OPEN, dir_fd=where)
        journal = FileJournal(name, fd)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise JournalBusy(name) from None
            yield journal
        finally:
            journal.close()

    def retire(self, journal: Journal) -> None:
        """Move a finished journal to ``done/`` (kept: it is part of the record)."""
        name = f"{journal.name}.jsonl"
        with (
            folder(self.root, *self.parts) as here,
            folder(self.root, *self.parts, "done") as done,
            translated(f"journal {journal.name}"),
        ):
            os.rename(name, name, src_dir_fd=here, dst_dir_fd=done)
            os.fsync(here)
            os.fsync(done)


_CREATE = os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_APPEND | os.O_NOFOLLOW | os.O_CLOEXEC
_OPEN = os.O_RDWR | os.O_APPEND | os.O_NOFOLLOW | os.O_CLOEXEC
