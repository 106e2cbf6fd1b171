"""One conformance suite for every store: the in-memory tree is the oracle, backends must agree.

Part 1 runs the ``planner.core.ops.FileOps`` protocol on every target (the tree,
and ``DirectOps`` over each backend) and asserts the same results and the
same exception types, checking the real state through a backdoor that does
not use the API under test. Part 2 runs the backend primitives on every
backend. Part 3 checks that ``read_tree(footprint(plan))`` verifies a plan
exactly as a full scan does. A new backend joins by adding a factory to
``TARGETS`` and ``BACKENDS``.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from planner import PlanBuilder, Report, verify
from planner.agent.snapshot import read_footprint, scan
from planner.core.entry import Blob, Entry
from planner.core.errors import AlreadyExists, IsADirectory, NotADirectory, NotFound, PvaError, TreeError
from planner.core.fingerprint import fingerprint
from planner.core.footprint import Read, TreeSource, footprint, pinned, read
from planner.core.manifest import manifest_lines, read_manifest
from planner.core.ops import FileOps
from planner.core.paths import contains, rebase
from planner.core.tree import Tree, tree_of
from sidecar.apply.direct import DirectOps
from sidecar.backends.base import BLOBS, RESERVED, STAGING, TRASH, Backend
from sidecar.backends.local import LocalBackend
from sidecar.backends.memory import MemoryBackend
from sidecar.errors import StoreError
from tests.backends.faults import FaultyCalls
from tests.gcs.fixtures import bucket_state, new_bucket, open_gcs, seed, shared_server
from tests.gcs.fixtures import staged as gcs_staged
from tests.support.files import write_files

State = dict[str, str]  # path -> "dir", or the sha256 of the file


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# The store every test starts from: path -> bytes, None for a folder.
SEED: dict[str, bytes | None] = {
    "a": None,
    "a/Résumé.pdf": b"cv",
    "a/sub": None,
    "a/sub/deep": None,
    "a/sub/deep/z.txt": b"gamma",
    "a/sub/y.txt": b"beta",
    "a/x.txt": b"alpha",
    "b": None,
    "c.txt": b"charlie",
}


def initial() -> State:
    return {path: "dir" if data is None else sha(data) for path, data in SEED.items()}


def moved(state: State, src: str, dst: str) -> State:
    return {rebase(path, src, dst) if contains(src, path) else path: value for path, value in state.items()}


def without(state: State, path: str) -> State:
    return {p: value for p, value in state.items() if not contains(path, p)}


def copied(state: State, src: str, dst: str) -> State:
    return state | {rebase(p, src, dst): value for p, value in state.items() if contains(src, p)}


def disk_state(root: Path, *, reserved: bool = False) -> State:
    """The backdoor for local stores: os.walk and hashlib, no pva code."""
    state: State = {}
    for top, dirs, files in os.walk(root):
        if top == str(root) and not reserved and RESERVED in dirs:
            dirs.remove(RESERVED)
        rel = os.path.relpath(top, root)
        for name in dirs:
            state[os.path.normpath(os.path.join(rel, name))] = "dir"
        for name in files:
            state[os.path.normpath(os.path.join(rel, name))] = sha(Path(top, name).read_bytes())
    return state


def tree_state(tree: Tree) -> State:
    return {entry.path: "dir" if entry.is_dir else str(entry.sha256) for entry in tree.walk()}


def staged(root: Path) -> list[str]:
    staging = root / STAGING
    return sorted(os.listdir(staging)) if staging.exists() else []


# -- part 1: FileOps on every target -----------------------------------------


@dataclass
class Target:
    """A store under test: its FileOps, and a backdoor reading its real state."""

    name: str
    ops: FileOps
    state: Callable[[], State]
    leftovers: Callable[[], list[str]] = list  # what an op left in the staging area
    close: Callable[[], None] = lambda: None
    local: bool = False


def tree_target(_tmp_path: Path) -> Target:
    tree = tree_of(
        Entry(p, "dir") if d is None else Entry(p, "file", len(d), sha(d)) for p, d in SEED.items()
    )
    return Target("tree", tree, lambda: tree_state(tree))


def local_target(tmp_path: Path, *, openat2: bool = True) -> Target:
    root = tmp_path / "store"
    write_files(root, SEED)
    backend = LocalBackend(root, openat2=openat2)
    return Target(
        "local", DirectOps(backend), lambda: disk_state(root), lambda: staged(root), backend.close, local=True
    )


def gcs_target(tmp_path: Path, *, implicit: bool = False) -> Target:
    server = shared_server()
    bucket = new_bucket(server)
    seed(server, bucket, "store", SEED)
    backend = open_gcs(server, bucket, tmp_path / "state", implicit=implicit)
    return Target(
        "gcs",
        DirectOps(backend),
        lambda: bucket_state(server, bucket, "store"),
        lambda: gcs_staged(server, bucket, "store"),
        backend.close,
    )


TARGETS: dict[str, Callable[[Path], Target]] = {
    "tree": tree_target,
    "local": local_target,
    "local-walk": lambda tmp_path: local_target(tmp_path, openat2=False),
    "gcs": gcs_target,
    "gcs-implicit": lambda tmp_path: gcs_target(tmp_path, implicit=True),
}


@pytest.fixture(params=sorted(TARGETS))
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Target]:
    made = TARGETS[request.param](tmp_path)
    yield made
    assert made.leftovers() == [], "an op left content in the staging area"
    made.close()


def fails(target: Target, kind: type[PvaError], action: Callable[[], object]) -> None:
    """``action`` raises exactly ``kind`` (not a subclass) and changes nothing."""
    before = target.state()
    with pytest.raises(PvaError) as caught:
        action()
    assert type(caught.value) is kind, f"{type(caught.value).__name__}: {caught.value}"
    assert target.state() == before


def plain(entries: object) -> list[Entry]:
    """Entries without their mtime (informational; the tree keeps none) or GCS generation (store-given)."""
    assert not isinstance(entries, Entry)
    return [replace(entry, mtime=None, generation=None) for entry in entries]  # type: ignore[attr-defined]


def blob(data: bytes) -> Blob:
    return Blob(sha(data), len(data), data)


def test_stat_describes_a_file_with_its_size_and_sha256(target: Target) -> None:
    """stat of a file gives its kind, size and sha256."""
    assert plain([target.ops.stat("a/x.txt")]) == [Entry("a/x.txt", "file", 5, sha(b"alpha"))]


def test_stat_describes_folders_and_the_root(target: Target) -> None:
    """stat of a folder (and of the root, '') gives a folder entry."""
    assert plain([target.ops.stat("a/sub"), target.ops.stat("")]) == [Entry("a/sub", "dir"), Entry("", "dir")]


def test_stat_of_a_missing_path_or_a_path_below_a_file_is_none(target: Target) -> None:
    """stat is None for a missing path, a path below a missing folder and a path below a file."""
    assert [target.ops.stat(p) for p in ("nope", "nope/x", "a/x.txt/y")] == [None, None, None]


def test_collision_finds_a_sibling_differing_by_case_or_normalisation(target: Target) -> None:
    """collision names the existing sibling a new spelling folds to (case, Unicode normalisation)."""
    assert target.ops.collision("a/X.TXT") == "a/x.txt"
    assert target.ops.collision("a/RE\u0301SUME\u0301.PDF") == "a/Résumé.pdf"
    assert target.ops.collision("A") == "a"


def test_collision_is_none_for_the_same_spelling_or_a_missing_parent(target: Target) -> None:
    """collision ignores the path's own spelling, new names and missing or file parents."""
    assert [target.ops.collision(p) for p in ("a/x.txt", "a/new", "nope/x", "c.txt/x")] == [None] * 4


