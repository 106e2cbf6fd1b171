"""Confinement: a hostile store (links, hard links, FIFOs, sockets, devices) is refused, never crossed.

Every method that meets a hostile entry raises ``Refused``; nothing outside
the root is read or written, and nothing blocks (each call runs in a thread
that must finish within a few seconds).
"""

from __future__ import annotations

import hashlib
import os
import socket
import stat
import tempfile
from collections.abc import Callable
from functools import partial
from pathlib import Path

import pytest

from planner.core.entry import Blob
from planner.core.footprint import Read
from planner.core.paths import contains
from sidecar.apply.direct import DirectOps
from sidecar.backends.base import RESERVED, STAGING
from sidecar.backends.local import LocalBackend
from sidecar.errors import Refused
from tests.backends.conftest import run_guarded, snapshot

PROBE = "pva-confinement-probe"  # the name every create uses, so an escape is easy to spot
DATA = b"probe"
BLOB = Blob(hashlib.sha256(DATA).hexdigest(), len(DATA), DATA)

Action = Callable[[LocalBackend, DirectOps], object]


def actions(hostile: str) -> dict[str, Action]:
    """Every backend and DirectOps call that touches ``hostile``, as an entry and as a folder."""
    below = f"{hostile}/{PROBE}"
    staged = f"{STAGING}/t/{PROBE}"
    return {
        "stat": lambda b, _: b.stat(hostile),
        "stat below": lambda b, _: b.stat(below),
        "exists": lambda b, _: b.exists(hostile),
        "exists below": lambda b, _: b.exists(below),
        "walk root": lambda b, _: b.walk(""),
        "walk": lambda b, _: b.walk(hostile),
        "deepest root": lambda b, _: b.deepest(""),
        "collision below": lambda b, _: b.collision(below),
        "read_tree": lambda b, _: b.read_tree([Read(hostile, hashed=True)]),
        "read_tree below": lambda b, _: b.read_tree([Read(below, tree=True, hashed=True)]),
        "read_tree whole": lambda b, _: b.read_tree([Read("", tree=True)]),
        "read_file": lambda b, _: b.read_file(hostile, 1024),
        "read_file below": lambda b, _: b.read_file(below, 1024),
        "mkdir onto": lambda b, _: b.mkdir(hostile),
        "mkdir below": lambda b, _: b.mkdir(below),
        "rmdir": lambda b, _: b.rmdir(hostile),
        "rename from": lambda b, _: b.rename(hostile, f"b/{PROBE}"),
        "rename onto": lambda b, _: b.rename("a/x.txt", hostile),
        "rename below": lambda b, _: b.rename("a/x.txt", below),
        "stage_copy from": lambda b, _: b.stage_copy(staged, hostile),
        "stage_copy below": lambda b, _: b.stage_copy(staged, below),
        "write below": lambda _, ops: ops.write_file(below, BLOB),
        "write onto": lambda _, ops: ops.write_file(hostile, BLOB),
        "overwrite": lambda _, ops: ops.write_file(hostile, BLOB, replace=True),
        "move": lambda _, ops: ops.move(hostile, f"b/{PROBE}"),
        "move onto": lambda _, ops: ops.move("a/x.txt", hostile, replace=True),
        "copy": lambda _, ops: ops.copy(hostile, f"b/{PROBE}"),
        "copy below": lambda _, ops: ops.copy("a/x.txt", below),
        "delete": lambda _, ops: ops.delete(hostile),
        "delete below": lambda _, ops: ops.delete(below),
    }


def assert_all_refused(backend: LocalBackend, hostile: str, *, deny: Path | None = None) -> None:
    """Every action on ``hostile`` raises Refused naming it (or an ancestor), without blocking."""
    backend.ensure_dir(f"{STAGING}/t")
    ops = DirectOps(backend)
    wrong = {}
    for label, action in actions(hostile).items():
        error = run_guarded(partial(action, backend, ops))
        if not isinstance(error, Refused) or not error.path or not contains(error.path, hostile):
            wrong[label] = repr(error)
    assert wrong == {}
    if deny is not None:
        assert not (deny / PROBE).exists()


def plant_socket(path: Path) -> socket.socket:
    """A bound unix socket at ``path`` (bound at a short path first: sun_path holds 108 bytes)."""
    short = Path(tempfile.mkdtemp(prefix="pva-")) / "s"
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(short))
    os.rename(short, path)
    short.parent.rmdir()
    return server


