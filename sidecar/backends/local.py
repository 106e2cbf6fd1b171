"""``LocalBackend``: the backend protocol on a folder of the local disk.

All access goes through ``confined.Confined`` (descriptors opened beneath the
root, never following a link); this module gives it the protocol's meaning:
the tree errors of ``planner.core.tree``, the reserved ``.pva`` area hidden from
store reads, create-only primitives, atomic staging.

Creates never replace: ``mkdirat``, ``O_CREAT | O_EXCL``, ``renameat2`` with
``RENAME_NOREPLACE``. Where the filesystem lacks ``RENAME_NOREPLACE``, a file
is renamed by ``link`` then ``unlink`` (create-only too, but a crash in
between leaves both names) and a folder is not renamed at all: no other call
renames one without risking replacing an empty folder, so the backend fails
safe (``TreeError`` on EINVAL, ``StoreFault`` on ENOSYS). Staged content is
built under a temporary name next to its target, fsynced (unless the caller
batches durability into one ``sync()``), then renamed into place, so it
appears whole or not at all. ``mkdir``, ``rename`` and ``rmdir``
do not fsync: the engine makes batches durable with ``sync()`` (syncfs on the
store's filesystem).
"""

from __future__ import annotations

import bisect
import errno
import hashlib
import os
import stat
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, suppress
from pathlib import Path
from types import TracebackType
from typing import Self

from planner.core.entry import Entry
from planner.core.errors import AlreadyExists, IsADirectory, NotADirectory, NotFound, PvaError, TreeError
from planner.core.footprint import Read, read
from planner.core.paths import fold, is_strictly_inside, join, split
from planner.core.tree import Tree
from sidecar.backends.base import CHUNK, RESERVED, STAGING, Backend, FileStream, cursor_below
from sidecar.backends.confined import Confined, segments, temporary_name, translate, translated
from sidecar.backends.fd import SysCalls
from sidecar.errors import Refused

HASH_CACHE = 100_000  # remembered file hashes; forgotten wholesale when full


def _reserved(path: str) -> bool:
    return fold(path.split("/", 1)[0]) == RESERVED


def _split(path: str) -> tuple[str, str]:
    """(parent, name) of a path checked to stay below the root (Refused otherwise)."""
    segments(path)
    return split(path)


def _content_key(info: os.stat_result) -> tuple[int, ...]:
    """What the hash cache knows a file's content by: a rewrite changes ctime, which no one sets back."""
    return (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)


def _reserved_only(path: str) -> None:
    if not _reserved(path):
        raise Refused(path, f"{path!r} is not in the reserved {RESERVED}/ area")


_Level = tuple[int, str, Iterator[str], tuple[str, ...]]  # a folder being walked: fd, path, names, cursor