def test_walk_lists_parents_first_in_name_order_with_hashes(target: Target) -> None:
    """walk yields the path, then everything below it, parents first and by name, files hashed."""
    expected = [
        Entry(path, "dir") if data is None else Entry(path, "file", len(data), sha(data))
        for path, data in sorted(SEED.items())
        if contains("a", path)
    ]
    expected.sort(key=lambda entry: entry.path.split("/"))
    assert plain(target.ops.walk("a")) == expected


def test_walk_of_a_file_gives_the_file_and_of_a_missing_path_nothing(target: Target) -> None:
    """walk of a file yields only that file; walk of a missing path yields nothing."""
    assert plain(target.ops.walk("c.txt")) == [Entry("c.txt", "file", 7, sha(b"charlie"))]
    assert plain(target.ops.walk("nope")) == []


def test_deepest_measures_the_longest_path_below_a_folder(target: Target) -> None:
    """deepest is the byte length of the longest path below a folder, relative to it; 0 for a file."""
    assert target.ops.deepest("a") == len(b"sub/deep/z.txt")
    assert target.ops.deepest("a/Résumé.pdf") == 0
    assert target.ops.deepest("nope") == 0
    assert target.ops.deepest("") == len(b"a/sub/deep/z.txt")


def test_the_reserved_area_never_shows_in_reads(target: Target) -> None:
    """After ops that use the reserved area, reads of the root still show only the store."""
    target.ops.write_file("b/new.txt", blob(b"new"))
    target.ops.delete("c.txt")
    expected = without(initial(), "c.txt") | {"b/new.txt": sha(b"new")}
    assert {e.path for e in target.ops.walk("")} == set(expected)
    assert target.ops.stat(RESERVED) is None
    assert target.ops.deepest("") == len(b"a/sub/deep/z.txt")


def test_make_dir_creates_an_empty_folder(target: Target) -> None:
    """make_dir creates one empty folder."""
    target.ops.make_dir("b/new")
    assert target.state() == initial() | {"b/new": "dir"}


def test_make_dir_refuses_an_existing_path(target: Target) -> None:
    """make_dir of an existing folder or file raises AlreadyExists."""
    fails(target, AlreadyExists, lambda: target.ops.make_dir("a/sub"))
    fails(target, AlreadyExists, lambda: target.ops.make_dir("c.txt"))


def test_make_dir_needs_its_parent_folder(target: Target) -> None:
    """make_dir below a missing folder raises NotFound; below a file, NotADirectory."""
    fails(target, NotFound, lambda: target.ops.make_dir("nope/new"))
    fails(target, NotADirectory, lambda: target.ops.make_dir("c.txt/new"))


def test_move_a_file(target: Target) -> None:
    """move renames a file into another folder, bytes unchanged."""
    target.ops.move("a/x.txt", "b/x.txt")
    assert target.state() == moved(initial(), "a/x.txt", "b/x.txt")


