"""Faults: failing system calls become pva errors, and staging never leaves partial content.

Faults come from ``FaultyCalls`` (``tests/backends/faults.py``), a
``SysCalls`` subclass the backend is given: no patching.
"""

from __future__ import annotations

import errno
import hashlib
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from planner.core.entry import Blob
from planner.core.errors import AlreadyExists, IsADirectory, NotADirectory, NotFound, PvaError, TreeError
from planner.core.footprint import Read
from sidecar.apply.direct import DirectOps
from sidecar.backends.base import STAGING
from sidecar.backends.local import LocalBackend
from sidecar.errors import Refused, StoreFault
from tests.backends.conftest import snapshot
from tests.backends.faults import Fault, FaultyCalls

TARGET = f"{STAGING}/t/1"
DATA = b"0123456789"


def local(store: Path, *faults: Fault, **options: object) -> tuple[LocalBackend, FaultyCalls]:
    calls = FaultyCalls(*faults, **options)  # type: ignore[arg-type]
    return LocalBackend(store, calls=calls), calls


@pytest.fixture
def staging(store: Path) -> Path:
    """The staging folder ``t``, made through the backdoor (so no backend fsync happens first)."""
    folder = store / STAGING / "t"
    folder.mkdir(parents=True)
    return folder


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EIO])
@pytest.mark.parametrize("nth", [1, 2, 3])
def test_a_failed_write_leaves_no_staged_file(store: Path, staging: Path, code: int, nth: int) -> None:
    """stage_bytes whose nth write fails raises StoreFault with that errno and leaves nothing behind."""
    backend, calls = local(store, Fault("write", code, nth=nth), max_write=4)
    with backend, pytest.raises(StoreFault) as caught:
        backend.stage_bytes(TARGET, DATA)
    assert (caught.value.errno, caught.value.path) == (code, TARGET)
    assert calls.raised == [("write", code)]
    assert os.listdir(staging) == []


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EIO])
@pytest.mark.parametrize("nth", [1, 2])  # the file's fsync, then its folder's after the rename
def test_a_failed_fsync_leaves_no_staged_file(store: Path, staging: Path, code: int, nth: int) -> None:
    """stage_bytes whose file or folder fsync fails raises StoreFault and leaves nothing behind."""
    backend, calls = local(store, Fault("fsync", code, nth=nth))
    with backend, pytest.raises(StoreFault) as caught:
        backend.stage_bytes(TARGET, DATA)
    assert caught.value.errno == code
    assert calls.raised == [("fsync", code)]
    assert os.listdir(staging) == []


@pytest.mark.parametrize(
    ("method", "nth"), [("write", 1), ("write", 3), ("fsync", 1), ("fsync", 4), ("read", 2)]
)
def test_a_failed_copy_leaves_no_staged_tree(store: Path, staging: Path, method: str, nth: int) -> None:
    """stage_copy of a folder that fails midway (write, fsync, read) leaves no file or folder behind."""
    (store / "a" / "sub" / "z.txt").write_bytes(b"zzz")
    backend, _ = local(store, Fault(method, errno.EIO, nth=nth))
    with backend, pytest.raises(StoreFault):
        backend.stage_copy(TARGET, "a")
    assert os.listdir(staging) == []


def test_short_writes_still_stage_every_byte(store: Path, staging: Path) -> None:
    """Writes that take one byte at a time still stage the whole content, for bytes and copies."""
    backend, calls = local(store, max_write=1)
    with backend:
        backend.stage_bytes(TARGET, DATA)
        backend.stage_copy(f"{STAGING}/t/2", "a")
    assert (staging / "1").read_bytes() == DATA
    assert (staging / "2" / "x.txt").read_bytes() == b"inside"
    assert calls.counts["write"] == len(DATA) + len(b"inside") + len(b"inside too")


