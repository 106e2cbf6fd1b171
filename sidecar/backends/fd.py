"""The fd-relative system calls the local backend makes, gathered in one class.

Each method is a thin wrapper that raises ``OSError`` exactly as the kernel
does; translating errors is the backend's job (``sidecar.backends.local``).
Tests inject faults by subclassing ``SysCalls`` (the backend takes an
instance), never by patching this module. Linux only: ``openat2`` and
``renameat2`` go through ctypes, and report ``ENOSYS`` where they are missing.
"""

from __future__ import annotations

import ctypes
import errno
import os
from functools import cache

RESOLVE_NO_MAGICLINKS = 0x02
RESOLVE_NO_SYMLINKS = 0x04
RESOLVE_BENEATH = 0x08
# What the backend asks of openat2: stay below the starting folder, follow no link at all.
RESOLVE_CONFINED = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS
RENAME_NOREPLACE = 1

# openat2 has the same number on every architecture (the unified syscall table, Linux 5.6+).
_SYS_OPENAT2 = 437


class _OpenHow(ctypes.Structure):
    """``struct open_how`` of openat2(2)."""

    _fields_ = (("flags", ctypes.c_uint64), ("mode", ctypes.c_uint64), ("resolve", ctypes.c_uint64))


@cache
def _libc() -> ctypes.CDLL | None:
    """The C library with errno capture, or None where there is none to load."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
    except OSError:  # pragma: no cover - every Linux has a libc
        return None
    libc.syscall.restype = ctypes.c_long
    if hasattr(libc, "renameat2"):
        path, fd = ctypes.c_char_p, ctypes.c_int
        libc.renameat2.argtypes = (fd, path, fd, path, ctypes.c_uint)
        libc.renameat2.restype = ctypes.c_int
    if hasattr(libc, "syncfs"):
        libc.syncfs.argtypes = (ctypes.c_int,)
        libc.syncfs.restype = ctypes.c_int
    return libc


def _raise_errno(what: str) -> None:
    code = ctypes.get_errno()
    raise OSError(code, os.strerror(code), what)


def _unsupported(what: str) -> OSError:
    return OSError(errno.ENOSYS, os.strerror(errno.ENOSYS), what)


class SysCalls:
    """The system calls of the local backend; every path argument is one name or relative to ``dirfd``."""

    # -- opening -----------------------------------------------------------

    def open_root(self, path: str) -> int:
        """Open the store root (the one absolute path the backend ever opens)."""
        return os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)

    def openat(self, dirfd: int, name: str, flags: int, mode: int = 0o666) -> int:
        return os.open(name, flags | os.O_CLOEXEC, mode, dir_fd=dirfd)

    def openat2(self, dirfd: int, path: str, flags: int, resolve: int) -> int:
        """Open through the openat2 syscall, without a mode (the backend never creates through it)."""
        libc = _libc()
        if libc is None:
            raise _unsupported("openat2")
        how = _OpenHow(flags | os.O_CLOEXEC, 0, resolve)
        fd = libc.syscall(
            ctypes.c_long(_SYS_OPENAT2),
            ctypes.c_int(dirfd),
            ctypes.c_char_p(os.fsencode(path)),
            ctypes.byref(how),
            ctypes.c_size_t(ctypes.sizeof(how)),
        )
        if fd < 0:
            _raise_errno(path)
        return int(fd)

    def close(self, fd: int) -> None:
        os.close(fd)

    # -- metadata and listings ---------------------------------------------

    def fstat(self, fd: int) -> os.stat_result:
        return os.fstat(fd)

    def lstatat(self, dirfd: int, name: str) -> os.stat_result:
        """fstatat(2) with AT_SYMLINK_NOFOLLOW: a link is described, never followed."""
        return os.stat(name, dir_fd=dirfd, follow_symlinks=False)

    def listdir(self, fd: int) -> list[str]:
        """The names in the folder open as ``fd`` (the fd itself is neither moved nor closed)."""
        return os.listdir(fd)

    # -- changing names ----------------------------------------------------

    def mkdirat(self, dirfd: int, name: str, mode: int = 0o777) -> None:
        os.mkdir(name, mode, dir_fd=dirfd)

    def rmdirat(self, dirfd: int, name: str) -> None:
        os.rmdir(name, dir_fd=dirfd)

    def unlinkat(self, dirfd: int, name: str) -> None:
        os.unlink(name, dir_fd=dirfd)

    def renameat2(self, src_dirfd: int, src: str, dst_dirfd: int, dst: str, flags: int) -> None:
        libc = _libc()
        if libc is None or not hasattr(libc, "renameat2"):
            raise _unsupported("renameat2")
        if libc.renameat2(src_dirfd, os.fsencode(src), dst_dirfd, os.fsencode(dst), flags) != 0:
            _raise_errno(dst)

    def linkat(self, src_dirfd: int, src: str, dst_dirfd: int, dst: str) -> None:
        """A second name for a file; never follows a link, fails if ``dst`` exists."""
        os.link(src, dst, src_dir_fd=src_dirfd, dst_dir_fd=dst_dirfd, follow_symlinks=False)

    # -- content and durability --------------------------------------------

    def read(self, fd: int, size: int) -> bytes:
        return os.read(fd, size)

    def pread(self, fd: int, size: int, offset: int) -> bytes:
        return os.pread(fd, size, offset)

    def write(self, fd: int, data: bytes | memoryview) -> int:
        return os.write(fd, data)

    def fsync(self, fd: int) -> None:
        os.fsync(fd)

    def syncfs(self, fd: int) -> None:
        """Flush the filesystem holding ``fd`` (syncfs(2)); ENOSYS where libc lacks it."""
        libc = _libc()
        if libc is None or not hasattr(libc, "syncfs"):
            raise _unsupported("syncfs")
        if libc.syncfs(fd) != 0:
            _raise_errno("syncfs")

    def sync(self) -> None:
        """Flush every filesystem (sync(2)), the fallback where syncfs is missing."""
        os.sync()