def test_move_a_folder_takes_everything_below_it(target: Target) -> None:
    """move of a folder carries its whole subtree."""
    target.ops.move("a/sub", "b/sub")
    assert target.state() == moved(initial(), "a/sub", "b/sub")


def test_move_never_replaces_without_replace(target: Target) -> None:
    """move onto an existing file or folder raises AlreadyExists and changes nothing."""
    fails(target, AlreadyExists, lambda: target.ops.move("a/x.txt", "c.txt"))
    fails(target, AlreadyExists, lambda: target.ops.move("c.txt", "a/sub"))
    fails(target, AlreadyExists, lambda: target.ops.move("a/sub", "b"))


def test_move_with_replace_replaces_a_file(target: Target) -> None:
    """move with replace puts the source where a file was."""
    target.ops.move("a/x.txt", "c.txt", replace=True)
    assert target.state() == without(initial(), "a/x.txt") | {"c.txt": sha(b"alpha")}


def test_move_with_replace_onto_a_folder_is_refused(target: Target) -> None:
    """move with replace onto a folder raises IsADirectory: only files are replaced."""
    fails(target, IsADirectory, lambda: target.ops.move("c.txt", "a/sub", replace=True))


def test_move_with_replace_of_a_missing_source_changes_nothing(target: Target) -> None:
    """move with replace of a missing source raises NotFound and leaves the destination."""
    fails(target, NotFound, lambda: target.ops.move("nope", "c.txt", replace=True))


def test_move_into_itself_is_a_tree_error(target: Target) -> None:
    """move of a folder to a path below itself raises TreeError."""
    fails(target, TreeError, lambda: target.ops.move("a", "a/sub/a"))


def test_move_needs_its_source_and_the_destination_folder(target: Target) -> None:
    """move of a missing source, or to a missing folder, raises NotFound; below a file, NotADirectory."""
    fails(target, NotFound, lambda: target.ops.move("nope", "b/nope"))
    fails(target, NotFound, lambda: target.ops.move("a/x.txt", "nope/x.txt"))
    fails(target, NotADirectory, lambda: target.ops.move("a/x.txt", "c.txt/x.txt"))


def test_copy_a_file(target: Target) -> None:
    """copy creates a second file with the same bytes."""
    target.ops.copy("a/x.txt", "b/x.txt")
    assert target.state() == initial() | {"b/x.txt": sha(b"alpha")}


def test_copy_a_folder_copies_everything_below_it(target: Target) -> None:
    """copy of a folder copies its whole subtree; the source stays."""
    target.ops.copy("a", "b/a")
    assert target.state() == copied(initial(), "a", "b/a")


def test_copy_never_replaces(target: Target) -> None:
    """copy onto an existing file or folder raises AlreadyExists."""
    fails(target, AlreadyExists, lambda: target.ops.copy("a/x.txt", "c.txt"))
    fails(target, AlreadyExists, lambda: target.ops.copy("a/sub", "b"))


def test_copy_needs_its_source_and_the_destination_folder(target: Target) -> None:
    """copy of a missing source or to a missing folder raises NotFound; below a file, NotADirectory."""
    fails(target, NotFound, lambda: target.ops.copy("nope", "b/nope"))
    fails(target, NotFound, lambda: target.ops.copy("a/x.txt", "nope/x.txt"))
    fails(target, NotADirectory, lambda: target.ops.copy("a/x.txt", "c.txt/x.txt"))


def test_copy_into_itself_is_a_tree_error(target: Target) -> None:
    """copy of a folder to a path below itself raises TreeError."""
    fails(target, TreeError, lambda: target.ops.copy("a", "a/sub/a"))


def test_write_file_creates_a_file_with_the_blob(target: Target) -> None:
    """write_file creates a file whose sha256 is the blob's."""
    target.ops.write_file("b/new.txt", blob(b"new bytes"))
    assert target.state() == initial() | {"b/new.txt": sha(b"new bytes")}


def test_write_file_never_replaces_without_replace(target: Target) -> None:
    """write_file onto an existing file or folder raises AlreadyExists."""
    fails(target, AlreadyExists, lambda: target.ops.write_file("c.txt", blob(b"x")))
    fails(target, AlreadyExists, lambda: target.ops.write_file("a/sub", blob(b"x")))


def test_write_file_with_replace_replaces_a_file_or_creates(target: Target) -> None:
    """write_file with replace replaces a file, and creates one where there was none."""
    target.ops.write_file("c.txt", blob(b"delta"), replace=True)
    target.ops.write_file("b/fresh.txt", blob(b"fresh"), replace=True)
    assert target.state() == initial() | {"c.txt": sha(b"delta"), "b/fresh.txt": sha(b"fresh")}


def test_write_file_with_replace_onto_a_folder_is_refused(target: Target) -> None:
    """write_file with replace onto a folder raises IsADirectory."""
    fails(target, IsADirectory, lambda: target.ops.write_file("a/sub", blob(b"x"), replace=True))


def test_write_file_needs_its_folder(target: Target) -> None:
    """write_file below a missing folder raises NotFound; below a file, NotADirectory."""
    fails(target, NotFound, lambda: target.ops.write_file("nope/new.txt", blob(b"x")))
    fails(target, NotADirectory, lambda: target.ops.write_file("c.txt/new.txt", blob(b"x")))


