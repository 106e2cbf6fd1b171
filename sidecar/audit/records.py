"""What the apply engine tells the audit log: plain, immutable records.

The engine builds these; ``SqlAuditStore`` stores them (one hash-chained event
each, plus indexed rows for queries). Nothing here does I/O.
"""

from __future__ import annotations

import json
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

    def settles(self, claimed: datetime) -> bool:
        """True when this is the outcome of the claim made at ``claimed``: it finished since then."""
        return self.finished >= claimed


@dataclass(frozen=True)
class Incident:
    """Something an operator must look at: the store differs from the prediction, and so on."""

    digest: str
    message: str
    paths: tuple[str, ...] = field(default_factory=tuple)


def inside(path: str, within: Sequence[str] | None) -> bool:
    """True when ``within`` is None (no limit) or ``path`` lies in one of its subtrees."""
    return within is None or any(contains(root, path) for root in within)


# -- the one JSON form of each (the journal's intent, the CLI's outcome, snapshots) --


def entry_json(entry: Entry | None) -> dict[str, Any] | None:
    """An entry's JSON form: path, kind, and whichever of size, sha256, generation are known (no mtime)."""
    if entry is None:
        return None
    known = (("size", entry.size), ("sha256", entry.sha256), ("generation", entry.generation))
    return {"path": entry.path, "kind": entry.kind} | {
        key: value for key, value in known if value is not None
    }  # built by hand: dataclasses.asdict deep-copies (a sixth of a large apply's time)


def entry_from(body: dict[str, Any] | None) -> Entry | None:
    """The entry ``entry_json`` wrote."""
    if body is None:
        return None
    return Entry(body["path"], body["kind"], body.get("size"), body.get("sha256"), body.get("generation"))


def ops_json(ops: Sequence[OpRecord]) -> list[dict[str, Any]]:
    """Each op's JSON form (every field, null when absent)."""
    return [
        {
            "index": op.index,
            "kind": op.kind,
            "path": op.path,
            "src": op.src,
            "before": entry_json(op.before),
            "after": entry_json(op.after),
            "trash": op.trash,
        }
        for op in ops
    ]


def ops_from(bodies: Sequence[dict[str, Any]]) -> list[OpRecord]:
    """The ops ``ops_json`` wrote."""
    return [
        OpRecord(
            body["index"],
            body["kind"],
            body["path"],
            body.get("src"),
            entry_from(body.get("before")),
            entry_from(body.get("after")),
            body.get("trash"),
        )
        for body in bodies
    ]


def trashed_json(files: Sequence[TrashedFile]) -> list[dict[str, Any]]:
    """Each trashed file's JSON form."""
    return [{"path": f.path, "trash": f.trash, "sha256": f.sha256, "size": f.size} for f in files]


def trashed_from(bodies: Sequence[dict[str, Any]]) -> list[TrashedFile]:
    """The trashed files ``trashed_json`` wrote."""
    return [TrashedFile(body["path"], body["trash"], body.get("sha256"), body.get("size")) for body in bodies]


def covers(scopes: str, within: Sequence[str] | None) -> bool:
    """True when the scopes (a JSON list, ``["*"]`` for the whole store) hold every root of ``within``.

    ``within`` None: no plan scope to hold (the whole store), so only whole-store scopes cover it.
    """
    try:
        roots = json.loads(scopes)
    except ValueError:
        return False
    if not isinstance(roots, list):
        return False
    if "*" in roots:
        return True
    return within is not None and all(any(inside(path, [root]) for root in roots) for path in within)
