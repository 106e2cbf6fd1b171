"""How a backend says how many objects a step moves, to whoever counts an apply's progress.

One step of an apply is one object on a folder store (a rename moves a
folder in one call) but many on a flat bucket (a folder's every object).
The engine sets an ``Objects`` counter for the step it runs (``counting``);
a backend that moves many objects for one step says how many it found
(``found``) and reports each one done (``done``), from any thread of its
pool. A backend that says nothing counts as one object per step.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Protocol


class Objects(Protocol):
    """Counts the objects of the step in hand; safe to call from several threads."""

    def found(self, count: int) -> None:
        """The step moves ``count`` objects (said once, before the first is done)."""
        ...

    def done(self, count: int = 1) -> None:
        """``count`` more of them are done."""
        ...


_current: ContextVar[Objects | None] = ContextVar("pva_objects", default=None)


@contextmanager
def counting(objects: Objects) -> Iterator[None]:
    """Report this thread's steps' objects to ``objects`` while inside."""
    token = _current.set(objects)
    try:
        yield
    finally:
        _current.reset(token)


def counter() -> Objects | None:
    """The counter of the step this thread runs, if anyone counts (capture it before going to a pool)."""
    return _current.get()
