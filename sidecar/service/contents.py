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
import logging
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from planner.core.entry import Entry
from planner.core.errors import TreeError
from planner.core.ops import WriteFile
from planner.core.plan import Plan, Write
from planner.core.preview import MAX_SHOWN_BYTES, Preview, Version, preview, version_of
from planner.core.verify import simulate
from sidecar.audit.log import AuditLog
from sidecar.backends.base import BLOBS, Backend, BytesStream, FileStream
from sidecar.errors import NotInStore, StoreError, StoreFault
from sidecar.service.codec import base_changes, base_from

MAX_PREVIEWS = 100  # writes previewed in one API answer (the page previews the ops it shows)
log = logging.getLogger("pva.contents")


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
    reader = _Reader(backend, audit, {e.sha256: e.path for e in known if e.sha256 is not None}, plan.scope)
    found = []
    for index in wanted:
        op = plan.ops[index]
        assert isinstance(op, Write)
        change = changes.get(index)
        found.append(preview(index, op.path, reader.new(op), reader.old(op, change, known)))
    return found


class _Reader:
    """Reads versions of files through the store, each checked against the sha256 expected."""

    def __init__(self, backend: Backend, audit: AuditLog, seen: dict[str, str], scope: Sequence[str]) -> None:
        self.backend = backend
        self.audit = audit
        self.seen = seen  # sha256 -> a path where the base saw that content
        self.scope = scope  # the plan's: where its content may come from (Engine.blob_sizes' rule)

    def new(self, op: Write) -> Version:
        data = op.data()
        if data is not None:
            return version_of(data)
        assert op.content_ref is not None
        size = self.audit.blob_size(op.content_ref, within=self.scope)
        return self._read(op.content_ref, size, _held_at(op.content_ref, self.audit, self.scope), _NO_BLOB)

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


_NO_BLOB = "the referenced blob is not in the store"


def _held_at(content_ref: str, audit: AuditLog, scope: Sequence[str]) -> list[str]:
    """Where the sidecar may hold a blob's bytes for a plan: the blob area, then the trash of its scope."""
    return [f"{BLOBS}/{content_ref}", *audit.trash_locations(content_ref, within=scope)]


def write_content(plan: Plan, index: int, backend: Backend, audit: AuditLog) -> FileStream:
    """The whole content write op ``index`` puts in the store, to stream (the caller closes it).

    Inline content is the plan's own; a ``content_ref`` is read where the
    sidecar holds the blob (``_held_at``). Either way the bytes are checked
    against the sha256 the plan names as they stream (``Checked``).
    NotInStore (404) when the op is no write or its blob is held no longer.
    """
    if not 0 <= index < len(plan.ops):
        raise NotInStore("", f"the plan has {len(plan.ops)} op(s): there is no op {index}")
    op = plan.ops[index]
    if not isinstance(op, Write):
        raise NotInStore("", f"op {index} is a {op.op}, not a write: it puts no content in the store")
    data = op.data()
    if data is not None:
        sha256 = hashlib.sha256(data).hexdigest()
        return Checked(BytesStream(Entry(op.path, "file", len(data), sha256), data), op.path, sha256)
    assert op.content_ref is not None
    for where in _held_at(op.content_ref, audit, plan.scope):
        try:
            return Checked(backend.open_stored(where), op.path, op.content_ref)
        except (TreeError, StoreError):
            continue
    raise NotInStore(op.path, f"op {index}'s content ({op.content_ref}) is held no longer: {_NO_BLOB}")


class Checked:
    """A stream of content whose sha256 is known: its last chunk is sent only once the whole matched.

    So a stored copy altered since it was hashed is never sent whole: the
    stream stops short of its length (the client sees a cut-off answer)
    and the sidecar logs it. Its entry names ``path``, where the write puts
    the content, not where the sidecar keeps it.
    """

    def __init__(self, stream: FileStream, path: str, sha256: str) -> None:
        self._stream, self.sha256 = stream, sha256
        found = stream.entry
        self.entry = Entry(path, "file", found.size, sha256, found.generation, found.mtime)

    def chunks(self, start: int, stop: int) -> Iterator[bytes]:
        """The whole content (only ``[0, size)`` can be checked)."""
        if (start, stop) != (0, self.entry.size):
            raise ValueError("only the whole content is checked")
        digest, held = hashlib.sha256(), b""
        for chunk in self._stream.chunks(start, stop):
            digest.update(chunk)
            if held:
                yield held
            held = chunk
        if digest.hexdigest() != self.sha256:
            where = self._stream.entry.path  # where the sidecar keeps it: for the operator's log only
            log.error("INCIDENT: %s does not hold the content %s any more; not sent", where, self.sha256)
            raise StoreFault(
                self.entry.path, f"{self.entry.path!r} no longer holds the content {self.sha256}"
            )
        if held:
            yield held

    def close(self) -> None:
        self._stream.close()