def test_an_absolute_symlink_to_etc_is_refused(backend: LocalBackend, store: Path) -> None:
    """A symlink to /etc is refused by every call, and nothing is created in /etc."""
    (store / "etc").symlink_to("/etc")
    assert_all_refused(backend, "etc", deny=Path("/etc"))


def test_a_relative_symlink_out_of_the_store_is_refused(
    backend: LocalBackend, store: Path, outside: Path
) -> None:
    """A relative symlink climbing out of the store ('../../outside') is refused; outside is untouched."""
    before = snapshot(outside)
    (store / "a" / "up").symlink_to("../../outside")
    assert_all_refused(backend, "a/up", deny=outside)
    assert snapshot(outside) == before


def test_a_symlinked_intermediate_folder_is_refused(
    backend: LocalBackend, store: Path, outside: Path
) -> None:
    """A folder replaced by a symlink to an outside folder is refused as a path component."""
    before = snapshot(outside)
    (store / "b" / "inner").symlink_to(outside, target_is_directory=True)
    assert_all_refused(backend, "b/inner", deny=outside)
    error = run_guarded(lambda: backend.stat("b/inner/secret.txt"))
    assert isinstance(error, Refused)
    assert error.path == "b/inner"
    assert snapshot(outside) == before


def test_a_dangling_symlink_is_never_created_through(
    backend: LocalBackend, store: Path, outside: Path
) -> None:
    """Creating onto a dangling symlink (mkdir, stage, rename, write, copy) never creates its target."""
    before = snapshot(outside)
    (store / "dangling").symlink_to(outside / PROBE)
    (store / RESERVED / "staging" / "t").mkdir(parents=True)
    (store / RESERVED / "staging" / "t" / "dangling").symlink_to(outside / PROBE)
    assert_all_refused(backend, "dangling", deny=outside)
    for action in (
        lambda: backend.stage_bytes(f"{STAGING}/t/dangling", DATA),
        lambda: backend.stage_copy(f"{STAGING}/t/dangling", "a/x.txt"),
        lambda: backend.rename("a/x.txt", f"{STAGING}/t/dangling"),
        lambda: backend.mkdir(f"{STAGING}/t/dangling"),
    ):
        assert isinstance(run_guarded(action), Refused)
    assert snapshot(outside) == before


def test_a_hard_link_to_an_outside_file_is_refused(backend: LocalBackend, store: Path, outside: Path) -> None:
    """A hard link to a file outside the store is refused: never read, renamed or copied."""
    before = snapshot(outside)
    os.link(outside / "secret.txt", store / "a" / "linked.txt")
    assert_all_refused(backend, "a/linked.txt", deny=outside)
    assert snapshot(outside) == before
    assert (store / "a" / "linked.txt").stat().st_nlink == 2


def test_a_fifo_is_refused_without_blocking(backend: LocalBackend, store: Path) -> None:
    """A FIFO is refused by every call, and no call waits on it."""
    os.mkfifo(store / "a" / "pipe")
    assert_all_refused(backend, "a/pipe")


def test_a_unix_socket_is_refused(backend: LocalBackend, store: Path) -> None:
    """A unix socket is refused by every call."""
    server = plant_socket(store / "a" / "sock")
    try:
        assert_all_refused(backend, "a/sock")
    finally:
        server.close()


@pytest.mark.skipif(os.geteuid() != 0, reason="device nodes need root")
def test_a_device_node_is_refused_without_reading_it(backend: LocalBackend, store: Path) -> None:
    """A character device (an endless /dev/zero) is refused by every call, never read."""
    os.mknod(store / "a" / "zero", stat.S_IFCHR | 0o600, os.makedev(1, 5))
    assert_all_refused(backend, "a/zero")


def test_a_symlinked_reserved_area_is_refused(backend: LocalBackend, store: Path, outside: Path) -> None:
    """Staging through a symlinked .pva or .pva/staging is refused; nothing lands outside."""
    before = snapshot(outside)
    (store / RESERVED).symlink_to(outside, target_is_directory=True)
    for action in (
        lambda: backend.ensure_dir(f"{STAGING}/t"),
        lambda: backend.stage_bytes(f"{STAGING}/{PROBE}", DATA),
        lambda: backend.discard(f"{STAGING}/{PROBE}"),
        lambda: backend.exists(STAGING),
    ):
        assert isinstance(run_guarded(action), Refused)
    (store / RESERVED).unlink()
    (store / RESERVED).mkdir()
    (store / RESERVED / "staging").symlink_to(outside, target_is_directory=True)
    for action in (
        lambda: backend.ensure_dir(f"{STAGING}/t"),
        lambda: backend.stage_copy(f"{STAGING}/{PROBE}", "a/x.txt"),
        lambda: backend.discard(f"{STAGING}/secret.txt"),
        lambda: DirectOps(backend).make_dir(f"b/{PROBE}"),
    ):
        assert isinstance(run_guarded(action), Refused)
    assert snapshot(outside) == before


