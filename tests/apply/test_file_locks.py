"""Path locks across processes: overlapping sets wait, disjoint ones do not, dead holders do not block."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sidecar.apply.locks import FileLocks
from sidecar.errors import LockTimeout, Refused

HOLDER = """
import sys, time
from pathlib import Path
from sidecar.apply.locks import FileLocks
with FileLocks(Path(sys.argv[1])).hold([sys.argv[2]], timeout=5):
    print("held", flush=True)
    time.sleep(float(sys.argv[3]))
"""


def holder(root: Path, path: str, seconds: float) -> subprocess.Popen[str]:
    """Another process holding a lock on ``path`` for ``seconds`` (it prints 'held' once it has it)."""
    child = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(root), path, str(seconds)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).parents[2],
    )
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "held"
    return child


def test_overlapping_locks_in_another_process_wait(tmp_path: Path) -> None:
    """A lock on a path inside one another process holds waits until that process releases it."""
    with holder(tmp_path, "m", 0.6):
        started = time.monotonic()
        with FileLocks(tmp_path).hold(["m/inbox/1.pdf"], timeout=10):
            waited = time.monotonic() - started
    assert waited >= 0.3


def test_disjoint_locks_in_another_process_do_not_wait(tmp_path: Path) -> None:
    """A lock on a subtree disjoint from another process's lock is granted while that one is held."""
    with holder(tmp_path, "m/acme", 5) as child:
        with FileLocks(tmp_path).hold(["m/acme-evil/x"], timeout=1):
            pass
        with pytest.raises(LockTimeout), FileLocks(tmp_path).hold(["m/ACME/x"], timeout=0.2):
            pass  # case variants are one path
        child.kill()


def test_a_killed_holder_does_not_block(tmp_path: Path) -> None:
    """The lock of a process killed with SIGKILL is free at once, and its file is cleaned up."""
    with holder(tmp_path, "m", 60) as child:
        os.kill(child.pid, signal.SIGKILL)
    with FileLocks(tmp_path).hold(["m"], timeout=1):
        pass
    assert list((tmp_path / ".pva" / "locks").glob("*.lock")) == []


def test_a_symlinked_reserved_folder_is_refused(tmp_path: Path) -> None:
    """If .pva is a symlink, the lock table is not created through it."""
    outside = tmp_path / "outside"
    outside.mkdir()
    root = tmp_path / "store"
    root.mkdir()
    (root / ".pva").symlink_to(outside)
    with pytest.raises(Refused, match="must be a real folder"), FileLocks(root).hold(["m"], timeout=1):
        pass
    assert list(outside.iterdir()) == []
