"""Reading a bucket as a store: ``stat``, ``walk`` and ``read_tree`` through the folder model.

Files come with their sha256 (pva's bound metadata, else hashed from a
download) and their generation; each file read is reported to ``saw`` so the
backend can fence later changes to exactly that generation. ``read_tree``
reads what a plan's footprint needs, as ``LocalBackend.read_tree`` does: the
ancestors of each path, the listing of its parent (or of the deepest ancestor
that exists), the path itself and, for a tree read, everything below it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

from planner.entry import Entry
from planner.footprint import Read
from planner.paths import join
from planner.tree import Tree, TreeBuilder
from sidecar.backends.gcs.folders import Folders, Memo, reserved
from sidecar.backends.gcs.objects import Obj


class Reader:
    """Entries of a store on a bucket."""

    def __init__(self, folders: Folders, saw: Callable[[Obj], None]) -> None:
        self.folders = folders
        self.objects = folders.objects
        self.saw = saw

    def entry(self, path: str, obj: Obj | None, *, hashed: bool) -> Entry:
        if obj is None:
            return Entry(path, "dir")
        self.saw(obj)
        sha = self.objects.sha256(obj) if hashed else None
        return Entry(path, "file", obj.size, sha, obj.generation, obj.updated)

    def stat(self, path: str, memo: Memo | None = None, *, hashed: bool = True) -> Entry | None:
        kind = self.folders.kind(path, memo)
        if kind is None:
            return None
        if kind == "dir":
            return Entry(path, "dir")
        obj = self.objects.get(self.folders.name(path))
        return None if obj is None else self.entry(path, obj, hashed=hashed)

    def walk(self, path: str, *, hashed: bool) -> Iterator[Entry]:
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
            yield self.entry(join(path, rest), obj, hashed=hashed)

    def read_tree(self, reads: Sequence[Read]) -> Tree:
        found: dict[str, Entry] = {}
        listed: set[str] = set()
        memo: Memo = {}
        for read in reads:
            if not reserved(read.path):
                self._read(read, found, listed, memo)
        return TreeBuilder().add(sorted(found.values(), key=lambda e: e.path.split("/"))).build()

    def _read(self, read: Read, found: dict[str, Entry], listed: set[str], memo: Memo) -> None:
        prefix = ""
        names = read.path.split("/") if read.path else []
        if not names:
            self._list("", found, listed)
        for index, name in enumerate(names):
            path = join(prefix, name)
            kind = self.folders.kind(path, memo)
            last = index == len(names) - 1
            if kind is None or last:
                self._list(prefix, found, listed)
            if kind is None:
                return
            if kind == "dir":
                _keep(found, Entry(path, "dir"))
            else:
                entry = self.stat(path, memo, hashed=read.hashed and last)
                if entry is not None:
                    _keep(found, entry)
                return
            prefix = path
        if read.tree:
            for entry in self.walk(read.path, hashed=read.hashed):
                if entry.path:
                    _keep(found, entry)

    def _list(self, folder: str, found: dict[str, Entry], listed: set[str]) -> None:
        if folder in listed:
            return
        listed.add(folder)
        for name, obj in self.folders.children(folder).items():
            path = join(folder, name)
            if not reserved(path):
                _keep(found, self.entry(path, obj, hashed=False))


def _keep(found: dict[str, Entry], entry: Entry) -> None:
    """Record an entry; a hashed reading wins over an unhashed one."""
    old = found.get(entry.path)
    if old is None or old.kind != entry.kind or entry.sha256 is not None:
        found[entry.path] = entry