class LocalBackend:
    """The backend protocol (``sidecar.backends.base.Backend``) on a local folder.

    ``calls`` swaps the system-call layer (tests inject faults through it);
    ``openat2=False`` forces the name-by-name walk even where the kernel has
    openat2. Holds the root open: ``close()`` it, or use it in a ``with``.
    """

    def __init__(self, root: Path, *, calls: SysCalls | None = None, openat2: bool = True) -> None:
        self._root = root
        self._fs = Confined(root, calls if calls is not None else SysCalls(), openat2=openat2)
        # sha256 and size by (device, inode, size, mtime, ctime): a rewrite changes ctime,
        # which no unprivileged process can set back, so a hit is the same content.
        self._hashes: dict[tuple[int, ...], tuple[str, int]] = {}

    @property
    def name(self) -> str:
        return f"local:{self._root}"

    @property
    def resolves_beneath(self) -> bool:
        """True when paths are resolved by openat2, False for the walk."""
        return self._fs.beneath

    def close(self) -> None:
        self._fs.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- reading (store paths; the reserved area is invisible) ---------------

    def _entry(self, dirfd: int, name: str, path: str, info: os.stat_result, *, hashed: bool) -> Entry:
        if stat.S_ISDIR(info.st_mode):
            return Entry(path, "dir", mtime=info.st_mtime)
        if not hashed:  # a hash already known (the cache) comes along for free
            known = self._hashes.get(_content_key(info))
            sha = None if known is None else known[0]
            return Entry(path, "file", info.st_size, sha, mtime=info.st_mtime)
        digest, size = self._hash(dirfd, name, path, info)
        return Entry(path, "file", size, digest, mtime=info.st_mtime)

    def _hash(self, dirfd: int, name: str, path: str, info: os.stat_result) -> tuple[str, int]:
        """The sha256 and size of a file, hashed once per (device, inode, size, mtime, ctime)."""
        key = _content_key(info)
        known = self._hashes.get(key)
        if known is None:
            known = self._fs.hash_file(dirfd, name, path, info)
            if len(self._hashes) >= HASH_CACHE:
                self._hashes.clear()
            self._hashes[key] = known
        return known

    def stat(self, path: str) -> Entry | None:
        if _reserved(path):
            return None
        if not path:
            return Entry("", "dir")
        parent, name = _split(path)
        try:
            with self._fs.folder(parent) as fd:
                info = self._fs.lstat(fd, name, path)
                return None if info is None else self._entry(fd, name, path, info, hashed=True)
        except (NotFound, NotADirectory):
            return None

    def collision(self, path: str, *, besides: str | None = None) -> str | None:
        if not path or _reserved(path):
            return None
        parent, name = _split(path)
        try:
            with self._fs.folder(parent) as fd:
                names = self._fs.names(fd, parent, listing=True)  # one not UTF-8 folds to no UTF-8 name
        except (NotFound, NotADirectory):
            return None
        key = fold(name)
        others = (join(parent, other) for other in names if other != name and fold(other) == key)
        return next((other for other in others if other != besides), None)

    def walk(self, path: str) -> list[Entry]:
        """Every entry at and below ``path`` (the root itself excluded), parents first, files hashed."""
        return list(self._walk(path, hashed=True))

    def read_file(self, path: str, limit: int) -> bytes:
        parent, name = _split(path)
        try:
            with self._fs.folder(parent) as fd:
                info = self._fs.lstat(fd, name, path)
                if info is None or stat.S_ISDIR(info.st_mode):
                    raise NotFound(path, f"{path!r} is not a file")
                with self._fs.opened(self._fs.open_file(fd, name, path, info)) as file, translated(path):
                    data = b""
                    while len(data) <= limit and (chunk := self._fs.calls.read(file, limit + 1 - len(data))):
                        data += chunk
                    return data
        except NotADirectory as error:
            raise NotFound(path, f"{path!r} is not a file") from error

    def entries(
        self, path: str, *, depth: int | None = None, hashed: bool = False, after: str | None = None
    ) -> Iterator[Entry]:
        """What lies below the folder ``path``, parents first, by name (``Backend.entries``).

        A page's cursor (``after``) is skipped to by name: what lies before it
        is neither stat'ed nor walked (only the names of the folders on the
        cursor's path are listed), so a page costs what it lists.
        """
        if _reserved(path):
            raise NotFound(path, f"folder {path!r} does not exist")
        try:
            fd = self._fs.open_dir(path)
        except NotADirectory as error:
            raise NotFound(path, f"{path!r} is a file, not a folder") from error
        cursor = cursor_below(path, after)
        if cursor is None:
            self._fs.close_quietly(fd)
            return iter(())
        return self._below(fd, path, hashed=hashed, depth=depth, listing=True, after=cursor)

    def open_read(self, path: str) -> FileStream:
        """The file at ``path`` open through its descriptor, hashed once (the cache keeps it)."""
        if not path:
            raise IsADirectory(path, "the store root is a folder")
        if _reserved(path):
            raise NotFound(path, f"{path!r} is not a file")
        stream, info = self._open(path)
        try:
            key = _content_key(info)
            known = self._hashes.get(key)
            if known is None:
                known = stream.hash()
                if len(self._hashes) >= HASH_CACHE:
                    self._hashes.clear()
                self._hashes[key] = known
        except BaseException:
            stream.close()
            raise
        stream.entry = Entry(path, "file", known[1], known[0], mtime=info.st_mtime)
        return stream

    def open_stored(self, path: str) -> FileStream:
        """A file of the reserved area (a blob, a trash copy) open through its descriptor, not hashed."""
        _reserved_only(path)
        return self._open(path)[0]

    def _open(self, path: str) -> tuple[_LocalStream, os.stat_result]:
        """The regular file at ``path`` open for reading, and what its ``lstat`` said."""
        parent, name = _split(path)
        try:
            dirfd = self._fs.open_dir(parent)
        except (NotFound, NotADirectory) as error:
            raise NotFound(path, f"{path!r} is not a file") from error
        with self._fs.opened(dirfd):
            info = self._fs.lstat(dirfd, name, path)
            if info is None:
                raise NotFound(path, f"{path!r} does not exist")
            if stat.S_ISDIR(info.st_mode):
                raise IsADirectory(path, f"{path!r} is a folder")
            fd = self._fs.open_file(dirfd, name, path, info)
        return _LocalStream(self._fs, fd, Entry(path, "file", info.st_size, mtime=info.st_mtime)), info

    def deepest(self, path: str) -> int:
        base = len(path.encode()) + 1 if path else 0
        lengths = (len(e.path.encode()) - base for e in self._walk(path, hashed=False) if e.path != path)
        return max(lengths, default=0)

    def _walk(self, path: str, *, hashed: bool) -> Iterator[Entry]:
        if _reserved(path):
            return
        if not path:
            yield from self._below(self._fs.open_dir(""), "", hashed=hashed)
            return
        parent, name = _split(path)
        try:
            fd = self._fs.open_dir(parent)
        except (NotFound, NotADirectory):
            return
        with self._fs.opened(fd):
            info = self._fs.lstat(fd, name, path)
            if info is None:
                return
            yield self._entry(fd, name, path, info, hashed=hashed)
            if stat.S_ISDIR(info.st_mode):
                yield from self._below(self._fs.open_child(fd, name, path), path, hashed=hashed)

    def _below(
        self,
        fd: int,
        path: str,
        *,
        hashed: bool,
        depth: int | None = None,
        listing: bool = False,
        after: tuple[str, ...] = (),
    ) -> Iterator[Entry]:
        """Everything below the folder open as ``fd`` (closed here), parents first, by name.

        Iterative, one open descriptor per level: depth costs no recursion.
        ``depth`` levels only, when given (1: the folder's own children).
        A link, special file or hard-linked file below raises ``Refused``, so a
        plan's footprint never passes one by; ``listing`` (what agents read:
        ``entries``) leaves them out instead, never following or reading them.
        ``after`` (segments below ``path``): only what lies past that path.
        """
        # A descriptor joins the stack before its listing, so a failing listing still closes it.
        stack: list[_Level] = [(fd, path, iter(()), ())]
        try:
            stack[-1] = (fd, path, self._names_from(fd, path, after, listing=listing), after)
            while stack:
                dirfd, prefix, names, cursor = stack[-1]
                name = next(names, None)
                if name is None:
                    self._fs.close_quietly(stack.pop()[0])
                    continue
                if not prefix and fold(name) == RESERVED:
                    continue
                child = join(prefix, name)
                try:
                    info = self._fs.lstat(dirfd, name, child)
                except Refused:
                    if listing:
                        continue  # a link or special file: not a document, left out of what agents read
                    raise
                if info is None:
                    continue  # removed since the listing
                passed = bool(cursor) and name == cursor[0]  # the cursor, or a folder holding it: listed
                if not passed:
                    yield self._entry(dirfd, name, child, info, hashed=hashed)
                if stat.S_ISDIR(info.st_mode) and (depth is None or len(stack) < depth):
                    self._enter(stack, dirfd, name, child, cursor[1:] if passed else (), listing=listing)
        finally:
            for dirfd, _, _, _ in stack:
                self._fs.close_quietly(dirfd)

    def _enter(
        self, stack: list[_Level], dirfd: int, name: str, path: str, after: tuple[str, ...], *, listing: bool
    ) -> None:
        """Push the folder ``name`` (at ``path``) on the walk's stack, its names from ``after`` on."""
        try:
            fd = self._fs.open_child(dirfd, name, path)
        except NotFound:
            return  # removed since its lstat: it was listed as an empty folder
        stack.append((fd, path, iter(()), ()))  # on the stack before its listing, which may fail
        stack[-1] = (fd, path, self._names_from(fd, path, after, listing=listing), after)

    def _names_from(self, fd: int, path: str, after: tuple[str, ...], *, listing: bool) -> Iterator[str]:
        """The folder's names in order, from the first segment of ``after`` on (all of them for ())."""
        names = self._fs.names(fd, path, listing=listing)
        return iter(names[bisect.bisect_left(names, after[0]) :] if after else names)

    def read_tree(self, reads: Sequence[Read]) -> Tree:
        """What the reads need, by the one footprint reader (``planner.core.footprint.read``).

        A path that could climb out of the root is refused before anything is read.
        """
        for one in reads:
            segments(one.path)
        return read(_Source(self), reads)

    def _metadata(self, path: str) -> Entry | None:
        """The entry at ``path`` without hashing it (None when absent, below a file or reserved)."""
        if not path or _reserved(path):
            return None if path else Entry("", "dir")
        parent, name = _split(path)
        try:
            with self._fs.folder(parent) as fd:
                info = self._fs.lstat(fd, name, path)
                return None if info is None else self._entry(fd, name, path, info, hashed=False)
        except (NotFound, NotADirectory):
            return None

    def _listing(self, folder: str) -> list[Entry]:
        """The direct children of ``folder``, without hashes; what no plan can name is left out.

        A link, a special or hard-linked file, a name that is not UTF-8: not
        store content (``ReadSource``), so one beside the paths a plan names
        does not refuse the plan. A plan that names one is still refused:
        the footprint reader stats what a listing does not show.
        """
        found = []
        with self._fs.folder(folder) as fd:
            for name in self._fs.names(fd, folder, listing=True):
                if folder or fold(name) != RESERVED:
                    path = join(folder, name)
                    try:
                        info = self._fs.lstat(fd, name, path)
                    except Refused:
                        continue
                    if info is not None:
                        found.append(self._entry(fd, name, path, info, hashed=False))
        return found

    def _hashed(self, entry: Entry) -> Entry | None:
        """``entry`` read again, hashed (None when it is gone or no longer a file)."""
        parent, name = _split(entry.path)
        try:
            with self._fs.folder(parent) as fd:
                info = self._fs.lstat(fd, name, entry.path)
                if info is None or not stat.S_ISREG(info.st_mode):
                    return None
                return self._entry(fd, name, entry.path, info, hashed=True)
        except (NotFound, NotADirectory):
            return None

    # -- the primitives (store and reserved paths) ----------------------------

    def mkdir(self, path: str) -> None:
        if not segments(path):
            raise AlreadyExists(path, "the store root exists")
        parent, name = _split(path)
        with self._fs.folder(parent) as fd:
            self._fs.mkdir_at(fd, name, path)

    def rmdir(self, path: str) -> None:
        if not segments(path):
            raise Refused(path, "the store root is never removed")
        parent, name = _split(path)
        with self._fs.folder(parent) as fd:
            info = self._fs.lstat(fd, name, path)
            if info is None:
                raise NotFound(path, f"{path!r} does not exist")
            if not stat.S_ISDIR(info.st_mode):
                raise NotADirectory(path, f"{path!r} is a file, not a folder")
            with translated(path):
                self._fs.calls.rmdirat(fd, name)  # ENOTEMPTY: AlreadyExists (something is inside)

    def rename(self, src: str, dst: str) -> None:
        """Move ``src`` to ``dst`` atomically, never replacing; errors as ``Tree.move``."""
        if not segments(src) or is_strictly_inside(src, dst):
            raise TreeError(dst, f"cannot move {src!r} into itself")
        if not segments(dst):
            raise AlreadyExists(dst, "the store root exists")
        src_name = _split(src)[1]
        dst_parent, dst_name = _split(dst)
        with self._source(src) as srcfd:
            info = self._fs.lstat(srcfd, src_name, src)
            if info is None:
                raise NotFound(src, f"{src!r} does not exist")
            with self._fs.folder(dst_parent) as dstfd:
                folder = stat.S_ISDIR(info.st_mode)
                self._fs.rename_at(srcfd, src_name, dstfd, dst_name, (src, dst), folder=folder)

    def _source(self, src: str) -> AbstractContextManager[int]:
        """The folder holding ``src``; a missing or non-folder parent means ``src`` is not found."""
        try:
            fd = self._fs.open_dir(_split(src)[0])
        except (NotFound, NotADirectory) as error:
            raise NotFound(src, f"{src!r} does not exist") from error
        return self._fs.opened(fd)

    def exists(self, path: str) -> bool:
        if not path:
            return True
        parent, name = _split(path)
        try:
            with self._fs.folder(parent) as fd:
                return self._fs.lstat(fd, name, path) is not None
        except (NotFound, NotADirectory):
            return False

    # -- staging (reserved paths) ---------------------------------------------

    def ensure_dir(self, path: str) -> None:
        """Create the reserved folder ``path`` and its missing parents, each durably; fine if it exists."""
        _reserved_only(path)
        names = segments(path)
        fd = self._fs.open_dir("")
        try:
            for index, name in enumerate(names):
                here = "/".join(names[: index + 1])
                try:
                    child = self._fs.open_child(fd, name, here)
                except NotFound:
                    with suppress(AlreadyExists):  # made meanwhile: fine
                        self._fs.mkdir_at(fd, name, here)
                    with translated(here):
                        self._fs.calls.fsync(fd)
                    child = self._fs.open_child(fd, name, here)
                self._fs.close_quietly(fd)
                fd = child
        finally:
            self._fs.close_quietly(fd)

    def stage_bytes(self, path: str, data: bytes, *, durable: bool = True) -> None:
        """Create the reserved file ``path`` holding ``data``; whole or absent, durable unless told not.

        With ``durable=False`` the fsyncs are left to the caller's next
        ``sync()``; the temporary name and the rename still make it appear whole.
        """
        _reserved_only(path)
        parent, name = _split(path)
        with self._fs.folder(parent) as dirfd:
            self._absent(dirfd, name, path)
            temp = temporary_name()
            self._fs.write_file(dirfd, temp, path, data, fsync=durable)
            self._place(dirfd, temp, name, path, folder=False, fsync=durable)

    def stage_stream(self, path: str, chunks: Iterable[bytes]) -> None:
        """Create the reserved file ``path`` from ``chunks``: durable and whole, or absent."""
        _reserved_only(path)
        parent, name = _split(path)
        with self._fs.folder(parent) as dirfd:
            self._absent(dirfd, name, path)
            temp = temporary_name()
            fd, own = self._fs.create_file(dirfd, temp, path)
            try:
                for chunk in chunks:
                    with translated(path):
                        self._fs.write_all(fd, chunk)
                with translated(path):
                    self._fs.calls.fsync(fd)
            except BaseException:
                self._fs.close_quietly(fd)
                self._fs.unlink_own(dirfd, temp, own)
                raise
            self._fs.close_quietly(fd)
            self._place(dirfd, temp, name, path, folder=False)

    def stage_copy(self, path: str, src: str) -> None:
        """Copy the file or folder ``src`` to the new reserved ``path``; durable and whole, or absent."""
        _reserved_only(path)
        if not segments(src) or is_strictly_inside(src, path):
            raise TreeError(path, f"cannot copy {src!r} into itself")
        parent, name = _split(path)
        src_name = _split(src)[1]
        with self._source(src) as srcfd:
            info = self._fs.lstat(srcfd, src_name, src)
            if info is None:
                raise NotFound(src, f"{src!r} does not exist")
            with self._fs.folder(parent) as dirfd:
                self._absent(dirfd, name, path)
                temp = temporary_name()
                self._fs.copy_at((srcfd, src_name, src, info), dirfd, temp, path)
                self._place(dirfd, temp, name, path, folder=stat.S_ISDIR(info.st_mode))

    def _absent(self, dirfd: int, name: str, path: str) -> None:
        if self._fs.lstat(dirfd, name, path) is not None:
            raise AlreadyExists(path, f"{path!r} already exists")

    def _place(
        self, dirfd: int, temp: str, name: str, path: str, *, folder: bool, fsync: bool = True
    ) -> None:
        """Rename the finished ``temp`` to ``name`` (durably with ``fsync``); on failure neither remains."""
        placed = False
        try:
            self._fs.rename_at(dirfd, temp, dirfd, name, (path, path), folder=folder)
            placed = True
            if fsync:
                with translated(path):
                    self._fs.calls.fsync(dirfd)
        except BaseException:
            with suppress(PvaError):
                self._fs.remove_at(dirfd, name if placed else temp, path)
            raise

    def staged_sha256(self, path: str) -> str | None:
        _reserved_only(path)
        parent, name = _split(path)
        try:
            with self._fs.folder(parent) as fd:
                info = self._fs.lstat(fd, name, path)
                if info is None or stat.S_ISDIR(info.st_mode):
                    return None
                return self._entry(fd, name, path, info, hashed=True).sha256
        except (NotFound, NotADirectory):
            return None

    def discard(self, path: str) -> None:
        """Remove a file or folder below ``.pva/staging`` (gone already: fine), never following links."""
        names = segments(path)
        if len(names) < 3 or "/".join(names[:2]) != STAGING:
            raise Refused(path, f"discard only removes entries below {STAGING}/, not {path!r}")
        parent, name = _split(path)
        try:
            fd = self._fs.open_dir(parent)
        except (NotFound, NotADirectory):
            return
        with self._fs.opened(fd):
            with translated(path):
                try:
                    self._fs.calls.lstatat(fd, name)
                except FileNotFoundError:
                    return
            self._fs.remove_at(fd, name, path)

    def sync(self) -> None:
        """syncfs on the store's filesystem; sync of every filesystem where syncfs is missing."""
        calls = self._fs.calls
        try:
            calls.syncfs(self._fs.root_fd)
        except OSError as error:
            if error.errno != errno.ENOSYS:
                raise translate(error, "") from error
            with translated(""):
                calls.sync()