def test_delete_removes_a_file_or_a_whole_folder(target: Target) -> None:
    """delete removes a file, and a folder with everything below it."""
    target.ops.delete("c.txt")
    target.ops.delete("a/sub")
    assert target.state() == without(without(initial(), "c.txt"), "a/sub")


def test_delete_of_a_missing_path_is_not_found(target: Target) -> None:
    """delete of a missing path, or below a missing folder, raises NotFound."""
    fails(target, NotFound, lambda: target.ops.delete("nope"))
    fails(target, NotFound, lambda: target.ops.delete("nope/x"))


def test_delete_below_a_file_is_not_a_directory(target: Target) -> None:
    """delete of a path below a file raises NotADirectory."""
    fails(target, NotADirectory, lambda: target.ops.delete("c.txt/x"))


# -- part 2: the backend primitives on every backend ---------------------------


@dataclass
class Harness:
    """A backend under test and its backdoor (seeding and reading real state, reserved area included)."""

    backend: Backend
    put: Callable[[str, bytes | None], object]
    state: Callable[[], State]
    close: Callable[[], None] = lambda: None
    counts: Callable[[], dict[str, int]] = field(default=dict)


def local_harness(tmp_path: Path, *, openat2: bool = True) -> Harness:
    root = tmp_path / "store"
    write_files(root, SEED)
    calls = FaultyCalls()  # no faults: it only counts
    backend = LocalBackend(root, calls=calls, openat2=openat2)
    return Harness(
        backend,
        lambda path, data: write_files(root, {path: data}),
        lambda: disk_state(root, reserved=True),
        backend.close,
        lambda: dict(calls.counts),
    )


def memory_harness(_tmp_path: Path) -> Harness:
    backend = MemoryBackend()

    def put(path: str, data: bytes | None) -> None:
        if data is None:
            for depth in range(1, path.count("/") + 2):
                folder = "/".join(path.split("/")[:depth])
                if backend.tree.kind(folder) is None:
                    backend.tree.make_dir(folder)
        else:
            backend.put(path, data)

    for path, data in SEED.items():
        put(path, data)

    def state() -> State:
        return {e.path: "dir" if e.is_dir else str(e.sha256) for e in backend.tree.walk()}

    return Harness(backend, put, state)


def gcs_harness(tmp_path: Path, *, implicit: bool = False) -> Harness:
    server = shared_server()
    bucket = new_bucket(server)
    seed(server, bucket, "store", SEED)
    backend = open_gcs(server, bucket, tmp_path / "state", implicit=implicit)

    def put(path: str, data: bytes | None) -> None:
        parts = path.split("/")
        folders: dict[str, bytes | None] = {"/".join(parts[:depth]): None for depth in range(1, len(parts))}
        seed(server, bucket, "store", folders | {path: data})

    return Harness(backend, put, lambda: bucket_state(server, bucket, "store", reserved=True), backend.close)


BACKENDS: dict[str, Callable[[Path], Harness]] = {
    "memory": memory_harness,
    "local": local_harness,
    "local-walk": lambda tmp_path: local_harness(tmp_path, openat2=False),
    "gcs": gcs_harness,
    "gcs-implicit": lambda tmp_path: gcs_harness(tmp_path, implicit=True),
}


@pytest.fixture(params=sorted(BACKENDS))
def harness(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Harness]:
    made = BACKENDS[request.param](tmp_path)
    yield made
    made.close()


def unchanged(harness: Harness, kind: type[PvaError], action: Callable[[], object]) -> None:
    """``action`` raises ``kind`` (or a subclass) and the store, reserved area included, is unchanged."""
    before = harness.state()
    with pytest.raises(kind):
        action()
    assert harness.state() == before


def test_mkdir_creates_one_folder_and_never_replaces(harness: Harness) -> None:
    """mkdir creates a folder (store or reserved); an existing path raises AlreadyExists."""
    harness.backend.mkdir("b/new")
    harness.backend.mkdir(RESERVED)
    assert harness.state() == initial() | {"b/new": "dir", RESERVED: "dir"}
    unchanged(harness, AlreadyExists, lambda: harness.backend.mkdir("c.txt"))
    unchanged(harness, AlreadyExists, lambda: harness.backend.mkdir("a"))
    unchanged(harness, NotFound, lambda: harness.backend.mkdir("nope/new"))


def test_rmdir_removes_only_an_empty_folder(harness: Harness) -> None:
    """rmdir removes an empty folder; a full folder, a file or a missing path is an error."""
    harness.backend.rmdir("b")
    assert harness.state() == without(initial(), "b")
    unchanged(harness, AlreadyExists, lambda: harness.backend.rmdir("a/sub"))
    unchanged(harness, NotADirectory, lambda: harness.backend.rmdir("c.txt"))
    unchanged(harness, NotFound, lambda: harness.backend.rmdir("nope"))


def test_rename_moves_files_and_folders(harness: Harness) -> None:
    """rename moves a file and a folder, and between the reserved area and the store."""
    harness.backend.rename("a/x.txt", "b/x.txt")
    harness.backend.rename("a/sub", "b/sub")
    harness.backend.ensure_dir(f"{STAGING}/t")
    harness.backend.rename("c.txt", f"{STAGING}/t/c.txt")
    harness.backend.rename(f"{STAGING}/t/c.txt", "b/c.txt")
    expected = moved(moved(moved(initial(), "a/x.txt", "b/x.txt"), "a/sub", "b/sub"), "c.txt", "b/c.txt")
    assert harness.state() == expected | {RESERVED: "dir", STAGING: "dir", f"{STAGING}/t": "dir"}


