"""Moves and copies of many objects: journaled on local disk, in bounded parallel, resumable after a crash.

A folder on a flat bucket is many objects, so moving it is many calls. The
mover writes the whole list of (source, destination) pairs to a journal file
on local disk (fsynced, ``flock``-ed by the mover while it runs, and named
only once both hold) before the first call, runs the pairs on a bounded thread pool (each call retried with
backoff on 429 and 503 by the client's retry policy), then the folder's own
placeholder last, so that the destination folder appears only once it is
complete. The journal is removed when the move is done.

A journal nobody holds belongs to a crashed process: ``settle`` rolls it
forward, pair by pair, reading each pair's state from the bucket (source
there: move it; destination there: done; both, after a copy whose delete did
not run: delete the source), and rolls it back instead if a destination was
taken by someone else meanwhile. Either way the folder is whole in one
place afterwards, which is what the engine's recovery reads.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from planner.core.errors import AlreadyExists, PvaError
from sidecar.backends.gcs.objects import Obj, Objects
from sidecar.errors import StoreFault
from sidecar.errors import translated as os_translated


@dataclass(frozen=True, slots=True)
class Pair:
    """Move (or copy) the object ``src`` at generation ``generation`` to the new name ``dst``."""

    src: str
    dst: str
    generation: int
    size: int = 0
    crc32c: str = ""

    @classmethod
    def of(cls, obj: Obj, dst: str) -> Pair:
        return cls(obj.name, dst, obj.generation, obj.size, obj.crc32c)

    def source(self) -> Obj:
        return Obj(self.src, self.generation, self.size, self.crc32c, None, None, None)

    def to_json(self) -> list[object]:
        return [self.src, self.dst, self.generation, self.size, self.crc32c]


Hook = Callable[[str], None]
ABANDONED_AFTER = 3600  # seconds: an unnamed journal this old was left by a maker that died


def _no_hook(_label: str) -> None:
    """Crash points: the crash test passes a hook that kills the process at one of them."""


class Mover:
    """Many object moves as one resumable operation; copies as one all-or-nothing operation."""

    def __init__(self, objects: Objects, folder: Path, *, workers: int = 32, hook: Hook = _no_hook) -> None:
        self.objects = objects
        self.folder = folder
        self.workers = workers
        self.hook = hook
        self._pool: ThreadPoolExecutor | None = None

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None

    def map(self, action: Callable[[Pair], object], pairs: Sequence[Pair]) -> None:
        """Run ``action`` on every pair in bounded parallel; re-raise the first failure after all finished."""
        if len(pairs) <= 1:
            for pair in pairs:
                action(pair)
            return
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="pva-gcs")
        futures = [self._pool.submit(action, pair) for pair in pairs]
        errors = [error for future in futures if (error := future.exception()) is not None]
        if errors:
            raise errors[0]

    # -- moving ------------------------------------------------------------

    def move(self, pairs: Sequence[Pair], last: Pair | None) -> None:
        """Move every pair, then ``last``; on a failure, move back what moved and raise it."""
        with self._journal(pairs, last) as (journal, path):
            self.hook("move journaled")
            try:
                self.map(self._move_known, pairs)
                self.hook("moved")
                if last is not None:
                    self._move_known(last)
            except PvaError:
                _append(journal, {"type": "reverse"})
                self._reverse(pairs, last)
                path.unlink()
                raise
            path.unlink()  # done: nothing left to settle

    def _move_known(self, pair: Pair) -> None:
        self.objects.move(pair.source(), pair.dst)
        self.hook("object moved")

    def _reverse(self, pairs: Sequence[Pair], last: Pair | None) -> None:
        back = [Pair(pair.dst, pair.src, 0) for pair in ([last] if last else []) + list(pairs)]
        self.map(self._advance, back)

    def _advance(self, pair: Pair) -> None:
        """Bring one pair to "moved", whatever state a crash left it in (the bucket says which)."""
        src, dst = self.objects.get(pair.src), self.objects.get(pair.dst)
        if src is None:
            if dst is None:
                raise StoreFault(pair.src, f"{pair.src!r} is in neither place; an operator must look")
            return
        if pair.generation and src.generation != pair.generation and dst is None:
            raise StoreFault(pair.src, f"{pair.src!r} changed since the move began")
        if dst is not None:
            if not dst.same_bytes(src):
                raise AlreadyExists(pair.dst, f"{pair.dst!r} was created by someone else during the move")
            self.objects.delete(src)  # a copy whose delete did not run
            return
        self.objects.move(src, pair.dst)

    # -- settling after a crash ---------------------------------------------

    def settle(self) -> int:
        """Finish (or undo) every move a dead process left; return how many it settled."""
        if not self.folder.is_dir():
            return 0
        for left in self.folder.glob(".*.tmp"):  # a journal whose maker died before naming it: nothing moved
            _remove_abandoned(left)
        settled = 0
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
                self._settle_one(fd)
                with os_translated(str(path)):
                    path.unlink()
                settled += 1
            finally:
                os.close(fd)
        return settled

    def _settle_one(self, fd: int) -> None:
        records = _records(fd)
        if not records:
            return  # died before its intent was written: nothing moved
        intent = records[0]
        pairs = [Pair(*body) for body in intent["pairs"]]  # type: ignore[attr-defined]
        last = Pair(*intent["last"]) if intent["last"] else None  # type: ignore[misc]
        if any(record["type"] == "reverse" for record in records):
            self._reverse(pairs, last)
            return
        try:
            self.map(self._advance, pairs)
            if last is not None:
                self._advance(last)
        except AlreadyExists:
            _append(fd, {"type": "reverse"})
            self._reverse(pairs, last)

    @contextmanager
    def _journal(self, pairs: Sequence[Pair], last: Pair | None) -> Iterator[tuple[int, Path]]:
        """A new journal holding the intent, locked, under its name only once both are true.

        It is written and locked under a temporary name that ``settle`` does not
        read, then renamed into place: a settle in another thread or process
        must never find it unlocked or without its intent, or it would take
        it for a dead move's and remove it.
        """
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
            intent = {
                "type": "intent",
                "pairs": [pair.to_json() for pair in pairs],
                "last": last.to_json() if last else None,
            }
            _append(fd, intent)
            with os_translated(str(self.folder)):
                temporary.rename(path)  # a uuid: nothing is there to replace
                dirfd = os.open(self.folder, os.O_RDONLY | os.O_DIRECTORY)
                try:
                    os.fsync(dirfd)
                finally:
                    os.close(dirfd)
            yield fd, path
        finally:
            os.close(fd)


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


def _append(fd: int, record: Mapping[str, object]) -> None:
    with os_translated("a GCS move journal"):
        os.write(fd, json.dumps(record, separators=(",", ":")).encode() + b"\n")
        os.fsync(fd)


def _records(fd: int) -> list[dict[str, object]]:
    size = os.fstat(fd).st_size
    records = []
    for line in os.pread(fd, size, 0).split(b"\n"):
        try:
            records.append(json.loads(line))
        except ValueError:
            break  # a torn last line
    return records