ERRNO_TO_ERROR = [
    (errno.ENOENT, NotFound),
    (errno.EEXIST, AlreadyExists),
    (errno.ENOTEMPTY, AlreadyExists),
    (errno.ENOTDIR, NotADirectory),
    (errno.EISDIR, IsADirectory),
    (errno.ELOOP, Refused),
    (errno.ENOSPC, StoreFault),
    (errno.EIO, StoreFault),
    (errno.EACCES, StoreFault),
    (errno.EROFS, StoreFault),
    (errno.EPERM, StoreFault),
    (errno.EDQUOT, StoreFault),
]


@pytest.mark.parametrize(
    ("code", "kind"), ERRNO_TO_ERROR, ids=[errno.errorcode[c] for c, _ in ERRNO_TO_ERROR]
)
def test_each_errno_becomes_its_pva_error(store: Path, code: int, kind: type[PvaError]) -> None:
    """An OSError from the kernel reaches the caller as its pva error, never as an OSError."""
    backend, _ = local(store, Fault("mkdirat", code))
    with backend, pytest.raises(kind) as caught:
        backend.mkdir("b/new")
    assert not isinstance(caught.value, OSError)
    if kind is StoreFault:
        assert isinstance(caught.value, StoreFault)
        assert caught.value.errno == code


TRANSLATED = [
    pytest.param(
        Fault("renameat2", errno.EXDEV),
        lambda b: b.rename("a/x.txt", "b/x.txt"),
        TreeError,
        id="renameat2-EXDEV",
    ),
    pytest.param(
        Fault("renameat2", errno.ENOSPC),
        lambda b: b.rename("a/x.txt", "b/x.txt"),
        StoreFault,
        id="renameat2-ENOSPC",
    ),
    pytest.param(Fault("lstatat", errno.EIO), lambda b: b.stat("a/x.txt"), StoreFault, id="lstatat-EIO"),
    pytest.param(
        Fault("lstatat", errno.EACCES), lambda b: b.exists("a/x.txt"), StoreFault, id="lstatat-EACCES"
    ),
    pytest.param(Fault("listdir", errno.EIO), lambda b: b.walk("a"), StoreFault, id="listdir-EIO"),
    pytest.param(Fault("listdir", errno.EIO), lambda b: b.collision("a/X.txt"), StoreFault, id="listdir-EIO"),
    pytest.param(Fault("read", errno.EIO), lambda b: b.stat("a/x.txt"), StoreFault, id="read-EIO"),
    pytest.param(
        Fault("fstat", errno.EIO),
        lambda b: b.read_tree([Read("a/x.txt", hashed=True)]),
        StoreFault,
        id="fstat-EIO",
    ),
    pytest.param(Fault("rmdirat", errno.EBUSY), lambda b: b.rmdir("b"), StoreFault, id="rmdirat-EBUSY"),
    pytest.param(Fault("syncfs", errno.EIO), lambda b: b.sync(), StoreFault, id="syncfs-EIO"),
    pytest.param(Fault("sync", errno.EIO), lambda b: b.sync(), StoreFault, id="sync-EIO"),
    pytest.param(
        Fault("openat", errno.EMFILE, times=0), lambda b: b.walk(""), StoreFault, id="openat-EMFILE"
    ),
]


@pytest.mark.parametrize(("fault", "action", "kind"), TRANSLATED)
def test_faults_in_every_kind_of_call_are_translated(
    store: Path, fault: Fault, action: Callable[[LocalBackend], object], kind: type[PvaError]
) -> None:
    """Faults in renames, metadata, listings, reads, syncs and opens come out as pva errors."""
    faults = [fault] if fault.method != "sync" else [Fault("syncfs", errno.ENOSYS), fault]
    backend, _ = local(store, *faults)
    with backend, pytest.raises(kind):
        action(backend)


def test_a_missing_syncfs_falls_back_to_sync(store: Path) -> None:
    """Where syncfs is missing (ENOSYS), sync() flushes with sync(2) instead."""
    backend, calls = local(store, Fault("syncfs", errno.ENOSYS))
    with backend:
        backend.sync()
    assert (calls.counts["syncfs"], calls.counts["sync"]) == (1, 1)