def test_rename_never_replaces(harness: Harness) -> None:
    """rename onto an existing file or folder (even an empty one) raises AlreadyExists; nothing moves."""
    unchanged(harness, AlreadyExists, lambda: harness.backend.rename("a/x.txt", "c.txt"))
    unchanged(harness, AlreadyExists, lambda: harness.backend.rename("a/sub/deep", "b"))
    unchanged(harness, AlreadyExists, lambda: harness.backend.rename("c.txt", "b"))
    unchanged(harness, AlreadyExists, lambda: harness.backend.rename("b", "a"))


def test_rename_errors_match_the_tree(harness: Harness) -> None:
    """rename into itself is a TreeError; a missing source or folder NotFound; below a file NotADirectory."""
    unchanged(harness, TreeError, lambda: harness.backend.rename("a", "a/sub/a"))
    unchanged(harness, NotFound, lambda: harness.backend.rename("nope", "b/nope"))
    unchanged(harness, NotFound, lambda: harness.backend.rename("c.txt", "nope/c.txt"))
    unchanged(harness, NotADirectory, lambda: harness.backend.rename("a/x.txt", "c.txt/x"))


def test_exists_sees_files_folders_and_the_reserved_area(harness: Harness) -> None:
    """exists is True for files, folders and reserved paths, False for missing paths and paths below files."""
    harness.backend.ensure_dir(STAGING)
    found = [harness.backend.exists(p) for p in ("c.txt", "a/sub", STAGING, "", "nope", "nope/x", "c.txt/x")]
    assert found == [True, True, True, True, False, False, False]


def test_stage_bytes_creates_a_reserved_file_once(harness: Harness) -> None:
    """stage_bytes creates the reserved file with the bytes; an existing path raises AlreadyExists."""
    harness.backend.ensure_dir(f"{STAGING}/t")
    harness.backend.stage_bytes(f"{STAGING}/t/1", b"staged")
    assert harness.state()[f"{STAGING}/t/1"] == sha(b"staged")
    assert sorted(p for p in harness.state() if contains(f"{STAGING}/t", p)) == [
        f"{STAGING}/t",
        f"{STAGING}/t/1",
    ]
    unchanged(harness, AlreadyExists, lambda: harness.backend.stage_bytes(f"{STAGING}/t/1", b"other"))
    unchanged(harness, NotFound, lambda: harness.backend.stage_bytes(f"{STAGING}/nope/1", b"x"))


def test_staging_into_the_store_is_refused(harness: Harness) -> None:
    """stage_bytes, stage_copy and ensure_dir only create in the reserved area."""
    unchanged(harness, StoreError, lambda: harness.backend.stage_bytes("b/new", b"x"))
    unchanged(harness, StoreError, lambda: harness.backend.stage_copy("b/new", "c.txt"))
    unchanged(harness, StoreError, lambda: harness.backend.ensure_dir("b/new"))


def test_stage_copy_copies_a_file_or_a_folder_whole(harness: Harness) -> None:
    """stage_copy copies a file and a folder tree (from the store or the reserved area) to new paths."""
    harness.backend.ensure_dir(BLOBS)
    harness.put(f"{BLOBS}/{sha(b'blob')}", b"blob")
    harness.backend.ensure_dir(f"{STAGING}/t")
    harness.backend.stage_copy(f"{STAGING}/t/1", "a")
    harness.backend.stage_copy(f"{STAGING}/t/2", "c.txt")
    harness.backend.stage_copy(f"{STAGING}/t/3", f"{BLOBS}/{sha(b'blob')}")
    state = harness.state()
    inside = {p: v for p, v in state.items() if contains(f"{STAGING}/t", p) and p != f"{STAGING}/t"}
    expected = {rebase(p, "a", f"{STAGING}/t/1"): v for p, v in initial().items() if contains("a", p)}
    assert inside == expected | {f"{STAGING}/t/2": sha(b"charlie"), f"{STAGING}/t/3": sha(b"blob")}


def test_staged_sha256_hashes_what_the_reserved_file_holds_now(harness: Harness) -> None:
    """staged_sha256 hashes a reserved file's bytes as they are now (an altered copy shows), else None."""
    harness.backend.ensure_dir(f"{TRASH}/d/0")
    harness.put(f"{TRASH}/d/0/kept.txt", b"altered")
    harness.backend.ensure_dir(f"{STAGING}/t")
    harness.backend.stage_copy(f"{STAGING}/t/1", f"{TRASH}/d/0/kept.txt")
    assert harness.backend.staged_sha256(f"{STAGING}/t/1") == sha(b"altered")
    assert harness.backend.staged_sha256(f"{STAGING}/t/2") is None
    assert harness.backend.staged_sha256(f"{STAGING}/t") is None
    unchanged(harness, StoreError, lambda: harness.backend.staged_sha256("c.txt"))