def test_discard_unlinks_a_staged_symlink_without_following_it(
    backend: LocalBackend, store: Path, outside: Path
) -> None:
    """discard removes a link (and links inside a staged folder) itself, never what it points to."""
    before = snapshot(outside)
    staging = store / RESERVED / "staging"
    (staging / "t" / "folder").mkdir(parents=True)
    (staging / "t" / "link").symlink_to(outside, target_is_directory=True)
    (staging / "t" / "folder" / "link").symlink_to(outside / "secret.txt")
    backend.discard(f"{STAGING}/t")
    assert not (staging / "t").exists()
    assert snapshot(outside) == before


@pytest.mark.parametrize("path", ["..", "../outside", "/etc", "a/../../outside", "a//x.txt", "./a", "a/\0"])
def test_paths_that_could_climb_are_refused(backend: LocalBackend, outside: Path, path: str) -> None:
    """A path with '..', '.', an empty segment, a NUL or a leading '/' is refused by every call."""
    before = snapshot(outside)
    ops = DirectOps(backend)
    for action in (
        lambda: backend.stat(path),
        lambda: backend.exists(path),
        lambda: backend.walk(path),
        lambda: backend.mkdir(f"{path}/{PROBE}"),
        lambda: backend.rename("a/x.txt", f"{path}/{PROBE}"),
        lambda: ops.write_file(f"{path}/{PROBE}", BLOB),
    ):
        assert isinstance(run_guarded(action), Refused)
    assert snapshot(outside) == before


@pytest.mark.parametrize("hostile", ["link", "hard link", "fifo", "not UTF-8"])
def test_a_file_beside_a_hostile_entry_is_read_and_moved_and_the_entry_left_alone(
    backend: LocalBackend, store: Path, outside: Path, hostile: str
) -> None:
    """A link, special, hard-linked or undecodable entry in a folder does not refuse plans on its neighbours.

    It is left out of the folder's listing (not store content); a plan that
    names it, or its folder as a whole, is still refused, and it is never touched.
    """
    name = "caf\udce9" if hostile == "not UTF-8" else "odd"  # the file system's bytes: caf\xe9
    at = store / "a" / name
    if hostile == "link":
        at.symlink_to(outside / "secret.txt")
    elif hostile == "hard link":
        os.link(outside / "secret.txt", at)
    elif hostile == "fifo":
        os.mkfifo(at)
    else:
        at.write_bytes(b"latin-1")
    tree = backend.read_tree([Read("a/x.txt", hashed=True), Read(f"b/{PROBE}")])
    assert tree.stat("a/x.txt") is not None
    assert tree.names("a") == ["sub", "x.txt"]
    DirectOps(backend).move("a/x.txt", f"b/{PROBE}")
    assert (store / "b" / PROBE).is_file()
    assert os.path.lexists(at)
    if hostile != "not UTF-8":
        assert isinstance(run_guarded(lambda: backend.read_tree([Read(f"a/{name}")])), Refused)
    assert isinstance(run_guarded(lambda: backend.read_tree([Read("a", tree=True)])), Refused)


def test_a_non_utf8_name_is_refused_by_plans_and_left_out_of_listings(
    backend: LocalBackend, store: Path
) -> None:
    """A name that is not UTF-8 cannot be a store path: a plan over its folder as a whole refuses.

    What agents read (``entries``) lists the folder's other names and leaves
    it out, and so do a plan's reads of the folder's other files.
    """
    os.close(os.open(os.fsencode(store / "a") + b"/bad-\xff", os.O_CREAT | os.O_WRONLY))
    assert isinstance(run_guarded(lambda: backend.walk("a")), Refused)
    assert isinstance(run_guarded(lambda: backend.read_tree([Read("a", tree=True)])), Refused)
    assert backend.collision("a/x.txt") is None  # it folds to no UTF-8 name
    listed = [entry.path for entry in backend.entries("a")]
    assert "a/x.txt" in listed
    assert not any("bad-" in path for path in listed)
