"""The stores benchmark ``apply`` works on, and its baselines: plain ``os`` calls, no pva code.

A move store is ``m/in/dIII/doc-III-JJJ.pdf`` (100 folders) with 100 empty
folders ``m/out/dJJJ``; file J of folder I moves to ``m/out/dJJJ`` (a
transpose: every target folder receives files from every source folder), and
back again. Files hold 4 KiB of seeded random bytes, so both stores of one
run (pva's and the baseline's) are byte-for-byte the same.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import random
from dataclasses import dataclass
from pathlib import Path

FILE_BYTES = 4096
FOLDERS = 100
SEED = 20261129


def filesystem(path: Path) -> str:
    """The type of the filesystem holding ``path`` (ext4, tmpfs, ...), from /proc/self/mounts."""
    target = os.path.realpath(path)
    best, kind = "", "unknown"
    try:
        lines = Path("/proc/self/mounts").read_text(encoding="utf-8").splitlines()
    except OSError:
        return kind
    for line in lines:
        fields = line.split()
        if len(fields) < 3:
            continue
        mount = fields[1].replace("\\040", " ")
        inside = target == mount or target.startswith(mount.rstrip("/") + "/")
        if inside and len(mount) >= len(best):
            best, kind = mount, fields[2]
    return kind


@dataclass(frozen=True)
class MoveSet:
    """The moves of one direction: store paths, and each file's sha256."""

    pairs: list[tuple[str, str]]
    sha256: dict[str, str]  # file name -> digest (names travel unchanged)

    def reversed(self) -> MoveSet:
        return MoveSet([(dst, src) for src, dst in self.pairs], self.sha256)


def _in(folder: int) -> str:
    return f"m/in/d{folder:03d}"


def _out(folder: int) -> str:
    return f"m/out/d{folder:03d}"


def make_move_store(root: Path, moves: int) -> MoveSet:
    """Write the move store below ``root`` (not timed) and return the forward moves."""
    rng = random.Random(SEED)
    per_folder = max(1, moves // FOLDERS)
    pairs, digests = [], {}
    for folder in range(FOLDERS):
        (root / _in(folder)).mkdir(parents=True)
        (root / _out(folder)).mkdir(parents=True)
    for folder in range(FOLDERS):
        for index in range(per_folder):
            name = f"doc-{folder:03d}-{index:03d}.pdf"
            data = rng.randbytes(FILE_BYTES)
            (root / _in(folder) / name).write_bytes(data)
            digests[name] = hashlib.sha256(data).hexdigest()
            pairs.append((f"{_in(folder)}/{name}", f"{_out(index % FOLDERS)}/{name}"))
    return MoveSet(pairs[:moves], digests)


def write_items(folder: str, count: int) -> list[tuple[str, bytes]]:
    """``count`` new 4 KiB files spread over 10 folders below ``folder``: (store path, bytes)."""
    rng = random.Random(SEED + count)
    return [(f"{folder}/d{n % 10:02d}/new-{n:04d}.bin", rng.randbytes(FILE_BYTES)) for n in range(count)]


def make_folders(root: Path, items: list[tuple[str, bytes]]) -> None:
    for folder in sorted({path.rsplit("/", 1)[0] for path, _ in items}):
        (root / folder).mkdir(parents=True, exist_ok=True)


def flush(root: Path) -> None:
    """Flush the filesystem holding ``root`` (the syncfs system call): what earlier steps left dirty."""
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        if libc.syncfs(fd) != 0:
            code = ctypes.get_errno()
            raise OSError(code, os.strerror(code))
    finally:
        os.close(fd)


# -- the baselines --------------------------------------------------------------


def rename_loop(pairs: list[tuple[str, str]]) -> None:
    """Baseline for moves: one ``os.rename`` per move, absolute paths made beforehand."""
    for src, dst in pairs:
        os.rename(src, dst)


def absolute(root: Path, pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    base = str(root)
    return [(f"{base}/{src}", f"{base}/{dst}") for src, dst in pairs]


def durable_write_loop(root: Path, items: list[tuple[str, bytes]]) -> None:
    """Baseline for writes: per file a create-only temp, write, fsync, close, rename into place.

    Then one fsync per folder that received files, so the new names are
    durable too (pva's apply ends with a syncfs for the same reason).
    """
    base = str(root)
    folders = set()
    for path, data in items:
        final = f"{base}/{path}"
        temp = f"{final}.tmp"
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.rename(temp, final)
        folders.add(final.rsplit("/", 1)[0])
    for folder in sorted(folders):
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
