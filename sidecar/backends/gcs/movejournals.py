"""The GCS mover's journals on local disk: one JSON-lines file per folder move, ``flock``-ed while live.

``FileMoveJournals`` keeps them in a folder of the VM's state directory
(``PVA_STATE_DIR``); only that VM can settle them. Replicas sharing a
PostgreSQL database keep them in the database instead
(``sidecar.apply.sqljournals.SqlMoveJournals``), through the same protocol
(``MoveJournals``).

A journal is written and locked under a temporary name that ``dead`` does
not read, then renamed into place: a settle in another thread or process
must never find it unlocked or without its intent, or it would take it for
a dead move's and remove it. A settle checks, once it holds a journal's
lock, that the journal is still there (another settle may have finished and
removed it between its open and its lock).
"""

from __future__ import annotations

import fcntl
import json
import os
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any, Protocol

from sidecar.errors import translated as os_translated

Hook = Callable[[str], None]
Record = dict[str, Any]
ABANDONED_AFTER = 3600  # seconds: an unnamed journal this old was left by a maker that died


def no_hook(_label: str) -> None:
    """Crash points: the crash test passes a hook that kills the process at one of them."""


class MoveJournal(Protocol):
    """One folder move's journal: its intent first, then what happened."""

    def append(self, record: Mapping[str, object]) -> None: ...
    def records(self) -> list[Record]: ...


class MoveJournals(Protocol):
    """Where a mover keeps its journals."""

    def started(self, intent: Mapping[str, object]) -> AbstractContextManager[MoveJournal]:
        """A new journal holding ``intent``, held (live) for the block."""
        ...

    def finished(self, journal: MoveJournal) -> None:
        """The move is whole in one place: nothing left to settle."""
        ...

    def dead(self) -> Iterator[MoveJournal]:
        """Each journal of a move whose mover died, held while the caller settles it.

        A journal is removed once the caller asks for the next one (its loop
        body finished); if the body raises, it stays for a later settle.
        """
        ...


class FileMoveJournal:
    """A journal file, open and locked by its holder."""

    def __init__(self, fd: int, path: Path) -> None:
        self.fd = fd
        self.path = path

    def append(self, record: Mapping[str, object]) -> None:
        with os_translated("a GCS move journal"):
            os.write(self.fd, json.dumps(record, separators=(",", ":")).encode() + b"\n")
            os.fsync(self.fd)

    def records(self) -> list[Record]:
        size = os.fstat(self.fd).st_size
        records = []
        for line in os.pread(self.fd, size, 0).split(b"\n"):
            try:
                records.append(json.loads(line))
            except ValueError:
                break  # a torn last line
        return records


class FileMoveJournals:
    """Move journals as files in ``folder``, for one VM."""

    def __init__(self, folder: Path, *, hook: Hook = no_hook) -> None:
        self.folder = folder
        self.hook = hook

    @contextmanager
    def started(self, intent: Mapping[str, object]) -> Iterator[FileMoveJournal]:
        self.folder.mkdir(parents=True, exist_ok=True)
        name = uuid.uuid4().hex
        temporary, path = self.folder / f".{name}.tmp", self.folder / f"{name}.jsonl"
        with os_translated(str(temporary)):
            fd = os.open(
                temporary,
                os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_APPEND | os.O_NOFOLLOW | os.O_CLOEXEC,
                0o600,
            )
            fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            self.hook("journal created")
            journal = FileMoveJournal(fd, path)
            journal.append(intent)
            with os_translated(str(self.folder)):
                temporary.rename(path)  # a uuid: nothing is there to replace
                _sync_folder(self.folder)
            yield journal
        finally:
            os.close(fd)

    def finished(self, journal: MoveJournal) -> None:
        assert isinstance(journal, FileMoveJournal)
        with os_translated(str(journal.path)):
            journal.path.unlink()

    def dead(self) -> Iterator[FileMoveJournal]:
        if not self.folder.is_dir():
            return
        for left in self.folder.glob(".*.tmp"):  # a journal whose maker died before naming it: nothing moved
            _remove_abandoned(left)
        for path in sorted(self.folder.glob("*.jsonl")):
            try:
                fd = os.open(path, os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC)
            except FileNotFoundError:
                continue  # settled meanwhile by another thread or process
            try:
                self.hook("settle opened")
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue  # a live move
                if not _still_named(fd, path):
                    continue  # another settle finished it and removed it between our open and our lock
                journal = FileMoveJournal(fd, path)
                yield journal
                self.finished(journal)
            finally:
                os.close(fd)


def _sync_folder(folder: Path) -> None:
    dirfd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dirfd)
    finally:
        os.close(dirfd)


def _remove_abandoned(path: Path) -> None:
    """Remove an unnamed journal left long ago (never a new one: its maker may not have locked it yet)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        return
    try:
        if time.time() - os.fstat(fd).st_mtime < ABANDONED_AFTER:
            return
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        if _still_named(fd, path):
            path.unlink()
    except BlockingIOError:
        pass  # held: its maker is alive after all
    finally:
        os.close(fd)


def _still_named(fd: int, path: Path) -> bool:
    """True when ``path`` still names the file open at ``fd`` (it was not removed or replaced)."""
    try:
        named = path.stat()
    except FileNotFoundError:
        return False
    mine = os.fstat(fd)
    return (named.st_dev, named.st_ino) == (mine.st_dev, mine.st_ino)