class _Source:
    """The footprint reader's protocol (``planner.core.footprint.ReadSource``) on a local backend."""

    def __init__(self, backend: LocalBackend) -> None:
        self.backend = backend

    def stat(self, path: str) -> Entry | None:
        return self.backend._metadata(path)  # noqa: SLF001  # the backend's own adapter

    def listing(self, folder: str) -> list[Entry]:
        return self.backend._listing(folder)  # noqa: SLF001

    def below(self, folder: str) -> Iterator[Entry]:
        return (e for e in self.backend._walk(folder, hashed=False) if e.path != folder)  # noqa: SLF001

    def hashed(self, entry: Entry) -> Entry | None:
        return self.backend._hashed(entry)  # noqa: SLF001


class _LocalStream:
    """A file open by descriptor (``FileStream``): what ``open_read`` checked is what is read."""

    def __init__(self, fs: Confined, fd: int, entry: Entry) -> None:
        self._fs, self._fd, self.entry = fs, fd, entry

    def hash(self) -> tuple[str, int]:
        """The sha256 and size of the bytes behind the descriptor."""
        digest, size = hashlib.sha256(), 0
        for chunk in self.chunks(0, None):
            digest.update(chunk)
            size += len(chunk)
        return digest.hexdigest(), size

    def chunks(self, start: int, stop: int | None) -> Iterator[bytes]:
        """The bytes in ``[start, stop)`` (to the end for None), read with pread, at most CHUNK at a time."""
        offset = start
        while stop is None or offset < stop:
            want = CHUNK if stop is None else min(CHUNK, stop - offset)
            with translated(self.entry.path):
                chunk = self._fs.calls.pread(self._fd, want, offset)
            if not chunk:
                return
            offset += len(chunk)
            yield chunk

    def close(self) -> None:
        if self._fd >= 0:
            self._fs.close_quietly(self._fd)
            self._fd = -1


def _conforms(backend: LocalBackend) -> Backend:
    """Type-level proof that ``LocalBackend`` implements the protocol."""
    return backend