@pytest.mark.parametrize("code", [errno.ENOSYS, errno.EPERM])
def test_a_missing_or_forbidden_openat2_falls_back_to_the_walk(store: Path, code: int) -> None:
    """When the openat2 probe fails (ENOSYS, or EPERM from seccomp), paths are walked instead."""
    backend, calls = local(store, Fault("openat2", code))
    with backend:
        assert not backend.resolves_beneath
        assert backend.stat("a/sub/y.txt") is not None
    assert calls.counts["openat2"] == 1


@pytest.mark.parametrize("code", [errno.EINVAL, errno.ENOSYS])
def test_without_rename_noreplace_files_move_by_link_and_folders_stay(store: Path, code: int) -> None:
    """Without RENAME_NOREPLACE a file moves by link+unlink (still never replacing); a folder is not moved."""
    backend, calls = local(store, Fault("renameat2", code, times=0))
    with backend:
        backend.rename("a/x.txt", "b/x.txt")
        assert (store / "b" / "x.txt").read_bytes() == b"inside"
        assert not (store / "a" / "x.txt").exists()
        before = snapshot(store)
        with pytest.raises(AlreadyExists):
            backend.rename("a/sub/y.txt", "b/x.txt")
        with pytest.raises(TreeError if code == errno.EINVAL else StoreFault):
            backend.rename("a/sub", "b/sub")
        assert snapshot(store) == before
    assert calls.counts["linkat"] == 2


def test_a_failed_unlink_after_link_puts_the_file_back(store: Path) -> None:
    """If the unlink of the link+unlink fallback fails, the new name is removed: the file is where it was."""
    backend, _ = local(store, Fault("renameat2", errno.ENOSYS), Fault("unlinkat", errno.EIO))
    before = snapshot(store)
    with backend, pytest.raises(StoreFault):
        backend.rename("a/x.txt", "b/x.txt")
    assert snapshot(store) == before
    assert (store / "a" / "x.txt").stat().st_nlink == 1


def workload(backend: LocalBackend) -> None:
    """Every backend method once, and every DirectOps op."""
    ops = DirectOps(backend)
    data = b"fresh"
    ops.write_file("b/new.txt", Blob(hashlib.sha256(data).hexdigest(), len(data), data))
    ops.copy("a", "b/a")
    ops.move("b/a", "c")
    ops.delete("c")
    ops.make_dir("d")
    backend.stat("a/x.txt")
    backend.walk("")
    backend.deepest("a")
    backend.collision("A/x.txt")
    backend.read_tree([Read("a/sub", tree=True, hashed=True)])
    backend.exists("b/new.txt")
    backend.rmdir("d")
    backend.ensure_dir(f"{STAGING}/w")
    backend.stage_bytes(f"{STAGING}/w/1", data)
    backend.stage_copy(f"{STAGING}/w/2", "a")
    backend.discard(f"{STAGING}/w")
    backend.sync()


def test_a_fault_at_any_system_call_is_a_pva_error(tmp_path: Path, store: Path) -> None:
    """Failing any single system call of a full workload, in turn, raises a pva error and never an OSError."""
    probe = FaultyCalls(durable=False)
    with LocalBackend(store, calls=probe) as backend:
        workload(backend)
    total = probe.total()
    assert total > 100
    for nth in range(1, total + 1):
        root = tmp_path / f"s{nth}"
        (root / "a" / "sub").mkdir(parents=True)
        (root / "a" / "x.txt").write_bytes(b"x")
        (root / "b").mkdir()
        calls = FaultyCalls(
            Fault("*", [errno.EIO, errno.ENOSPC, errno.EACCES][nth % 3], nth=nth), durable=False
        )
        try:
            with LocalBackend(root, calls=calls) as backend:
                workload(backend)
        except PvaError:
            pass
        # A fault in close() is swallowed on purpose (read-only or fsynced descriptors only).
        assert calls.raised == [] or len(calls.raised) == 1, nth
