"""The backend protocol: what the apply engine needs of a store.

Reads, and three atomic primitives, ``mkdir``, ``rename`` (never replacing)
and ``stage_copy``, from which the engine builds every op: a write is content
staged in the reserved area then renamed into place; a copy is copied into
the staging area then renamed into place; a delete is a rename into the
trash; an overwrite is the old file renamed to the trash, then the new one
into place. Each primitive is atomic, its effect is visible (so recovery can
tell whether it happened) and it has an exact undo (``rmdir``, the reverse
rename, ``discard``).

Paths are store-relative. Store paths follow the plan rules; reserved paths
(``.pva/...``) are for the engine only. No method follows a symlink, replaces
an existing entry or destroys data, except ``discard`` inside ``.pva/staging``.
Errors: the ``planner.core.errors`` tree errors and ``sidecar.errors.StoreError``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Protocol, runtime_checkable

from planner.core.entry import Entry
from planner.core.footprint import Read
from planner.core.tree import Tree

RESERVED = ".pva"
STAGING = f"{RESERVED}/staging"
TRASH = f"{RESERVED}/trash"
BLOBS = f"{RESERVED}/blobs"
JOURNAL = f"{RESERVED}/journal"
CHUNK = 1024 * 1024  # bytes per chunk when streaming a file to a reader


def listing_key(path: str) -> list[str]:
    """Where a path comes in a listing: parents first, by name (the order of its segments)."""
    return path.split("/")


def listed_after(entries: Iterable[Entry], after: str | None) -> Iterator[Entry]:
    """The entries past the path ``after`` in the listing's order (all of them when it is None)."""
    if after is None:
        yield from entries
        return
    cursor = listing_key(after)
    for entry in entries:
        if listing_key(entry.path) > cursor:
            yield entry


def cursor_below(path: str, after: str | None) -> tuple[str, ...] | None:
    """``after`` as segments below the folder ``path``, for a listing that skips to it.

    (): every entry below ``path`` comes past ``after`` (None given, or ``after``
    lies before them all); None: none does (``after`` lies past them all).
    """
    if after is None:
        return ()
    folder, cursor = listing_key(path) if path else [], listing_key(after)
    shared = cursor[: len(folder)]
    if shared == folder:
        return tuple(cursor[len(folder) :])
    return () if shared < folder else None


class FileStream(Protocol):
    """One file opened for reading: what it is, and its bytes in chunks, in constant memory.

    ``entry`` carries the size and what names this version of the content:
    its sha256 (a folder on disk, memory) or its generation (a bucket), for
    an ETag. The bytes streamed are those of that version (an open
    descriptor; a generation-pinned download). ``close`` is idempotent.
    """

    @property
    def entry(self) -> Entry: ...

    def chunks(self, start: int, stop: int) -> Iterator[bytes]:
        """The bytes in ``[start, stop)``, in chunks of at most ``CHUNK``."""
        ...

    def close(self) -> None: ...


class BytesStream:
    """Bytes held in memory as a ``FileStream`` (the memory backend's files, a write's inline content)."""

    def __init__(self, entry: Entry, data: bytes) -> None:
        self.entry, self._data = entry, data

    def chunks(self, start: int, stop: int | None) -> Iterator[bytes]:
        end = len(self._data) if stop is None else min(stop, len(self._data))
        for offset in range(start, end, CHUNK):
            yield self._data[offset : min(end, offset + CHUNK)]

    def close(self) -> None:
        """Nothing is held open."""


