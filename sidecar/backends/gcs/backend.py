"""``GcsBackend``: the backend protocol on a prefix of a Cloud Storage bucket.

Folders follow ``folders.Folders`` (placeholder objects; explicit or implicit
like the gcsfuse mount). Every primitive is made of conditional object calls
(``objects.Objects``): creates with ``if_generation_match=0``, moves and
deletes of the generation pva read. A file rename is one ``objects.move``; a
folder rename on a flat bucket is a journaled parallel move of every object
below it (``mover.Mover``), which a crash leaves for ``settle`` to finish,
and on a bucket with hierarchical namespace one ``rename_folder`` call.
Durability needs no barrier: GCS acknowledges a write once it is durable, so
``sync`` does nothing.

Generations fence stale replicas: ``read_tree``, ``stat`` and ``walk``
remember the generation of each file they read, and a later rename of that
file moves only that generation. A sidecar that read a file before another
replica replaced it fails (``StoreFault``) instead of moving the newer one.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import suppress
from pathlib import Path

from planner.core.entry import Entry
from planner.core.errors import AlreadyExists, IsADirectory, NotADirectory, NotFound, TreeError
from planner.core.footprint import Read
from planner.core.paths import fold, is_strictly_inside, join, split
from planner.core.tree import Tree
from sidecar.backends.base import CHUNK, STAGING, FileStream, cursor_below
from sidecar.backends.gcs.errors import changed
from sidecar.backends.gcs.folders import Folders, Memo, reserved
from sidecar.backends.gcs.hns import FolderRenamer
from sidecar.backends.gcs.movejournals import MoveJournals
from sidecar.backends.gcs.mover import Counted, Mover, Pair
from sidecar.backends.gcs.objects import Obj, Objects
from sidecar.backends.gcs.reads import Reader
from sidecar.errors import Refused, StoreError


class GcsBackend:
    """The backend protocol (``sidecar.backends.base.Backend``) on ``gs://bucket/prefix``."""

    def __init__(
        self,
        objects: Objects,
        prefix: str,
        journals: Path | MoveJournals,
        *,
        implicit: bool = False,
        mover: Mover | None = None,
        hns: FolderRenamer | None = None,
    ) -> None:
        self.objects = objects
        self.hns = hns  # set for a bucket with hierarchical namespace
        self.folders = Folders(objects, prefix, implicit=implicit)
        # ``journals``: a state folder (its folder moves journaled in moves/ below it), or elsewhere
        moves = journals / "moves" if isinstance(journals, Path) else journals
        self.mover = mover if mover is not None else Mover(objects, moves)
        self.seen: dict[str, int] = {}  # object name -> the generation pva last read
        self._seen_lock = threading.Lock()
        self.reader = Reader(self.folders, self._saw)
        self.mover.settle()

    @property
    def name(self) -> str:
        return f"gs://{self.objects.bucket.name}/{self.folders.prefix}"

    def close(self) -> None:
        self.mover.close()

    def _saw(self, obj: Obj) -> None:
        with self._seen_lock:
            if len(self.seen) > 200_000:
                self.seen.clear()  # a fence for what an apply just read, not a record: bounded
            self.seen[obj.name] = obj.generation

    # -- reading (store paths; the reserved area is invisible) -----------------

    def stat(self, path: str) -> Entry | None:
        return None if reserved(path) else self.reader.stat(path)

    def collision(self, path: str, *, besides: str | None = None) -> str | None:
        if not path or reserved(path):
            return None
        parent, name = split(path)
        if self.folders.kind(parent) != "dir":
            return None
        key = fold(name)
        others = (join(parent, o) for o in self.folders.children(parent) if o != name and fold(o) == key)
        return next((o for o in others if o != besides and not reserved(o)), None)

    def walk(self, path: str) -> list[Entry]:
        return [] if reserved(path) else list(self.reader.walk(path, hashed=True))

    def deepest(self, path: str) -> int:
        if reserved(path):
            return 0
        base = len(path.encode()) + 1 if path else 0
        entries = self.reader.walk(path, hashed=False)
        return max((len(e.path.encode()) - base for e in entries if e.path != path), default=0)

    def entries(
        self, path: str, *, depth: int | None = None, hashed: bool = False, after: str | None = None
    ) -> Iterator[Entry]:
        """What lies below the folder ``path``, parents first, by name (``Backend.entries``).

        A page (a depth, or a cursor) lists folder by folder from where it
        starts (``Folders.descend``), so it costs what it shows; a whole
        manifest is one listing of every object below the folder.
        """
        if reserved(path) or self.folders.kind(path) != "dir":
            raise NotFound(path, f"folder {path!r} does not exist")
        cursor = cursor_below(path, after)
        if cursor is None:
            return iter(())
        if depth is None and not cursor:
            return (e for e in self.reader.walk(path, hashed=hashed, known=True) if e.path != path)
        return (
            self.reader.entry(child, obj, hashed=hashed, known=True)
            for child, obj in self.folders.descend(path, cursor, depth)
        )

    def open_read(self, path: str) -> FileStream:
        """The object of the file ``path``, its generation pinned for every chunk read."""
        kind = "dir" if not path else None if reserved(path) else self.folders.kind(path)
        if kind == "dir":
            raise IsADirectory(path, f"{path!r} is a folder")
        obj = self.objects.get(self.folders.name(path)) if kind == "file" else None
        if obj is None:
            raise NotFound(path, f"{path!r} does not exist")
        entry = Entry(path, "file", obj.size, obj.sha256, obj.generation, obj.updated)
        return _GcsStream(self.objects, obj, entry)

    def open_stored(self, path: str) -> FileStream:
        """The reserved object at ``path`` (a blob, a trash copy), its generation pinned."""
        _reserved_only(path)
        obj = self.objects.get(self.folders.name(path))
        if obj is None:
            raise NotFound(path, f"{path!r} is not a file")
        return _GcsStream(
            self.objects, obj, Entry(path, "file", obj.size, obj.sha256, obj.generation, obj.updated)
        )

    def read_file(self, path: str, limit: int) -> bytes:
        obj = self.objects.get(self.folders.name(path)) if path else None
        if obj is None:
            raise NotFound(path, f"{path!r} is not a file")
        return self.objects.download(obj, limit + 1)

    def read_tree(self, reads: Sequence[Read]) -> Tree:
        self.mover.settle()
        return self.reader.read_tree(reads)

    # -- primitives ---------------------------------------------------------

    def _need_folder(self, parent: str, path: str, memo: Memo | None = None) -> None:
        kind = self.folders.kind(parent, memo)
        if kind is None:
            raise NotFound(path, f"the folder of {path!r} does not exist")
        if kind == "file":
            raise NotADirectory(path, f"{parent!r} is a file, not a folder")

    def _absent(self, path: str) -> None:
        if self.folders.own_kind(path) is not None:
            raise AlreadyExists(path, f"{path!r} already exists")

    def mkdir(self, path: str) -> None:
        if not path:
            raise AlreadyExists(path, "the store root exists")
        self._need_folder(split(path)[0], path)
        self._absent(path)
        self.objects.create(self.folders.folder(path), b"")

    def rmdir(self, path: str) -> None:
        kind = self.folders.kind(path)
        if kind is None:
            raise NotFound(path, f"{path!r} does not exist")
        if kind == "file":
            raise NotADirectory(path, f"{path!r} is a file, not a folder")
        placeholder = self.folders.folder(path)
        objects, prefixes = self.objects.list(placeholder, delimiter="/")
        if prefixes or any(obj.name != placeholder for obj in objects):
            raise AlreadyExists(path, f"{path!r} is not empty")
        obj = self.objects.get(placeholder)
        if obj is not None:
            self.objects.delete(obj)

    def rename(self, src: str, dst: str) -> None:
        """Move ``src`` to ``dst``, never replacing; a folder moves whole or (after settle) not at all."""
        if not src or is_strictly_inside(src, dst):
            raise TreeError(dst, f"cannot move {src!r} into itself")
        if not dst:
            raise AlreadyExists(dst, "the store root exists")
        self.mover.settle()
        memo: Memo = {}
        kind = self.folders.kind(src, memo)
        if kind is None:
            raise NotFound(src, f"{src!r} does not exist")
        self._need_folder(split(dst)[0], dst, memo)
        self._absent(dst)
        self._keep_parent(src)
        if kind == "file":
            self._move_file(src, dst)
        else:
            self._move_folder(src, dst)

    def _keep_parent(self, src: str) -> None:
        """In implicit mode, give ``src``'s folder a placeholder so that moving its last entry keeps it."""
        parent = split(src)[0]
        if parent and self.folders.implicit and self.objects.get(self.folders.folder(parent)) is None:
            with suppress(AlreadyExists):  # made meanwhile: fine
                self.objects.create(self.folders.folder(parent), b"")

    def _move_file(self, src: str, dst: str) -> None:
        name = self.folders.name(src)
        obj = self.objects.get(name)
        if obj is None:
            raise NotFound(src, f"{src!r} does not exist")
        with self._seen_lock:
            expected = self.seen.pop(name, obj.generation)
        if expected != obj.generation:
            raise changed(src)
        if self.objects.can_move is False:  # copy then delete: two calls, so journaled
            self.mover.move([Pair.of(obj, self.folders.name(dst))], None)
        else:
            self._saw(self.objects.move(obj, self.folders.name(dst)))

    def _move_folder(self, src: str, dst: str) -> None:
        start, target = self.folders.folder(src), self.folders.folder(dst)
        if self.hns is not None:
            self.hns.rename(start, target)
            return
        objects = list(self.objects.iterate(start))
        own = next((obj for obj in objects if obj.name == start), None)
        if own is None:  # an implicit folder: give it a placeholder, to move last like any other
            own = self.objects.create(start, b"")
        pairs = [Pair.of(obj, target + obj.name[len(start) :]) for obj in objects if obj.name != start]
        self.mover.move(pairs, Pair.of(own, target))
        with self._seen_lock:
            for name in [name for name in self.seen if name.startswith(start)]:
                del self.seen[name]

    # -- legal holds (sidecar.backends.base.BucketHolds) ----------------------

    def set_holds(self, path: str, *, held: bool) -> int:
        """Set or clear the temporary hold of the file ``path`` or of every object of the folder ``path``.

        In parallel; idempotent, so running it again after a crash finishes it.
        Objects below a folder that the folder model hides are held too: a hold preserves, it never skips.
        """
        names = [obj.name for obj in self.objects.iterate(self.folders.folder(path))]
        if self.objects.get(self.folders.name(path)) is not None:
            names.append(self.folders.name(path))
        self.mover.map(lambda name: self.objects.set_hold(name, held=held), names)
        return len(names)

    def exists(self, path: str) -> bool:
        self.mover.settle()
        return self.folders.own_kind(path) is not None if path else True

    # -- staging (reserved paths) -----------------------------------------------

    def ensure_dir(self, path: str) -> None:
        _reserved_only(path)
        parts = path.split("/")
        for depth in range(1, len(parts) + 1):
            folder = "/".join(parts[:depth])
            if self.objects.get(self.folders.folder(folder)) is None:
                with suppress(AlreadyExists):  # made meanwhile: fine
                    self.objects.create(self.folders.folder(folder), b"")

    def stage_bytes(self, path: str, data: bytes, *, durable: bool = True) -> None:  # noqa: ARG002  # GCS acknowledges durable writes
        _reserved_only(path)
        self._need_folder(split(path)[0], path)
        self._absent(path)
        self._saw(self.objects.create(self.folders.name(path), data))

    def stage_stream(self, path: str, chunks: Iterable[bytes]) -> None:
        _reserved_only(path)
        self._need_folder(split(path)[0], path)
        self._absent(path)
        self._saw(self.objects.create_streamed(self.folders.name(path), chunks))

    def stage_copy(self, path: str, src: str) -> None:
        """Copy a file or folder to a new reserved path; a folder's placeholder last, so it appears whole."""
        _reserved_only(path)
        if not src or is_strictly_inside(src, path):
            raise TreeError(path, f"cannot copy {src!r} into itself")
        memo: Memo = {}
        kind = self.folders.kind(src, memo)
        if kind is None:
            raise NotFound(src, f"{src!r} does not exist")
        self._need_folder(split(path)[0], path, memo)
        self._absent(path)
        if kind == "file":
            obj = self.objects.get(self.folders.name(src))
            if obj is None:
                raise NotFound(src, f"{src!r} does not exist")
            self.objects.copy(obj, self.folders.name(path))
            return
        start, target = self.folders.folder(src), self.folders.folder(path)
        pairs = [Pair.of(obj, target + obj.name[len(start) :]) for obj in self.objects.iterate(start)]
        inner = [pair for pair in pairs if pair.src != start]
        counted = Counted(len(inner) + 1)
        try:
            self.mover.map(counted.each(lambda pair: self.objects.copy(pair.source(), pair.dst)), inner)
        except Exception:
            self._remove_below(target)
            raise
        self.objects.create(target, b"")  # the placeholder: now the copy exists, whole
        counted.one()

    def _remove_below(self, start: str) -> None:
        """Delete every object whose name starts with ``start``, the placeholder ``start`` first."""
        objects = sorted(self.objects.iterate(start), key=lambda obj: obj.name != start)
        if objects and objects[0].name == start:
            self.objects.delete(objects.pop(0))
        self.mover.map(lambda pair: self.objects.delete(pair.source()), [Pair.of(o, o.name) for o in objects])

    def staged_sha256(self, path: str) -> str | None:
        """The sha256 of a reserved object: pva's bound metadata, else hashed from a download."""
        _reserved_only(path)
        obj = self.objects.get(self.folders.name(path))
        return None if obj is None else self.objects.sha256(obj)

    def discard(self, path: str) -> None:
        """Delete a staged file or folder (each object at the generation listed); gone already is fine."""
        if any(part in ("", ".", "..") for part in path.split("/")) or not is_strictly_inside(STAGING, path):
            raise Refused(path, f"discard works only below {STAGING}/, not on {path!r}")
        start = self.folders.folder(path)
        self._remove_below(start)  # the placeholder goes with the rest, so the folder vanishes whole
        obj = self.objects.get(self.folders.name(path))
        if obj is not None:
            self.objects.delete(obj)

    def sync(self) -> None:
        """Nothing to do: every GCS write is durable once acknowledged."""


class _GcsStream:
    """One generation of an object, downloaded a chunk per request (``FileStream``)."""

    def __init__(self, objects: Objects, obj: Obj, entry: Entry) -> None:
        self._objects, self._obj, self.entry = objects, obj, entry

    def chunks(self, start: int, stop: int | None) -> Iterator[bytes]:
        end = self._obj.size if stop is None else min(stop, self._obj.size)
        for offset in range(start, end, CHUNK):
            yield self._objects.download_range(self._obj, offset, min(end, offset + CHUNK))

    def close(self) -> None:
        """Nothing is held open between requests."""


def _reserved_only(path: str) -> None:
    if any(part in ("", ".", "..") for part in path.split("/")):
        raise Refused(path, f"{path!r} is not a plain store path")
    if not reserved(path):
        raise StoreError(path, f"{path!r} is not in the reserved area")
