"""Descriptor-only access below one root folder: the confinement under ``LocalBackend``.

The root is opened once; every other folder is opened from it, name by name
with ``O_NOFOLLOW | O_DIRECTORY`` (or in one ``openat2`` call with
``RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS`` where the kernel has it), and every
call after that is an ``*at()`` call relative to a folder opened that way. No
path is resolved by name, so a folder swapped for a symlink mid-call is
refused, never followed. Entries are looked at with ``AT_SYMLINK_NOFOLLOW``
before anything opens them: symlinks, hard-linked files and special files
are refused (``Refused``); a file is opened ``O_NOFOLLOW | O_NONBLOCK`` (a
FIFO swapped in cannot block) and checked again by fstat.

Every ``OSError`` is translated here (``translate``), with the path it concerns.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import stat
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from planner.core.entry import stored_kind
from planner.core.errors import AlreadyExists, IsADirectory, NotADirectory, NotFound, PvaError, TreeError
from planner.core.paths import is_utf8, join
from sidecar.backends.fd import RENAME_NOREPLACE, RESOLVE_CONFINED, SysCalls
from sidecar.errors import Refused, StoreFault

log = logging.getLogger("pva.store")

CHUNK = 1024 * 1024  # bytes per read when hashing or copying
DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW
READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY
CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
# openat2 is missing, or forbidden (seccomp says EPERM): resolve by walking instead.
_NO_OPENAT2 = frozenset({errno.ENOSYS, errno.EPERM, errno.EINVAL, errno.E2BIG})


def translate(error: OSError, path: str) -> PvaError:
    """pva's error for an ``OSError`` met while working on ``path``."""
    code = error.errno
    if code == errno.ENOENT:
        return NotFound(path, f"{path!r} does not exist")
    if code in (errno.EEXIST, errno.ENOTEMPTY):
        return AlreadyExists(path, f"{path!r} already exists")
    if code == errno.ENOTDIR:
        return NotADirectory(path, f"a file stands where {path!r} needs a folder")
    if code == errno.EISDIR:
        return IsADirectory(path, f"{path!r} is a folder")
    if code == errno.ELOOP:
        return Refused(path, f"{path!r} crosses a symlink; pva never follows links")
    reason = error.strerror or errno.errorcode.get(code or 0, "storage error")
    return StoreFault(path, f"{path!r}: {reason}", errno=code)


@contextmanager
def translated(path: str) -> Iterator[None]:
    """Turn any ``OSError`` raised inside into pva's error for ``path``."""
    try:
        yield
    except OSError as error:
        raise translate(error, path) from error


def segments(path: str) -> list[str]:
    """The names along ``path``; anything that could climb or be absolute is refused."""
    if not path:
        return []
    names = path.split("/")
    if any(name in ("", ".", "..") or "\0" in name for name in names):
        raise Refused(path, f"{path!r} is not a relative store path")
    return names


def check(info: os.stat_result, path: str) -> None:
    """Refuse anything but store content (``stored_kind``): a folder or a regular file with one name."""
    if stored_kind(info.st_mode, info.st_nlink) is not None:
        return
    mode = info.st_mode
    if stat.S_ISLNK(mode):
        raise Refused(path, f"{path!r} is a symlink; pva never follows links")
    if not stat.S_ISREG(mode):
        raise Refused(path, f"{path!r} is a special file (FIFO, socket or device); pva will not touch it")
    raise Refused(path, f"{path!r} is hard-linked ({info.st_nlink} names); pva will not touch it")


def _same_file(info: os.stat_result, seen: os.stat_result, path: str) -> None:
    """Refuse an open file that is not a single-name regular file, or not the one listed."""
    check(info, path)
    if stat.S_ISDIR(info.st_mode) or (info.st_dev, info.st_ino) != (seen.st_dev, seen.st_ino):
        raise Refused(path, f"{path!r} changed while pva read it")


def _unsafe_folder_rename(src: str, dst: str, error: OSError) -> PvaError:
    """A folder rename without RENAME_NOREPLACE: refused, as a plain rename could replace an empty folder.

    EINVAL also means "into itself" (the store changed since the caller checked): a TreeError either way.
    """
    if error.errno == errno.EINVAL:
        return TreeError(dst, f"cannot move folder {src!r} to {dst!r}: into itself, or unsafe here")
    message = f"cannot move folder {src!r} to {dst!r} safely: renameat2 is missing"
    return StoreFault(dst, message, errno=error.errno)


def temporary_name() -> str:
    """A fresh name for content being built before it is renamed into place."""
    return f".pva-tmp-{uuid.uuid4().hex}"


