"""Path locks: plans on disjoint subtrees apply at once, overlapping ones wait their turn.

Two lock sets overlap when a path of one is, contains, or lies inside a path
of the other, compared by collision key (``planner.core.paths.fold``) so that
``a/Foo`` and ``a/foo`` serialise and the second sees the first's name.
``PathLocks`` serves threads of one process (tests, in-memory stores);
``FileLocks`` serves every process applying to one local store.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Protocol

from planner.core.paths import contains, fold
from sidecar.apply.reserved import folder
from sidecar.backends.base import RESERVED
from sidecar.errors import LockTimeout, translated


class Fenced(Protocol):
    """A held lock set with a fencing token (``leases.Lease``): what the shared journals write under."""

    @property
    def fence(self) -> int: ...

    def check(self) -> None:
        """LeaseLost unless the lease is still held (asked of the database)."""
        ...


class Locks(Protocol):
    """What the engine needs of a lock manager: a hold on paths, fenced when the locks are shared leases."""

    def hold(self, paths: Iterable[str], *, timeout: float) -> AbstractContextManager[Fenced | None]: ...


def overlaps(mine: frozenset[str], theirs: frozenset[str]) -> bool:
    """True when some path of one set is, contains, or lies inside a path of the other."""
    return any(contains(a, b) or contains(b, a) for a in mine for b in theirs)


class PathLocks:
    """Hierarchical locks on folded store paths, with a timeout."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._held: list[frozenset[str]] = []

    @contextmanager
    def hold(self, paths: Iterable[str], *, timeout: float) -> Iterator[None]:
        """Hold the paths for the block; raise LockTimeout after ``timeout`` seconds of waiting."""
        mine = frozenset(fold(path) for path in paths)
        deadline = time.monotonic() + timeout
        with self._changed:
            while any(overlaps(mine, theirs) for theirs in self._held):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise LockTimeout(f"paths still locked by another apply after {timeout:g} s")
                self._changed.wait(left)
            self._held.append(mine)
        try:
            yield
        finally:
            with self._changed:
                self._held.remove(mine)
                self._changed.notify_all()


class FileLocks:
    """Path locks shared by every process applying to one store (and its threads).

    The lock table is the folder ``.pva/locks``: one file per held lock set,
    holding its folded paths, ``flock``-ed by its holder while held. A file
    nobody holds belongs to a process that died and is removed. Checking the
    table and adding to it happen under an exclusive ``flock`` of
    ``.pva/locks/guard``, so they are one step for every process.
    """

    def __init__(self, root: Path, *, poll: float = 0.01) -> None:
        self.root = root
        self.poll = poll

    @contextmanager
    def hold(self, paths: Iterable[str], *, timeout: float) -> Iterator[None]:
        """Hold the paths for the block; raise LockTimeout after ``timeout`` seconds of waiting."""
        mine = frozenset(fold(path) for path in paths)
        deadline = time.monotonic() + timeout
        while (held := self._try(mine)) is None:
            if time.monotonic() >= deadline:
                raise LockTimeout(f"paths still locked by another apply after {timeout:g} s")
            time.sleep(self.poll)
        name, fd = held
        try:
            yield
        finally:
            with folder(self.root, RESERVED, "locks") as where, translated("the lock table"):
                os.unlink(name, dir_fd=where)
            os.close(fd)  # releases the flock

    def _try(self, mine: frozenset[str]) -> tuple[str, int] | None:
        with folder(self.root, RESERVED, "locks") as where, translated("the lock table"):
            guard = os.open(
                "guard", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600, dir_fd=where
            )
            try:
                fcntl.flock(guard, fcntl.LOCK_EX)
                if any(overlaps(mine, theirs) for theirs in self._live(where)):
                    return None
                name = f"{uuid.uuid4().hex}.lock"
                fd = os.open(
                    name,
                    os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                    0o600,
                    dir_fd=where,
                )
                fcntl.flock(fd, fcntl.LOCK_EX)
                os.write(fd, json.dumps(sorted(mine)).encode())
                return name, fd
            finally:
                os.close(guard)

    @staticmethod
    def _live(where: int) -> Iterator[frozenset[str]]:
        """The lock sets of live holders; files of dead holders are removed on the way."""
        for name in os.listdir(where):
            if not name.endswith(".lock"):
                continue
            try:
                fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=where)
            except FileNotFoundError:
                continue
            try:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:  # its holder is alive
                    yield frozenset(json.loads(os.pread(fd, os.fstat(fd).st_size, 0)))
                    continue
                # Unheld: its holder died, or released it (a holder unlinks its file, then closes
                # it, outside the guard) since we opened it; in the second case it is gone already.
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(name, dir_fd=where)
            finally:
                os.close(fd)
