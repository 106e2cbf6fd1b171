"""Scan a directory into entries: the I/O edge that feeds manifests and trees.

Walks without following symlinks, in sorted order, parents first. Symlinks,
sockets, FIFOs, devices, files with a second name (hard links) and names
that are not UTF-8 are not store content (``stored_kind``; no plan can name
them): they are skipped and counted, never opened, as the sidecar's
listings leave them out. The store's reserved ``.pva/`` area is
left out.
"""

from __future__ import annotations

import errno
import hashlib
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from planner.core.entry import Entry, stored_kind
from planner.core.footprint import Read, read
from planner.core.paths import RESERVED_ROOT, fold, is_utf8, join
from planner.core.tree import Tree, tree_of

HASH_CHUNK = 1024 * 1024


@dataclass
class ScanStats:
    """Counts a scan reports when it ends (and as it goes, for progress bars)."""

    entries: int = 0
    bytes_hashed: int = 0
    skipped: list[str] = field(default_factory=list)  # links, special and hard-linked files, names not UTF-8


def scan(
    root: Path,
    *,
    hashed: bool = True,
    stats: ScanStats | None = None,
    on_entry: Callable[[ScanStats], None] | None = None,
) -> Iterator[Entry]:
    """Yield every entry below ``root`` (not ``root`` itself), parents first."""
    stats = stats if stats is not None else ScanStats()
    if not root.is_dir():
        raise NotADirectoryError(f"{root} is not a folder")
    yield from _scan_dir(str(root), "", hashed, stats, on_entry)


def _scan_dir(
    base: str,
    prefix: str,
    hashed: bool,
    stats: ScanStats,
    on_entry: Callable[[ScanStats], None] | None,
) -> Iterator[Entry]:
    """Parents first, names sorted; a stack of listings, not recursion (512 levels may occur)."""
    stack: list[tuple[str, Iterator[os.DirEntry[str]]]] = [(prefix, _sorted_children(base, prefix))]
    while stack:
        folder, children = stack[-1]
        child = next(children, None)
        if child is None:
            stack.pop()
            continue
        if not folder and fold(child.name) == RESERVED_ROOT:
            continue
        path = join(folder, child.name)
        if not is_utf8(child.name):
            stats.skipped.append(ascii(path))  # as Python escapes it: the name cannot be printed as it is
            continue
        info = child.stat(follow_symlinks=False)
        kind = stored_kind(info.st_mode, info.st_nlink)
        if kind == "dir":
            entry = Entry(path, "dir", mtime=info.st_mtime)
        elif kind == "file":
            digest = _sha256(child.path) if hashed else None
            stats.bytes_hashed += info.st_size if hashed else 0
            entry = Entry(path, "file", info.st_size, digest, mtime=info.st_mtime)
        else:
            stats.skipped.append(path)
            continue
        stats.entries += 1
        if on_entry is not None:
            on_entry(stats)
        yield entry
        if entry.is_dir:
            stack.append((path, _sorted_children(base, path)))


def _sorted_children(base: str, prefix: str) -> Iterator[os.DirEntry[str]]:
    with os.scandir(os.path.join(base, prefix) if prefix else base) as listing:
        children = sorted(listing, key=lambda item: item.name)
    return iter(children)


def _sha256(path: str) -> str:
    # O_NOFOLLOW and O_NONBLOCK: the entry was a regular file when listed; a link
    # or FIFO swapped in since is refused or not waited on.
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    with os.fdopen(fd, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def scan_tree(root: Path, *, hashed: bool = True) -> Tree:
    """A tree of everything below ``root``."""
    return tree_of(scan(root, hashed=hashed))


def read_footprint(root: Path, reads: Sequence[Read]) -> Tree:
    """What a plan's reads need, by the one footprint reader (``planner.core.footprint.read``).

    So verifying a plan costs what the plan touches, not what the store holds.
    Symlinks, special and hard-linked files are skipped, as ``scan`` skips them. This is
    the agent side's reader; the sidecar's backends read through confined
    descriptors with the same reader.
    """
    return read(FolderSource(root), reads)


class FolderSource:
    """The footprint reader's protocol (``planner.core.footprint.ReadSource``) on a folder."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.base = str(root)

    def stat(self, path: str) -> Entry | None:
        if not path:
            return Entry("", "dir")
        if fold(path.split("/", 1)[0]) == RESERVED_ROOT:
            return None
        return _entry_at(self.root, path, hashed=False)

    def listing(self, folder: str) -> Iterator[Entry]:
        return _listing(self.root, folder)

    def below(self, folder: str) -> Iterator[Entry]:
        return _scan_dir(self.base, folder, False, ScanStats(), None)  # noqa: FBT003

    def hashed(self, entry: Entry) -> Entry | None:
        """The file listed as ``entry``, hashed through one descriptor: open, fstat, read, close.

        Opened as ``_sha256`` opens (never following a link, never waiting on
        a FIFO); what is there now decides: a folder is returned as one, a
        file with its sha256 and the size of the bytes hashed, anything else
        (gone, a link, a special file swapped in since the listing) as None.
        """
        try:
            fd = os.open(os.path.join(self.base, entry.path), os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as error:
            if error.errno == errno.ELOOP:  # a link: not store content
                return None
            raise
        try:
            info = os.fstat(fd)
            kind = stored_kind(info.st_mode, info.st_nlink)
            if kind == "dir":
                return Entry(entry.path, "dir", mtime=info.st_mtime)
            if kind is None:
                return None
            digest, size = _digest(fd)
        finally:
            os.close(fd)
        return Entry(entry.path, "file", size, digest, mtime=info.st_mtime)


def _digest(fd: int) -> tuple[str, int]:
    """The sha256 and length of what ``fd`` holds from where it stands."""
    hasher = hashlib.sha256()
    size = 0
    while chunk := os.read(fd, HASH_CHUNK):
        hasher.update(chunk)
        size += len(chunk)
    return hasher.hexdigest(), size


def _entry_at(root: Path, path: str, *, hashed: bool) -> Entry | None:
    """The folder or file at ``path`` (None if absent or no store content: ``stored_kind``)."""
    full = os.path.join(root, path)
    try:
        info = os.lstat(full)
    except (FileNotFoundError, NotADirectoryError):
        return None
    kind = stored_kind(info.st_mode, info.st_nlink)
    if kind == "dir":
        return Entry(path, "dir", mtime=info.st_mtime)
    if kind == "file":
        return Entry(path, "file", info.st_size, _sha256(full) if hashed else None, mtime=info.st_mtime)
    return None


def _listing(root: Path, prefix: str) -> Iterator[Entry]:
    """The direct children of ``prefix``, metadata only (no hashes)."""
    folder = os.path.join(root, prefix) if prefix else str(root)
    with os.scandir(folder) as listing:
        children = sorted(listing, key=lambda item: item.name)
    for child in children:
        if (not prefix and fold(child.name) == RESERVED_ROOT) or not is_utf8(child.name):
            continue
        info = child.stat(follow_symlinks=False)
        kind = stored_kind(info.st_mode, info.st_nlink)
        if kind == "dir":
            yield Entry(join(prefix, child.name), "dir", mtime=info.st_mtime)
        elif kind == "file":
            yield Entry(join(prefix, child.name), "file", info.st_size, mtime=info.st_mtime)
