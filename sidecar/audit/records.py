"""What the apply engine tells the audit log: plain, immutable records.

The engine builds these; ``SqlAuditStore`` stores them (one hash-chained event
each, plus indexed rows for queries). Nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from planner.core.entry import Entry
from planner.core.paths import contains
from planner.core.report import Diagnostic

ApplyStatus = Literal["applied", "failed", "stale"]


@dataclass(frozen=True)
class OpRecord:
    """One op as applied: where things were, where they are, and what was replaced.

    ``path`` is the op's resulting path (the destination of a move, rename or
    copy; the folder made; the file written; the path deleted). ``src`` is
    the source of a move, rename or copy. ``before`` is what stood at
    ``path`` before (a replaced file, or what was deleted); ``after`` what
    stands there after (None for a delete). ``trash`` is where ``before``
    went when the op replaced or deleted it.
    """

    index: int
    kind: Literal["mkdir", "move", "rename", "write", "copy", "delete"]
    path: str
    src: str | None = None
    before: Entry | None = None
    after: Entry | None = None
    trash: str | None = None


@dataclass(frozen=True)
class TrashedFile:
    """A file an apply moved to the trash (itself, or inside a trashed folder)."""

    path: str  # where it was in the store
    trash: str  # where it is now, a reserved path
    sha256: str | None
    size: int | None


@dataclass(frozen=True)
class ApplyRecord:
    """The terminal outcome of one apply of one plan.

    ``applied``: every op took effect. ``stale``: a precondition no longer
    held, nothing changed. ``failed``: anything else, nothing changed (the
    apply was rolled back).
    """

    digest: str
    status: ApplyStatus
    actor: str  # who applied it
    started: datetime
    finished: datetime
    ops: tuple[OpRecord, ...] = ()
    trashed: tuple[TrashedFile, ...] = ()
    diagnostics: tuple[Diagnostic, ...] = ()
    message: str = ""
    store: str = ""  # Backend.name
    recovered: bool = False  # the outcome was settled by crash recovery
    attempt: str = ""  # unique per apply attempt: recording the same attempt twice records it once
    # The plan document that undoes this apply, verified against the state it
    # was applied to (applied outcomes only; None when there is nothing to undo).
    inverse: dict[str, Any] | None = None
    # Incidents recorded during this apply, for the person applying (each is an
    # 'incident' event of its own; not part of the 'apply' event).
    incidents: tuple[str, ...] = ()


@dataclass(frozen=True)
class Incident:
    """Something an operator must look at: the store differs from the prediction, and so on."""

    digest: str
    message: str
    paths: tuple[str, ...] = field(default_factory=tuple)


def inside(path: str, within: Sequence[str] | None) -> bool:
    """True when ``within`` is None (no limit) or ``path`` lies in one of its subtrees."""
    return within is None or any(contains(root, path) for root in within)