class Confined:
    """A folder tree reached only through descriptors opened beneath its root."""

    def __init__(self, root: Path, calls: SysCalls, *, openat2: bool) -> None:
        self.calls = calls
        with translated(os.fspath(root)):
            self.root_fd = calls.open_root(os.fspath(root))
        self.beneath = openat2 and self._probe_openat2()

    def _probe_openat2(self) -> bool:
        try:
            fd = self.calls.openat2(self.root_fd, ".", DIR_FLAGS, RESOLVE_CONFINED)
        except OSError as error:
            if error.errno in _NO_OPENAT2:
                return False
            self.close()
            raise translate(error, "") from error
        self.close_quietly(fd)
        return True

    def close(self) -> None:
        self.close_quietly(self.root_fd)

    def close_quietly(self, fd: int) -> None:
        # Only read-only or already fsynced descriptors are closed this way: no data can be lost.
        with suppress(OSError):
            self.calls.close(fd)

    @contextmanager
    def opened(self, fd: int) -> Iterator[int]:
        """Own ``fd`` for the block, then close it."""
        try:
            yield fd
        finally:
            self.close_quietly(fd)

    # -- folders -------------------------------------------------------------

    @contextmanager
    def folder(self, path: str) -> Iterator[int]:
        """A descriptor on the folder ``path``, opened without following any link."""
        with self.opened(self.open_dir(path)) as fd:
            yield fd

    def open_dir(self, path: str) -> int:
        names = segments(path)
        if self.beneath and names:
            try:
                return self.calls.openat2(self.root_fd, path, DIR_FLAGS, RESOLVE_CONFINED)
            except OSError as error:
                if error.errno == errno.ENOENT:
                    raise NotFound(path, f"folder {path!r} does not exist") from error
                # Anything else: the walk below names exactly what is wrong, and is as safe.
        fd = self.open_child(self.root_fd, ".", "")
        try:
            for index, name in enumerate(names):
                child = self.open_child(fd, name, "/".join(names[: index + 1]), path)
                self.close_quietly(fd)
                fd = child
        except BaseException:
            self.close_quietly(fd)
            raise
        return fd

    def open_child(self, dirfd: int, name: str, path: str, wanted: str | None = None) -> int:
        """Open the folder ``name`` in ``dirfd``; NotFound and NotADirectory name ``wanted``."""
        wanted = path if wanted is None else wanted
        try:
            return self.calls.openat(dirfd, name, DIR_FLAGS)
        except OSError as error:
            if error.errno == errno.ENOENT:
                raise NotFound(wanted, f"folder {wanted!r} does not exist") from error
            if error.errno not in (errno.ENOTDIR, errno.ELOOP):
                raise translate(error, path) from error
            # O_NOFOLLOW | O_DIRECTORY says ENOTDIR for a symlink too: look at what is there.
            if self.lstat(dirfd, name, path) is None:
                raise NotFound(wanted, f"folder {wanted!r} does not exist") from error
            raise NotADirectory(wanted, f"{path!r} is a file, not a folder") from error

    def names(self, fd: int, path: str, *, listing: bool = False) -> list[str]:
        """The sorted names in a folder; a name that is not UTF-8 cannot be a store path.

        Such a name is ``Refused``, or, for a ``listing`` (what agents read),
        left out and logged, as links are left out of listings.
        """
        with translated(path):
            names = sorted(self.calls.listdir(fd))
        undecodable = [name for name in names if not is_utf8(name)]
        if undecodable and not listing:
            raise Refused(path, f"a name in {path!r} is not UTF-8: {undecodable[0]!r}")
        if undecodable:
            log.warning(
                "left %d name(s) that are not UTF-8 out of a listing of %r, such as %s",
                len(undecodable),
                path,
                ascii(undecodable[0]),
            )
            return [name for name in names if is_utf8(name)]
        return names

    # -- entries -------------------------------------------------------------

    def lstat(self, dirfd: int, name: str, path: str) -> os.stat_result | None:
        """Metadata of ``name``, never following it; None if absent; refuses links and specials."""
        try:
            info = self.calls.lstatat(dirfd, name)
        except OSError as error:
            if error.errno == errno.ENOENT:
                return None
            raise translate(error, path) from error
        check(info, path)
        return info

    def open_file(self, dirfd: int, name: str, path: str, seen: os.stat_result) -> int:
        """Open a regular file for reading and prove it is the one ``seen`` by lstat."""
        with translated(path):
            fd = self.calls.openat(dirfd, name, READ_FLAGS)
        try:
            with translated(path):
                info = self.calls.fstat(fd)
            _same_file(info, seen, path)
        except BaseException:
            self.close_quietly(fd)
            raise
        return fd

    def hash_file(self, dirfd: int, name: str, path: str, seen: os.stat_result) -> tuple[str, int]:
        """The sha256 (hex) and size of the bytes read, through the descriptor."""
        with self.opened(self.open_file(dirfd, name, path, seen)) as fd, translated(path):
            digest, size = hashlib.sha256(), 0
            while chunk := self.calls.read(fd, CHUNK):
                digest.update(chunk)
                size += len(chunk)
        return digest.hexdigest(), size

    # -- creating ------------------------------------------------------------

    def exists_error(self, dirfd: int, name: str, path: str, error: OSError) -> PvaError:
        """The error for a create that failed; a link or special file in the way is refused."""
        if error.errno in (errno.EEXIST, errno.ENOTEMPTY):
            self.lstat(dirfd, name, path)  # raises Refused for a link, special or hard-linked file
            return AlreadyExists(path, f"{path!r} already exists")
        return translate(error, path)

    def mkdir_at(self, dirfd: int, name: str, path: str) -> None:
        try:
            self.calls.mkdirat(dirfd, name)
        except OSError as error:
            raise self.exists_error(dirfd, name, path, error) from error

    def create_file(self, dirfd: int, name: str, path: str) -> tuple[int, tuple[int, int]]:
        """A new file open for writing, and its (dev, ino) to recognise it later."""
        try:
            fd = self.calls.openat(dirfd, name, CREATE_FLAGS)
        except OSError as error:
            raise self.exists_error(dirfd, name, path, error) from error
        try:
            with translated(path):
                info = self.calls.fstat(fd)
        except BaseException:
            self.close_quietly(fd)
            raise
        return fd, (info.st_dev, info.st_ino)

    def write_all(self, fd: int, data: bytes) -> None:
        """Write every byte (writes may be short); raises OSError."""
        view = memoryview(data)
        while view:
            written = self.calls.write(fd, view)
            if written <= 0:
                raise OSError(errno.EIO, "write made no progress")
            view = view[written:]

    def write_file(self, dirfd: int, name: str, path: str, data: bytes, *, fsync: bool = True) -> None:
        """Create ``name`` holding ``data`` (fsynced unless told not); removed again on failure."""
        fd, own = self.create_file(dirfd, name, path)
        try:
            with translated(path):
                self.write_all(fd, data)
                if fsync:
                    self.calls.fsync(fd)
        except BaseException:
            self.close_quietly(fd)
            self.unlink_own(dirfd, name, own)
            raise
        self.close_quietly(fd)

    def unlink_own(self, dirfd: int, name: str, own: tuple[int, int]) -> None:
        """Best effort: remove the file this call created (and nothing that replaced it)."""
        with suppress(OSError):
            info = self.calls.lstatat(dirfd, name)
            if (info.st_dev, info.st_ino) == own:
                self.calls.unlinkat(dirfd, name)

    # -- renaming ------------------------------------------------------------

    def rename_at(
        self, srcfd: int, src_name: str, dstfd: int, dst_name: str, paths: tuple[str, str], *, folder: bool
    ) -> None:
        """Rename without ever replacing; ``paths`` (src, dst) name the two for errors."""
        src, dst = paths
        try:
            self.calls.renameat2(srcfd, src_name, dstfd, dst_name, RENAME_NOREPLACE)
        except OSError as error:
            code = error.errno
            if code in (errno.EEXIST, errno.ENOTEMPTY):
                raise self.exists_error(dstfd, dst_name, dst, error) from error
            if code == errno.ENOENT:
                raise NotFound(src, f"{src!r} (or the folder of {dst!r}) vanished") from error
            if code == errno.EXDEV:
                message = f"cannot move {src!r} to {dst!r}: they are on different mounts"
                raise TreeError(dst, message) from error
            if code not in (errno.EINVAL, errno.ENOSYS):
                raise translate(error, dst) from error
            if folder:
                raise _unsafe_folder_rename(src, dst, error) from error
            self._link_then_unlink(srcfd, src_name, dstfd, dst_name, paths)

    def _link_then_unlink(
        self, srcfd: int, src_name: str, dstfd: int, dst_name: str, paths: tuple[str, str]
    ) -> None:
        """Rename a file without RENAME_NOREPLACE: ``link`` is create-only, then the old name goes."""
        src, dst = paths
        try:
            self.calls.linkat(srcfd, src_name, dstfd, dst_name)
        except OSError as error:
            raise self.exists_error(dstfd, dst_name, dst, error) from error
        try:
            self.calls.unlinkat(srcfd, src_name)
        except OSError as error:
            with suppress(OSError):
                self.calls.unlinkat(dstfd, dst_name)  # back to one name, as if nothing happened
            raise translate(error, src) from error

    # -- copying and removing ------------------------------------------------

    def copy_at(self, source: tuple[int, str, str, os.stat_result], dirfd: int, name: str, path: str) -> None:
        """Create ``name`` in ``dirfd`` as a copy of ``source`` (dirfd, name, path, lstat).

        Every file and folder created is fsynced (not ``dirfd`` itself); links
        and special files in the source are refused; on failure, what this call
        created is removed. Folders are walked with a stack, not recursion: a
        valid path may have 512 segments.
        """
        srcfd, src_name, src, info = source
        if not stat.S_ISDIR(info.st_mode):
            with self.opened(self.open_file(srcfd, src_name, src, info)) as fromfd:
                self._copy_file(fromfd, src, dirfd, name, path)
            return
        self.mkdir_at(dirfd, name, path)
        frames: list[tuple[int, int, str, str, Iterator[str]]] = []  # from, to, src, path, names left
        try:
            self._push_copy(frames, (srcfd, src_name, src), (dirfd, name, path))
            while frames:
                fromfd, tofd, folder_src, folder, children = frames[-1]
                child = next(children, None)
                if child is None:
                    with translated(folder):
                        self.calls.fsync(tofd)
                    frames.pop()
                    self.close_quietly(fromfd)
                    self.close_quietly(tofd)
                    continue
                child_src, child_path = join(folder_src, child), join(folder, child)
                child_info = self.lstat(fromfd, child, child_src)
                if child_info is None:
                    continue
                if stat.S_ISDIR(child_info.st_mode):
                    self.mkdir_at(tofd, child, child_path)
                    self._push_copy(frames, (fromfd, child, child_src), (tofd, child, child_path))
                else:
                    with self.opened(self.open_file(fromfd, child, child_src, child_info)) as filefd:
                        self._copy_file(filefd, child_src, tofd, child, child_path)
        except BaseException:
            for fromfd, tofd, *_ in frames:
                self.close_quietly(fromfd)
                self.close_quietly(tofd)
            with suppress(PvaError):
                self.remove_at(dirfd, name, path)
            raise

    def _push_copy(
        self,
        frames: list[tuple[int, int, str, str, Iterator[str]]],
        source: tuple[int, str, str],
        target: tuple[int, str, str],
    ) -> None:
        """Open a source folder and its new copy, and stack them with the names to copy."""
        srcfd, src_name, src = source
        dirfd, name, path = target
        fromfd = self.open_child(srcfd, src_name, src)
        try:
            tofd = self.open_child(dirfd, name, path)
        except BaseException:
            self.close_quietly(fromfd)
            raise
        try:
            children = iter(self.names(fromfd, src))
        except BaseException:
            self.close_quietly(fromfd)
            self.close_quietly(tofd)
            raise
        frames.append((fromfd, tofd, src, path, children))

    def _copy_file(self, fromfd: int, src: str, dirfd: int, name: str, path: str) -> None:
        fd, own = self.create_file(dirfd, name, path)
        try:
            while True:
                with translated(src):
                    chunk = self.calls.read(fromfd, CHUNK)
                if not chunk:
                    break
                with translated(path):
                    self.write_all(fd, chunk)
            with translated(path):
                self.calls.fsync(fd)
        except BaseException:
            self.close_quietly(fd)
            self.unlink_own(dirfd, name, own)
            raise
        self.close_quietly(fd)

    def remove_at(self, dirfd: int, name: str, path: str) -> None:
        """Remove ``name`` and all below it; a link or special file is unlinked, never followed.

        Folders are emptied with a stack, not recursion: a path may have 512 segments.
        """
        frames: list[tuple[int, str, str, int, Iterator[str]]] = []  # parent, name, path, fd, names left
        try:
            pending: tuple[int, str, str] | None = (dirfd, name, path)
            while pending is not None or frames:
                if pending is not None:
                    parentfd, entry, entry_path = pending
                    pending = None
                    with translated(entry_path):
                        info = self.calls.lstatat(parentfd, entry)
                    if not stat.S_ISDIR(info.st_mode):
                        with translated(entry_path):
                            self.calls.unlinkat(parentfd, entry)
                        continue
                    fd = self.open_child(parentfd, entry, entry_path)
                    try:
                        children = iter(self.names(fd, entry_path))
                    except BaseException:
                        self.close_quietly(fd)
                        raise
                    frames.append((parentfd, entry, entry_path, fd, children))
                    continue
                parentfd, entry, entry_path, fd, children = frames[-1]
                child = next(children, None)
                if child is not None:
                    pending = (fd, child, join(entry_path, child))
                    continue
                frames.pop()
                self.close_quietly(fd)
                with translated(entry_path):
                    self.calls.rmdirat(parentfd, entry)
        finally:
            for _, _, _, fd, _ in frames:
                self.close_quietly(fd)
