"""Races: a folder swapped for a symlink to the outside, mid-operation, never lets anything escape.

A thread swaps ``d`` (a real folder of the store) for a symlink to an outside
canary folder and back, over and over, while the main thread runs DirectOps
and backend reads through ``d``. Nothing may be created, changed or read in
the canary. The same harness catches the classic realpath-check-then-open
implementation escaping, so it can fail. A deterministic variant swaps the
folder at every single system call of an op, in turn.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Self

import pytest

from planner.core.entry import Blob, Entry
from planner.core.errors import PvaError
from planner.core.footprint import Read
from sidecar.apply.direct import DirectOps
from sidecar.backends.local import LocalBackend
from tests.backends.conftest import run_guarded, snapshot
from tests.backends.faults import FaultyCalls

DURATION = 1.5  # seconds of racing per mode
OUTSIDE = b"OUTSIDE"  # the canary's x.txt: seeing these bytes through the store is an escape


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def blob(data: bytes) -> Blob:
    return Blob(sha(data), len(data), data)


class Swapper(threading.Thread):
    """Swaps ``store/d`` for a symlink to ``canary`` and back until stopped."""

    def __init__(self, store: Path, canary: Path) -> None:
        super().__init__(daemon=True)
        self.folder, self.away, self.canary = store / "d", store / "d.away", canary
        self.halt = threading.Event()
        self.swaps = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            while not self.halt.is_set():
                os.rename(self.folder, self.away)
                os.symlink(self.canary, self.folder)
                time.sleep(0)
                os.unlink(self.folder)
                os.rename(self.away, self.folder)
                self.swaps += 1
        except BaseException as error:  # noqa: BLE001  # reported to the test thread
            self.error = error

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.halt.set()
        self.join(10)
        assert not self.is_alive()
        assert self.error is None, self.error


@pytest.fixture
def canary(outside: Path) -> Path:
    folder = outside / "canary"
    folder.mkdir()
    (folder / "x.txt").write_bytes(OUTSIDE)
    return folder


@pytest.fixture
def raced(store: Path) -> Path:
    """The store with the folder ``d`` the swapper races on."""
    (store / "d").mkdir()
    (store / "d" / "x.txt").write_bytes(b"inside")
    return store


def escaped(result: object) -> bool:
    """Whether a read returned the canary's bytes."""
    entries = result if isinstance(result, list) else [result]
    if hasattr(result, "walk"):
        entries = list(result.walk())
    return any(isinstance(e, Entry) and e.sha256 == sha(OUTSIDE) for e in entries)


def race_steps(backend: LocalBackend, index: int) -> dict[str, Callable[[], object]]:
    ops = DirectOps(backend)
    return {
        "write": lambda: ops.write_file(f"d/w{index}", blob(b"w%d" % index)),
        "stat": lambda: backend.stat("d/x.txt"),
        "move": lambda: ops.move("d/x.txt", "d/y.txt"),
        "move back": lambda: ops.move("d/y.txt", "d/x.txt"),
        "copy": lambda: ops.copy("d/x.txt", f"d/c{index}"),
        "mkdir": lambda: ops.make_dir(f"d/m{index}"),
        "walk": lambda: backend.walk("d"),
        "read_tree": lambda: backend.read_tree([Read("d/x.txt", tree=True, hashed=True)]),
        "delete": lambda: ops.delete(f"d/w{index}"),
        "stage": lambda: backend.stage_copy(f".pva/staging/race/{index}", "d"),
    }


def test_racing_a_symlink_swap_never_escapes(raced: Path, canary: Path, mode: str) -> None:
    """Ops through a folder being swapped for an outside symlink never touch the outside."""
    before = snapshot(canary.parent)
    done, refused, escapes = Counter[str](), Counter[str](), []
    with LocalBackend(raced, openat2=mode == "openat2") as backend, Swapper(raced, canary) as swapper:
        backend.ensure_dir(".pva/staging/race")
        deadline, index = time.monotonic() + DURATION, 0
        while time.monotonic() < deadline:
            index += 1
            for label, step in race_steps(backend, index).items():
                try:
                    result = step()
                except PvaError:
                    refused[label] += 1
                    continue
                done[label] += 1
                if escaped(result):
                    escapes.append(label)
    assert escapes == []
    assert snapshot(canary.parent) == before
    assert sha(OUTSIDE) not in snapshot(raced).values(), "outside bytes were copied into the store"
    assert swapper.swaps > 10
    assert sum(done.values()) > 0, "the race never let an op through: it tested nothing"
    assert sum(refused.values()) > 0, "the race never hit an op: it tested nothing"


