"""Path locks: plans on disjoint subtrees apply at once, overlapping ones wait their turn.

Two lock sets overlap when a path of one is, contains, or lies inside a path
of the other, compared by collision key (``planner.paths.fold``) so that
``a/Foo`` and ``a/foo`` serialise and the second sees the first's name.
In-process (threads); the journal's flock guards against other processes.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from planner.paths import contains, fold
from sidecar.errors import LockTimeout


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