def test_open_stored_streams_a_reserved_file_and_only_one(harness: Harness) -> None:
    """open_stored streams a blob's bytes as they are; a store path is refused, a missing one NotFound."""
    content = b"blob " * 300_000  # more than one chunk
    harness.backend.ensure_dir(BLOBS)
    harness.put(f"{BLOBS}/{sha(content)}", content)
    stream = harness.backend.open_stored(f"{BLOBS}/{sha(content)}")
    try:
        assert stream.entry.size == len(content)
        assert b"".join(stream.chunks(0, len(content))) == content
    finally:
        stream.close()
    unchanged(harness, StoreError, lambda: harness.backend.open_stored("c.txt"))
    unchanged(harness, NotFound, lambda: harness.backend.open_stored(f"{BLOBS}/{sha(b'never')}"))


def test_stage_copy_never_replaces_and_needs_its_source(harness: Harness) -> None:
    """stage_copy never replaces (AlreadyExists), needs its source (NotFound), never copies into itself."""
    harness.backend.ensure_dir(f"{STAGING}/t")
    harness.backend.stage_bytes(f"{STAGING}/t/1", b"x")
    unchanged(harness, AlreadyExists, lambda: harness.backend.stage_copy(f"{STAGING}/t/1", "a"))
    unchanged(harness, NotFound, lambda: harness.backend.stage_copy(f"{STAGING}/t/2", "nope"))
    unchanged(harness, TreeError, lambda: harness.backend.stage_copy(f"{STAGING}/t/2", RESERVED))


def test_discard_removes_staged_files_and_folders(harness: Harness) -> None:
    """discard removes a staged file and a staged folder tree; a missing path is fine."""
    harness.backend.ensure_dir(f"{STAGING}/t")
    harness.backend.stage_copy(f"{STAGING}/t/1", "a")
    harness.backend.stage_bytes(f"{STAGING}/t/2", b"x")
    harness.backend.discard(f"{STAGING}/t/1")
    harness.backend.discard(f"{STAGING}/t/2")
    harness.backend.discard(f"{STAGING}/t/3")
    harness.backend.discard(f"{STAGING}/gone/3")
    assert harness.state() == initial() | {RESERVED: "dir", STAGING: "dir", f"{STAGING}/t": "dir"}


def test_discard_refuses_anything_outside_the_staging_area(harness: Harness) -> None:
    """discard of a store path, another reserved path or the staging folder itself raises StoreError."""
    harness.backend.ensure_dir(f"{RESERVED}/trash/t")
    harness.backend.ensure_dir(STAGING)
    for path in ("a", "c.txt", f"{RESERVED}/trash/t", STAGING, RESERVED, "", f"{STAGING}/../../a"):
        unchanged(harness, StoreError, partial(harness.backend.discard, path))


def test_ensure_dir_creates_missing_parents_and_is_idempotent(harness: Harness) -> None:
    """ensure_dir creates every missing reserved folder and does nothing the second time."""
    harness.backend.ensure_dir(f"{STAGING}/x/y")
    harness.backend.ensure_dir(f"{STAGING}/x/y")
    reserved = {RESERVED, STAGING, f"{STAGING}/x", f"{STAGING}/x/y"}
    assert harness.state() == initial() | dict.fromkeys(reserved, "dir")


def test_store_reads_never_show_the_reserved_area(harness: Harness) -> None:
    """stat, walk, collision, deepest and read_tree leave out the reserved area."""
    harness.backend.ensure_dir(f"{STAGING}/a/very/deep/folder/below/the/reserved/area")
    backend = harness.backend
    assert backend.stat(RESERVED) is None
    assert backend.stat(STAGING) is None
    assert RESERVED not in {e.path.split("/")[0] for e in backend.walk("")}
    assert list(backend.walk(STAGING)) == []
    assert backend.collision(".PVA") is None
    assert backend.deepest("") == len(b"a/sub/deep/z.txt")
    whole = backend.read_tree([Read("", tree=True)])
    assert RESERVED not in {e.path.split("/")[0] for e in whole.walk()}


def test_sync_is_a_barrier_that_succeeds(harness: Harness) -> None:
    """sync returns normally and changes nothing."""
    before = harness.state()
    harness.backend.sync()
    assert harness.state() == before


def test_read_tree_holds_what_a_read_needs_and_nothing_more(harness: Harness) -> None:
    """read_tree gives the ancestors, the parent's listing, the path hashed and (tree) all below it."""
    harness.put("other/far/away.txt", b"far")
    tree = harness.backend.read_tree([Read("a/sub/y.txt", hashed=True), Read("a/sub/deep", tree=True)])
    generations = any(entry.generation is not None for entry in tree.walk())
    below = None if generations else sha(b"gamma")  # identified by its generation where there is one
    assert plain(tree.walk()) == [
        Entry("a", "dir"),
        Entry("a/sub", "dir"),
        Entry("a/sub/deep", "dir"),
        Entry("a/sub/deep/z.txt", "file", 5, below),
        Entry("a/sub/y.txt", "file", 4, sha(b"beta")),
    ]


def test_what_a_read_names_has_a_content_identity_and_its_listing_does_not(harness: Harness) -> None:
    """Files a read names or reads whole carry a generation or a sha256; the siblings listed carry neither."""
    tree = harness.backend.read_tree([Read("a/x.txt"), Read("a/sub", tree=True)])
    bound = {"a/x.txt", "a/sub/y.txt", "a/sub/deep/z.txt"}
    for entry in tree.walk():
        identity = entry.sha256 or entry.generation
        if entry.path in bound:
            assert identity is not None, entry
        elif not entry.is_dir:
            assert entry.sha256 is None, entry