class Backend(Protocol):
    """A store the apply engine changes crash-safely."""

    @property
    def name(self) -> str:
        """Where the store is, for messages and the audit (``local:/srv/projects``)."""
        ...

    # -- reading (planner.core.ops.StoreView); files come with sha256 ----------

    def stat(self, path: str) -> Entry | None: ...

    def collision(self, path: str, *, besides: str | None = None) -> str | None: ...

    def walk(self, path: str) -> Iterable[Entry]: ...

    def deepest(self, path: str) -> int: ...

    def read_tree(self, reads: Sequence[Read]) -> Tree:
        """A tree holding what the reads need (see ``planner.core.footprint``), nothing more."""
        ...

    def entries(
        self, path: str, *, depth: int | None = None, hashed: bool = False, after: str | None = None
    ) -> Iterator[Entry]:
        """What lies below the folder ``path`` (not itself), parents first, by name, ``depth`` levels deep.

        ``depth`` None: everything below. Files carry their sha256 when the
        store already knows it, or when ``hashed`` asks for it (reading every
        byte); nothing below the reserved area. NotFound when ``path`` is no
        folder. ``after``: only the entries past this path in that order
        (``listed_after``: a page's cursor), whether or not it exists.
        """
        ...

    def open_read(self, path: str) -> FileStream:
        """The store file at ``path`` opened for streaming (NotFound when no file is there); never a link."""
        ...

    def open_stored(self, path: str) -> FileStream:
        """A file of the reserved area (an uploaded blob, a trash copy) opened for streaming.

        Not hashed: the caller checks the bytes against the sha256 it
        expects as they stream. NotFound when no file is there; Refused for
        a path outside the reserved area.
        """
        ...

    def read_file(self, path: str, limit: int) -> bytes:
        """At most ``limit`` + 1 bytes of the file at ``path`` (a store path, or in the trash or blobs).

        For showing content to the people who review a plan: the caller checks
        the bytes' sha256 against what it expects. NotFound when no file is there.
        """
        ...

    # -- the primitives and their undo (stage_copy is below) --------------

    def mkdir(self, path: str) -> None:
        """Create one folder; its parent must exist and it must not."""
        ...

    def rmdir(self, path: str) -> None:
        """Remove an empty folder (the undo of mkdir)."""
        ...

    def rename(self, src: str, dst: str) -> None:
        """Atomically move ``src`` to ``dst``; raise AlreadyExists rather than replace."""
        ...

    def exists(self, path: str) -> bool: ...

    # -- staging (reserved area only) --------------------------------------

    def ensure_dir(self, path: str) -> None:
        """Create a reserved folder and its missing parents (durably); fine if it exists."""
        ...

    def stage_bytes(self, path: str, data: bytes, *, durable: bool = True) -> None:
        """Create the reserved file ``path`` holding ``data``, whole or not at all.

        Durable before returning, unless ``durable`` is False: then only after
        the next ``sync()`` (the engine stages many files, then syncs once).
        """
        ...

    def stage_stream(self, path: str, chunks: Iterable[bytes]) -> None:
        """Create the reserved file ``path`` from ``chunks``, durably, whole or not at all.

        Constant memory: for uploads larger than a request body may be held.
        An exception raised by ``chunks`` leaves nothing behind and propagates.
        """
        ...

    def stage_copy(self, path: str, src: str) -> None:
        """Copy the file or folder ``src`` to the new reserved path ``path``, durably.

        Atomic: ``path`` appears whole or not at all (copy to a temporary
        name in the staging area, then rename), because the engine reads a
        copy step's fate from whether ``path`` exists.
        """
        ...

    def discard(self, path: str) -> None:
        """Remove a file or folder below ``.pva/staging`` (refuses anything else)."""
        ...

    def staged_sha256(self, path: str) -> str | None:
        """The sha256 of the reserved file ``path``, read from the store (None if no file is there).

        The engine checks a staged copy of stored content with it before the
        copy gets a name: the trash is on disk, and disks can be edited.
        """
        ...

    def sync(self) -> None:
        """A durability barrier: everything done so far survives a power loss."""
        ...


@runtime_checkable
class BucketHolds(Protocol):
    """A store that enforces legal holds itself (GCS temporary holds).

    Then even the store's owner cannot delete or replace a held object, whatever tool asks.
    """

    def set_holds(self, path: str, *, held: bool) -> int:
        """Set (or clear) the hold of every object at or below ``path``; return how many.

        Idempotent: running it again after a crash finishes the job.
        """
        ...
