"""``MemoryBackend``: a backend in memory, for engine tests and tools that need no disk.

Metadata lives in a ``planner.core.tree.Tree`` (reserved paths included), bytes in
a dict by sha256. It honours the protocol's contract (create-only, no
replacing, discard only in staging) so the engine cannot tell it from a disk.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Sequence

from planner.core.entry import Entry
from planner.core.errors import AlreadyExists, IsADirectory, NotADirectory, NotFound
from planner.core.footprint import Read, TreeSource, read
from planner.core.paths import fold, is_strictly_inside, split
from planner.core.tree import Tree
from sidecar.backends.base import RESERVED, STAGING, BytesStream, FileStream, listed_after
from sidecar.errors import Refused, StoreError


class MemoryBackend:
    """The ``Backend`` protocol over an in-memory tree."""

    def __init__(self) -> None:
        self.tree = Tree()
        self.contents: dict[str, bytes] = {}
        self.syncs = 0

    @property
    def name(self) -> str:
        return "memory:"

    # -- reading ---------------------------------------------------------

    def stat(self, path: str) -> Entry | None:
        return None if _reserved(path) else self.tree.stat(path)

    def collision(self, path: str, *, besides: str | None = None) -> str | None:
        return None if _reserved(path) else self.tree.collision(path, besides=besides)

    def walk(self, path: str) -> Iterable[Entry]:
        return (e for e in self.tree.walk(path) if not _reserved(e.path))

    def deepest(self, path: str) -> int:
        start = len(path) + 1 if path else 0
        return max((len(e.path[start:].encode()) for e in self.walk(path) if e.path != path), default=0)

    def read_tree(self, reads: Sequence[Read]) -> Tree:
        """What the reads need, by the one footprint reader (``planner.core.footprint.read``)."""
        return read(TreeSource(self.tree), reads)

    def entries(
        self,
        path: str,
        *,
        depth: int | None = None,
        hashed: bool = False,  # noqa: ARG002  # memory knows every hash
        after: str | None = None,
    ) -> Iterator[Entry]:
        if _reserved(path) or self.tree.kind(path) != "dir":
            raise NotFound(path, f"folder {path!r} does not exist")
        base = path.count("/") + 1 if path else 0
        below = (e for e in self.tree.walk(path) if e.path != path and not _reserved(e.path))
        return listed_after((e for e in below if depth is None or e.path.count("/") - base < depth), after)

    def open_read(self, path: str) -> FileStream:
        entry = None if _reserved(path) else self.tree.stat(path)
        if entry is None:
            raise NotFound(path, f"{path!r} does not exist")
        if entry.is_dir:
            raise IsADirectory(path, f"{path!r} is a folder")
        return BytesStream(entry, self.read_bytes(path))

    def open_stored(self, path: str) -> FileStream:
        _reserved_only(path)
        entry = self.tree.stat(path)
        if entry is None or entry.is_dir:
            raise NotFound(path, f"{path!r} is not a file")
        return BytesStream(entry, self.read_bytes(path))

    def read_file(self, path: str, limit: int) -> bytes:
        return self.read_bytes(path)[: limit + 1]

    def read_bytes(self, path: str) -> bytes:
        """A file's content (a test backdoor; not part of the protocol)."""
        entry = self.tree.stat(path)
        if entry is None or entry.sha256 is None:
            raise NotFound(path, f"{path!r} is not a file")
        return self.contents[entry.sha256]

    # -- primitives ------------------------------------------------------

    def mkdir(self, path: str) -> None:
        self.tree.make_dir(path)

    def rmdir(self, path: str) -> None:
        if self.tree.kind(path) is None:
            raise NotFound(path, f"{path!r} does not exist")
        if self.tree.kind(path) != "dir":
            raise NotADirectory(path, f"{path!r} is not a folder")
        if self.tree.names(path):
            raise AlreadyExists(path, f"{path!r} is not empty")
        self.tree.delete(path)

    def rename(self, src: str, dst: str) -> None:
        self.tree.move(src, dst)

    def exists(self, path: str) -> bool:
        return self.tree.kind(path) is not None

    # -- staging ---------------------------------------------------------

    def ensure_dir(self, path: str) -> None:
        _reserved_only(path)
        parts = path.split("/")
        for depth in range(1, len(parts) + 1):
            prefix = "/".join(parts[:depth])
            if self.tree.kind(prefix) is None:
                self.tree.make_dir(prefix)

    def stage_bytes(self, path: str, data: bytes, *, durable: bool = True) -> None:  # noqa: ARG002  # memory is never durable
        _reserved_only(path)
        digest = hashlib.sha256(data).hexdigest()
        self.tree.put_file(path, len(data), digest)
        self.contents[digest] = data

    def stage_stream(self, path: str, chunks: Iterable[bytes]) -> None:
        _reserved_only(path)
        if self.tree.kind(path) is not None:
            raise AlreadyExists(path, f"{path!r} already exists")
        self.stage_bytes(path, b"".join(chunks))

    def stage_copy(self, path: str, src: str) -> None:
        _reserved_only(path)
        self.tree.copy(src, path)

    def staged_sha256(self, path: str) -> str | None:
        _reserved_only(path)
        entry = self.tree.stat(path)
        return None if entry is None or entry.is_dir else entry.sha256

    def discard(self, path: str) -> None:
        _plain(path)
        if not is_strictly_inside(STAGING, path):
            raise Refused(path, f"discard works only below {STAGING}/, not on {path!r}")
        if self.tree.kind(path) is not None:
            self.tree.delete(path)

    def sync(self) -> None:
        self.syncs += 1

    # -- setting up ------------------------------------------------------

    def put(self, path: str, data: bytes) -> None:
        """Create a store file and its folders (for tests setting the scene)."""
        parent = split(path)[0]
        if parent:
            parts = parent.split("/")
            for depth in range(1, len(parts) + 1):
                prefix = "/".join(parts[:depth])
                if self.tree.kind(prefix) is None:
                    self.tree.make_dir(prefix)
        digest = hashlib.sha256(data).hexdigest()
        self.tree.put_file(path, len(data), digest)
        self.contents[digest] = data


def _plain(path: str) -> None:
    if any(segment in ("", ".", "..") for segment in path.split("/")):
        raise Refused(path, f"{path!r} is not a plain store path")


def _reserved(path: str) -> bool:
    return fold(path.split("/", 1)[0]) == RESERVED


def _reserved_only(path: str) -> None:
    _plain(path)
    if not _reserved(path):
        raise StoreError(path, f"{path!r} is not in the reserved area")