def test_read_tree_of_a_missing_path_lists_the_deepest_folder_that_exists(harness: Harness) -> None:
    """A read below a missing folder lists the deepest existing ancestor (where the plan would create)."""
    tree = harness.backend.read_tree([Read("a/new/deeper/x.txt")])
    assert {e.path for e in tree.walk()} == {"a", "a/Résumé.pdf", "a/sub", "a/x.txt"}


# -- part 3: read_tree(footprint(plan)) verifies as a full scan does ------------


def plans() -> dict[str, PlanBuilder]:
    alpha = sha(b"alpha")
    return {
        "file-by-custodian": PlanBuilder("sort", scope=["a", "b"])
        .mkdir("b/alice/2024", parents=True)
        .move("a/x.txt", "b/alice/2024/x.txt", expect={"sha256": alpha})
        .rename("a/sub/y.txt", "y renamed.txt"),
        "overwrite-and-copy": PlanBuilder("write", scope=["a", "b", "c.txt"])
        .write("c.txt", "charlie 2", overwrite=True, expect={"sha256": sha(b"charlie")})
        .copy("a/sub", "b/sub-copy")
        .delete("a/Résumé.pdf"),
        "problems": PlanBuilder("broken", scope=["a", "b", "c.txt"])
        .move("a/missing.txt", "b/missing.txt")
        .mkdir("a/sub")
        .write("c.txt", "no overwrite")
        .write("A/X.txt", "collides")
        .move("a", "a/sub/a")
        .copy("a/x.txt", "c.txt/x.txt")
        .delete("a/x.txt", expect={"sha256": sha(b"wrong")}),
        "case-collisions-on-the-way": PlanBuilder("collide", scope=["A", "b"])
        .mkdir("A/new/deeper", parents=True)
        .write("b/SUB.txt", "x"),
        "folder-moves": PlanBuilder("restructure", scope=["a", "b"])
        .move("a/sub", "b/sub")
        .move("b/sub/deep", "a/deep")
        .rename("a", "a2")
        .delete("b/sub"),
    }


def without_pins(report: Report) -> dict[str, Any]:
    """The report as JSON, without the ``expect`` pins of the inverse plan."""
    body = report.model_dump()
    for op in (body["inverse"] or {}).get("ops", []):
        op.pop("expect", None)
    return body


def pins(report: Report) -> list[dict[str, Any]]:
    return [op.get("expect", {}) for op in (report.inverse or {}).get("ops", [])]


@pytest.mark.parametrize("name", sorted(plans()))
def test_read_tree_of_the_footprint_verifies_like_a_full_scan(harness: Harness, name: str) -> None:
    """Verifying against read_tree(footprint(plan)) reports as a full scan does (inverse pins may weaken)."""
    harness.put("elsewhere/big/f.txt", b"unrelated")
    harness.put("b/sub.txt", b"sub")
    plan = plans()[name].build()
    full = verify(plan, tree_of(harness.backend.walk("")))
    partial = harness.backend.read_tree(footprint(plan))
    narrow = verify(plan, partial)
    assert without_pins(narrow) == without_pins(full)
    for weak, strong in zip(pins(narrow), pins(full), strict=True):
        # An unhashed move or rename (footprint hashes it only when the plan pins it) is undone by size.
        assert weak == strong or (set(weak) == {"size"} and "sha256" in strong)
    assert partial.stat("elsewhere/big") is None  # at most listed, never read below


def footprint_rows(tree: Tree) -> list[tuple[str, str, int | None]]:
    return [(entry.path, entry.kind, entry.size) for entry in tree.walk()]


@pytest.mark.parametrize("name", sorted(plans()))
def test_every_store_reads_the_same_footprint_and_fingerprint(
    harness: Harness, name: str, tmp_path: Path
) -> None:
    """Every backend, the folder scan and a manifest read one footprint; the approval's fingerprint agrees.

    A store with generations (GCS) identifies bound files by generation
    instead of sha256, so its fingerprint is its own: there every bound file
    must carry a generation, and the rest must agree.
    """
    reads = footprint(plans()[name].build())
    disk = tmp_path / "reference"
    write_files(disk, SEED)
    folder = read_footprint(disk, reads)
    manifest = read(TreeSource(read_manifest(manifest_lines(scan(disk), str(disk), hashed=True))), reads)
    mine = harness.backend.read_tree(reads)
    assert footprint_rows(mine) == footprint_rows(folder) == footprint_rows(manifest)
    assert fingerprint(pinned(folder, reads)) == fingerprint(pinned(manifest, reads))
    bound = [entry for entry in pinned(mine, reads).walk() if not entry.is_dir]
    if any(entry.generation is not None for entry in bound):
        assert all(entry.generation is not None for entry in bound)
    else:
        assert fingerprint(pinned(mine, reads)) == fingerprint(pinned(folder, reads))


