"""The content of a plan's writes, for the people who review it: read through the store, checked by sha256.

Where the replaced version comes from, and why: the sidecar keeps no copy of
the documents a plan overwrites. At submit the verifier read the store
(``PlanCase``'s base) and resolved each overwrite to the entry it replaces,
with that entry's sha256. At view time this module reads the bytes through
the backend (the same confined reads the apply uses), from the write's path,
from wherever the base saw the same content (an earlier op of the plan may
move it there), or from the trash where an apply put the original, and shows
them only when their sha256 is the one the verifier saw. So the page shows
the true old content, or says it is gone ("changed since the plan was
verified"), never another version; and the database does not grow with a
copy of every document a plan rewrites. Scope: the caller reached this
through ``PlanService`` (``visible``: every path of the plan is in their
scope), and only content whose hash lies at those paths is shown.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from typing import Any

from planner.core.errors import TreeError
from planner.core.ops import WriteFile
from planner.core.plan import Plan, Write
from planner.core.preview import MAX_SHOWN_BYTES, Preview, Version, preview, version_of
from planner.core.verify import simulate
from sidecar.audit.log import AuditLog
from sidecar.backends.base import BLOBS, Backend
from sidecar.errors import StoreError
from sidecar.service.codec import base_changes, base_from

MAX_PREVIEWS = 100  # writes previewed in one API answer (the page previews the ops it shows)


def previews(
    plan: Plan, base: dict[str, Any], backend: Backend, audit: AuditLog, indexes: Iterable[int]
) -> list[Preview]:
    """The previews of the write ops at ``indexes``, over the state the plan was verified against."""
    wanted = sorted({i for i in indexes if 0 <= i < len(plan.ops) and isinstance(plan.ops[i], Write)})
    wanted = wanted[:MAX_PREVIEWS]  # bounded work per request, whatever was asked
    if not wanted:
        return []
    tree = base_from(base)
    resolved = base_changes(base)
    if resolved is None:  # a case stored before its changes were kept
        resolved = simulate(plan, tree).changes
    changes = {c.index: c for c in resolved if isinstance(c, WriteFile)}
    known = list(tree.walk())
    reader = _Reader(backend, audit, {e.sha256: e.path for e in known if e.sha256 is not None})
    found = []
    for index in wanted:
        op = plan.ops[index]
        assert isinstance(op, Write)
        change = changes.get(index)
        found.append(preview(index, op.path, reader.new(op), reader.old(op, change, known)))
    return found


class _Reader:
    """Reads versions of files through the store, each checked against the sha256 expected."""

    def __init__(self, backend: Backend, audit: AuditLog, seen: dict[str, str]) -> None:
        self.backend = backend
        self.audit = audit
        self.seen = seen  # sha256 -> a path where the base saw that content

    def new(self, op: Write) -> Version:
        data = op.data()
        if data is not None:
            return version_of(data)
        assert op.content_ref is not None
        where = [f"{BLOBS}/{op.content_ref}", *self.audit.trash_locations(op.content_ref)]
        size = self.audit.blob_size(op.content_ref)
        return self._read(op.content_ref, size, where, "the referenced blob is not in the store")

    def old(self, op: Write, change: WriteFile | None, known: Sequence[Any]) -> Version | None:
        replaced = change.replaced if change is not None else None
        if replaced is None and change is None and op.overwrite:  # not resolved over the base
            replaced = next((e for e in known if e.path == op.path and e.kind == "file"), None)
        if replaced is None or replaced.sha256 is None:
            return None
        sha = replaced.sha256
        where = [op.path, *([self.seen[sha]] if sha in self.seen else []), *self.audit.trash_locations(sha)]
        gone = "the version it replaces is no longer in the store: it changed since the plan was verified"
        return self._read(sha, replaced.size, where, gone)

    def _read(self, sha256: str, size: int | None, where: Sequence[str], gone: str) -> Version:
        if size is not None and size > MAX_SHOWN_BYTES:
            return Version(sha256, size, None, f"{size:,} bytes: too large to show here")
        for path in dict.fromkeys(where):
            try:
                data = self.backend.read_file(path, MAX_SHOWN_BYTES)
            except (TreeError, StoreError):
                continue
            if hashlib.sha256(data).hexdigest() == sha256:
                return Version(sha256, len(data), data)
        return Version(sha256, size, None, gone)
