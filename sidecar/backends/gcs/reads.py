"""Reading a bucket as a store: ``stat``, ``walk`` and ``read_tree`` through the folder model.

Files come with their sha256 (pva's bound metadata, else hashed from a
download) and their generation; each file read is reported to ``saw`` so the
backend can fence later changes to exactly that generation. ``read_tree``
reads what a plan's footprint needs through the one footprint reader
(``planner.core.footprint.read``), over this module's ``ReadSource``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

from planner.core.entry import Entry
from planner.core.footprint import Read, read
from planner.core.paths import join
from planner.core.tree import Tree
from sidecar.backends.gcs.folders import Folders, Memo, reserved
from sidecar.backends.gcs.objects import Obj


class Reader:
    """Entries of a store on a bucket."""

    def __init__(self, folders: Folders, saw: Callable[[Obj], None]) -> None:
        self.folders = folders
        self.objects = folders.objects
        self.saw = saw

    def entry(self, path: str, obj: Obj | None, *, hashed: bool, known: bool = False) -> Entry:
        """The entry of ``path``; ``known``: unhashed, but with the sha256 pva's metadata holds."""
        if obj is None:
            return Entry(path, "dir")
        self.saw(obj)
        sha = self.objects.sha256(obj) if hashed else obj.sha256 if known else None
        return Entry(path, "file", obj.size, sha, obj.generation, obj.updated)

    def stat(self, path: str, memo: Memo | None = None, *, hashed: bool = True) -> Entry | None:
        kind = self.folders.kind(path, memo)
        if kind is None:
            return None
        if kind == "dir":
            return Entry(path, "dir")
        obj = self.objects.get(self.folders.name(path))
        return None if obj is None else self.entry(path, obj, hashed=hashed)

    def walk(self, path: str, *, hashed: bool, known: bool = False) -> Iterator[Entry]:
        """The path and everything visible below it, parents first, by name."""
        top = self.stat(path, hashed=hashed)
        if top is None:
            return
        if path:
            yield top  # the root itself is not an entry
        if not top.is_dir:
            return
        below = sorted(self.folders.below(path), key=lambda item: item[0].split("/"))
        for rest, obj in below:
            yield self.entry(join(path, rest), obj, hashed=hashed, known=known)

    def read_tree(self, reads: Sequence[Read]) -> Tree:
        """What the reads need, by the one footprint reader (``planner.core.footprint.read``)."""
        return read(_Source(self), reads)


class _Source:
    """The footprint reader's protocol (``planner.core.footprint.ReadSource``) for one read of a bucket.

    It remembers each file object it listed, so a hash is of the generation read.
    """

    def __init__(self, reader: Reader) -> None:
        self.reader = reader
        self.folders = reader.folders
        self.memo: Memo = {}
        self.objects: dict[str, Obj] = {}

    def stat(self, path: str) -> Entry | None:
        if reserved(path):
            return None
        kind = self.folders.kind(path, self.memo)
        if kind != "file":
            return None if kind is None else Entry(path, "dir")
        obj = self.reader.objects.get(self.folders.name(path))
        return None if obj is None else self._entry(path, obj)

    def listing(self, folder: str) -> Iterator[Entry]:
        for name, obj in self.folders.children(folder).items():
            path = join(folder, name)
            if not reserved(path):
                yield self._entry(path, obj)

    def below(self, folder: str) -> Iterator[Entry]:
        for rest, obj in self.folders.below(folder):
            yield self._entry(join(folder, rest), obj)

    def hashed(self, entry: Entry) -> Entry | None:
        obj = self.objects.get(entry.path)
        return None if obj is None else self.reader.entry(entry.path, obj, hashed=True)

    def _entry(self, path: str, obj: Obj | None) -> Entry:
        if obj is not None:
            self.objects[path] = obj
        return self.reader.entry(path, obj, hashed=False)