def test_read_tree_does_not_list_the_rest_of_the_store(tmp_path: Path) -> None:
    """read_tree for a small plan lists a handful of folders, whatever else the store holds."""
    harness = local_harness(tmp_path)
    for index in range(100):
        harness.put(f"elsewhere/{index % 10}", None)
    big = tmp_path / "store" / "elsewhere"
    for index in range(10_000):
        (big / str(index % 10) / f"{index}.txt").write_bytes(b"")
    plan = plans()["file-by-custodian"].build()
    before = harness.counts().get("listdir", 0)
    tree = harness.backend.read_tree(footprint(plan))
    listings = harness.counts().get("listdir", 0) - before
    assert verify(plan, tree).ok
    assert listings <= 3, listings  # a, a/sub and b: one listing each
    harness.close()


def test_move_of_a_file_onto_itself_with_replace_changes_nothing(target: Target) -> None:
    """A file moved onto itself with replace stays where it is, bytes and all."""
    target.ops.move("c.txt", "c.txt", replace=True)
    assert target.state() == initial()


# -- streaming reads and writes (the read endpoints and blob uploads) ----------


def test_entries_list_a_folder_parents_first_to_a_depth(harness: Harness) -> None:
    """entries lists below a folder, parents first by name, as deep as asked; never the reserved area."""
    harness.backend.ensure_dir(STAGING)
    everything = [e.path for e in harness.backend.entries("")]
    assert everything == sorted(SEED, key=lambda p: p.split("/"))
    assert [e.path for e in harness.backend.entries("", depth=1)] == ["a", "b", "c.txt"]
    assert [e.path for e in harness.backend.entries("a", depth=2)] == [
        "a/Résumé.pdf",
        "a/sub",
        "a/sub/deep",
        "a/sub/y.txt",
        "a/x.txt",
    ]
    sizes = {e.path: e.size for e in harness.backend.entries("a", depth=1) if not e.is_dir}
    assert sizes == {"a/Résumé.pdf": 2, "a/x.txt": 5}
    for missing in ("nope", "c.txt", RESERVED):
        with pytest.raises(NotFound):
            list(harness.backend.entries(missing))


def test_entries_after_a_cursor_are_the_listing_past_it_wherever_the_cursor_lies(harness: Harness) -> None:
    """entries(after=) is the listing past that path: at every page boundary, and for cursors naming nothing.

    Cursors: every listed path, the folder itself, names between and around
    them that do not exist, a path below a file, paths outside the folder.
    """
    for folder in ("", "a", "a/sub"):
        for depth in (1, 2, None):
            listing = [e.path for e in harness.backend.entries(folder, depth=depth)]
            absent = ["0", "a/a", "a/sub/", "a/sub/deep/zz", "a/x.txt/y", "b0", "zz"]
            cursors = [*listing, folder or "a", *absent]
            for after in cursors:
                past = [p for p in listing if p.split("/") > after.split("/")]
                got = [e.path for e in harness.backend.entries(folder, depth=depth, after=after)]
                assert got == past, (folder, depth, after)


def test_entries_hash_files_when_asked(harness: Harness) -> None:
    """entries(hashed=True) gives every file its sha256."""
    hashed = {e.path: e.sha256 for e in harness.backend.entries("a/sub", hashed=True) if not e.is_dir}
    assert hashed == {"a/sub/deep/z.txt": sha(b"gamma"), "a/sub/y.txt": sha(b"beta")}


def test_open_read_streams_a_file_and_any_part_of_it(harness: Harness) -> None:
    """open_read names the content's version (sha256 or generation) and streams any byte range of it."""
    stream = harness.backend.open_read("a/x.txt")
    try:
        assert stream.entry.size == 5
        assert stream.entry.sha256 == sha(b"alpha") or stream.entry.generation is not None
        assert b"".join(stream.chunks(0, 5)) == b"alpha"
        assert b"".join(stream.chunks(1, 3)) == b"lp"
        assert b"".join(stream.chunks(4, 5)) == b"a"
    finally:
        stream.close()
    stream.close()  # closing twice is fine


def test_open_read_refuses_folders_missing_and_reserved_files(harness: Harness) -> None:
    """open_read of a folder (the root too) is IsADirectory; of a missing or reserved file NotFound."""
    harness.backend.ensure_dir(BLOBS)
    harness.put(f"{BLOBS}/{sha(b'blob')}", b"blob")
    for folder in ("a", ""):
        with pytest.raises(IsADirectory):
            harness.backend.open_read(folder)
    for missing in ("nope", "a/nope", "c.txt/x", f"{BLOBS}/{sha(b'blob')}"):
        with pytest.raises(NotFound):
            harness.backend.open_read(missing)


def test_stage_stream_creates_a_reserved_file_whole_or_not_at_all(harness: Harness) -> None:
    """stage_stream writes its chunks to a new reserved file; a failing stream leaves nothing; no replace."""
    harness.backend.ensure_dir(f"{STAGING}/t")
    harness.backend.stage_stream(f"{STAGING}/t/1", iter([b"one ", b"two"]))
    assert harness.state()[f"{STAGING}/t/1"] == sha(b"one two")

    def failing() -> Iterator[bytes]:
        yield b"half"
        raise OSError("the client went away")

    before = harness.state()
    with pytest.raises(OSError, match="went away"):
        harness.backend.stage_stream(f"{STAGING}/t/2", failing())
    assert harness.state() == before
    unchanged(harness, AlreadyExists, lambda: harness.backend.stage_stream(f"{STAGING}/t/1", iter([b"x"])))
    unchanged(harness, StoreError, lambda: harness.backend.stage_stream("b/new", iter([b"x"])))