class NaiveBackend:
    """The classic TOCTOU: resolve with realpath, check the prefix, then open by name."""

    def __init__(self, root: Path) -> None:
        self.root = os.path.realpath(root)

    def write(self, path: str, data: bytes) -> None:
        real = os.path.realpath(os.path.join(self.root, path))
        if not real.startswith(self.root + os.sep):
            raise PermissionError(path)
        time.sleep(0)  # the window between the check and the use
        with open(real, "xb") as handle:  # the naive way, on purpose
            handle.write(data)


def test_the_race_catches_a_naive_realpath_check(raced: Path, canary: Path) -> None:
    """Under the same race, a realpath-then-open implementation does write outside the store."""
    naive = NaiveBackend(raced)
    before = set(os.listdir(canary))
    deadline, tries = time.monotonic() + 10, 0
    with Swapper(raced, canary):
        while time.monotonic() < deadline and set(os.listdir(canary)) == before:
            tries += 1
            try:
                naive.write(f"d/n{tries}", b"escaped")
            except OSError:
                continue
    assert set(os.listdir(canary)) - before, f"no escape in {tries} tries"


def deterministic_steps(ops: DirectOps, backend: LocalBackend) -> dict[str, Callable[[], object]]:
    return {
        "write": lambda: ops.write_file("d/new.txt", blob(b"new")),
        "move": lambda: ops.move("d/x.txt", "d/y.txt"),
        "copy": lambda: ops.copy("d", "d2"),
        "delete": lambda: ops.delete("d/x.txt"),
        "stat": lambda: backend.stat("d/x.txt"),
        "read_tree": lambda: backend.read_tree([Read("d/x.txt", tree=True, hashed=True)]),
        "stage": lambda: backend.stage_copy(".pva/staging/s", "d"),
    }


def fresh_store(root: Path) -> Path:
    """A new store holding only ``d/x.txt`` (a new folder per run: removing trees is slow after fsyncs)."""
    (root / "d").mkdir(parents=True)
    (root / "d" / "x.txt").write_bytes(b"inside")
    return root


def swap_folder(store: Path, canary: Path) -> None:
    """``d`` becomes a symlink to the outside canary folder."""
    (store / "d").rename(store / "d.away")
    (store / "d").symlink_to(canary, target_is_directory=True)


def swap_fifo(store: Path, _canary: Path) -> None:
    """``d/x.txt`` becomes a FIFO nobody writes to (opening it to read would block)."""
    (store / "d" / "x.txt").unlink()
    os.mkfifo(store / "d" / "x.txt")


def swap_hard_link(store: Path, canary: Path) -> None:
    """``d/x.txt`` becomes a second name of the canary's file."""
    (store / "d" / "x.txt").unlink()
    os.link(canary / "x.txt", store / "d" / "x.txt")


NAMED = frozenset({"openat", "openat2", "lstatat", "mkdirat", "rmdirat", "unlinkat", "renameat2", "linkat"})
SWAPS = {"symlink": swap_folder, "fifo": swap_fifo, "hard-link": swap_hard_link}
READS = ["stat", "read_tree", "copy", "stage"]
CASES = [("symlink", step) for step in (*READS, "write", "move", "delete")]
CASES += [(swap, step) for swap in ("fifo", "hard-link") for step in READS]


@pytest.mark.parametrize(("swap", "step"), CASES)
def test_a_swap_at_any_system_call_never_escapes(
    tmp_path: Path, canary: Path, mode: str, swap: str, step: str
) -> None:
    """A hostile swap before the nth name-resolving call of an op, for every n, escapes and blocks nowhere."""
    before = snapshot(canary.parent)

    def run(point: int | None) -> int:
        raced = fresh_store(tmp_path / f"store-{point}")
        calls = FaultyCalls(durable=False)  # what is tested is where names resolve, not fsync
        named = 0  # calls that resolve a name so far (a swap before an fd-only call changes nothing more)

        def hook(method: str, _count: int) -> None:
            nonlocal named
            if method in NAMED:
                named += 1
                if named == point:
                    SWAPS[swap](raced, canary)

        with LocalBackend(raced, calls=calls, openat2=mode == "openat2") as backend:
            backend.ensure_dir(".pva/staging")
            calls.on_call = hook
            outcome: list[object] = []
            action = deterministic_steps(DirectOps(backend), backend)[step]
            error = run_guarded(lambda: outcome.append(action()))
            assert error is None or isinstance(error, PvaError), repr(error)
            assert not escaped(outcome[0] if outcome else None), point
        assert snapshot(canary.parent) == before, point
        copied = [p for p, v in snapshot(raced).items() if v == sha(OUTSIDE) and p != "d/x.txt"]
        assert copied == [], point  # read outside, copied in (d/x.txt is the planted hard link)
        return named

    total = run(None)
    assert total >= 3
    for point in range(1, total + 1):
        run(point)
