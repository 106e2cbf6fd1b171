"""Fixtures for the local backend tests: a store, a folder outside it, a backend in each resolution mode."""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from sidecar.backends.local import LocalBackend

MODES = ("openat2", "walk")  # how paths are resolved: one openat2 call, or name by name


def snapshot(folder: Path) -> dict[str, str]:
    """Everything below ``folder`` (links not followed): relative path -> kind and content digest."""
    found: dict[str, str] = {}
    for top, dirs, files in os.walk(folder):
        for name in dirs + files:
            path = os.path.join(top, name)
            rel = os.path.relpath(path, folder)
            if os.path.islink(path):
                found[rel] = f"link:{os.readlink(path)}"
            elif os.path.isdir(path):
                found[rel] = "dir"
            elif os.path.isfile(path):
                found[rel] = hashlib.sha256(Path(path).read_bytes()).hexdigest()
            else:
                found[rel] = "special"
    return found


def run_guarded(action: Callable[[], object], seconds: float = 5.0) -> BaseException | None:
    """Run ``action`` in a thread; fail if it blocks; return what it raised (None if nothing)."""
    outcome: list[BaseException | None] = []

    def target() -> None:
        try:
            action()
        except BaseException as error:  # noqa: BLE001  # handed to the test thread
            outcome.append(error)
        else:
            outcome.append(None)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), "the call blocked"
    return outcome[0]


@pytest.fixture
def store(tmp_path: Path) -> Path:
    root = tmp_path / "store"
    (root / "a" / "sub").mkdir(parents=True)
    (root / "a" / "x.txt").write_bytes(b"inside")
    (root / "a" / "sub" / "y.txt").write_bytes(b"inside too")
    (root / "b").mkdir()
    return root


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A folder next to the store that nothing may read or change."""
    folder = tmp_path / "outside"
    folder.mkdir()
    (folder / "x.txt").write_bytes(b"OUTSIDE")
    (folder / "secret.txt").write_bytes(b"secret")
    return folder


@pytest.fixture(params=MODES)
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def backend(store: Path, mode: str) -> Iterator[LocalBackend]:
    with LocalBackend(store, openat2=mode == "openat2") as local:
        assert local.resolves_beneath == (mode == "openat2")
        yield local
