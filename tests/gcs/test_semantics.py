"""The GCS backend's own semantics, on the faithful server: retries, preconditions, moves, folders.

What the conformance suite cannot see: a retried call meeting its own earlier
success, backoff on 429 and 503, generation fencing between two replicas,
the copy-and-delete fallback, a folder move that fails half-way, and the
folder model with and without implicit folders.
"""

from __future__ import annotations

import errno
import hashlib
from pathlib import Path

import pytest

from planner.core.errors import AlreadyExists
from planner.core.footprint import Read
from sidecar.apply.direct import DirectOps
from sidecar.apply.journal import FileJournals
from sidecar.backends.base import STAGING
from sidecar.backends.gcs.backend import GcsBackend
from sidecar.backends.gcs.location import GcsLocation
from sidecar.backends.gcs.movejournals import FileMoveJournals
from sidecar.errors import StoreFault
from tests.gcs.fixtures import bucket_state, open_gcs, put, seed
from tests.gcs.server import Fault, GcsServer

SEED: dict[str, bytes | None] = {
    "m": None,
    "m/in": None,
    "m/in/1.pdf": b"one",
    "m/in/2.pdf": b"two",
    "m/out": None,
}


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def seeded(server: GcsServer, bucket: str, backend: GcsBackend) -> GcsBackend:
    seed(server, bucket, "store", SEED)
    return backend


def test_a_create_retried_after_a_lost_response_is_our_own_success(
    server: GcsServer, bucket: str, seeded: GcsBackend
) -> None:
    """A 412 on a retried create whose object holds our bytes is the first attempt's success."""
    server.state.faults.append(Fault("POST", "/upload/", 503, after=True))
    DirectOps(seeded).write_file("m/out/new.txt", _blob(b"fresh"))
    assert bucket_state(server, bucket, "store")["m/out/new.txt"] == sha(b"fresh")
    assert server.state.faults[0].count == 0


def test_a_move_retried_after_a_lost_response_is_our_own_success(
    server: GcsServer, bucket: str, seeded: GcsBackend
) -> None:
    """A retried objects.move that finds its source gone and its bytes at the destination succeeded."""
    server.state.faults.append(Fault("POST", "/moveTo/", 503, after=True))
    seeded.rename("m/in/1.pdf", "m/out/1.pdf")
    state = bucket_state(server, bucket, "store")
    assert (state.get("m/in/1.pdf"), state["m/out/1.pdf"]) == (None, sha(b"one"))


def test_429_and_503_are_retried_with_backoff(server: GcsServer, bucket: str, seeded: GcsBackend) -> None:
    """Rate limits and unavailability are retried until the call goes through."""
    server.state.faults += [Fault("POST", "/moveTo/", 429, count=2), Fault("GET", "/o", 503, count=2)]
    seeded.rename("m/in", "m/out/in")
    assert bucket_state(server, bucket, "store")["m/out/in/2.pdf"] == sha(b"two")


def test_a_stale_replica_never_moves_a_newer_object(
    server: GcsServer, bucket: str, seeded: GcsBackend, tmp_path: Path
) -> None:
    """A replica that read generation g of a file cannot move it once another replica replaced it."""
    seeded.read_tree([Read("m/in/1.pdf", hashed=True)])  # the stale replica reads generation g
    other = open_gcs(server, bucket, tmp_path / "other")
    DirectOps(other).write_file("m/in/1.pdf", _blob(b"newer"), replace=True)  # another replica replaces it
    with pytest.raises(StoreFault, match="changed"):
        seeded.rename("m/in/1.pdf", f"{STAGING}/x")
    assert bucket_state(server, bucket, "store")["m/in/1.pdf"] == sha(b"newer")
    other.close()


def test_without_objects_move_the_backend_copies_then_deletes_and_remembers(
    server: GcsServer, bucket: str, seeded: GcsBackend
) -> None:
    """On a server without objects.move, renames copy then delete, and move is tried only once."""
    server.state.moves = False
    seeded.rename("m/in/1.pdf", "m/out/1.pdf")
    seeded.rename("m/in", "m/out/in")
    assert seeded.objects.can_move is False
    assert server.state.requests.get("POST unrouted", 0) >= 1
    state = bucket_state(server, bucket, "store")
    assert state == {
        "m": "dir",
        "m/out": "dir",
        "m/out/1.pdf": sha(b"one"),
        "m/out/in": "dir",
        "m/out/in/2.pdf": sha(b"two"),
    }


def test_a_folder_move_that_fails_half_way_moves_everything_back(
    server: GcsServer, bucket: str, seeded: GcsBackend
) -> None:
    """A folder move whose fifth object is refused puts the four moved ones back and changes nothing."""
    seed(server, bucket, "store", {f"m/in/{n}.txt": b"x" for n in range(20)})
    before = bucket_state(server, bucket, "store")
    server.state.faults.append(Fault("POST", "/moveTo/", 403, count=1))
    with pytest.raises(StoreFault) as caught:
        seeded.rename("m/in", "m/out/in")
    assert caught.value.errno == errno.EACCES
    assert bucket_state(server, bucket, "store") == before
    journals = seeded.mover.journals
    assert isinstance(journals, FileMoveJournals)
    assert list(journals.folder.glob("*.jsonl")) == []


def test_a_folder_of_many_objects_moves_whole(server: GcsServer, bucket: str, seeded: GcsBackend) -> None:
    """A folder of 300 objects and nested folders arrives whole at its new name, and nothing stays behind."""
    seed(
        server,
        bucket,
        "store",
        {"m/in/sub": None} | {f"m/in/sub/{n}.txt": str(n).encode() for n in range(300)},
    )
    seeded.rename("m/in", "m/out/in")
    state = bucket_state(server, bucket, "store")
    assert [p for p in state if p.startswith("m/in")] == []
    assert state["m/out/in/sub/299.txt"] == sha(b"299")
    assert sum(p.startswith("m/out/in/") for p in state) == 303


def test_explicit_folders_hide_objects_below_a_folder_without_placeholder(
    server: GcsServer, bucket: str, seeded: GcsBackend, tmp_path: Path
) -> None:
    """Without --implicit-dirs an object below a prefix with no placeholder is invisible; with it, seen."""
    put(server, bucket, "store/m/loose/deep/x.txt", b"loose")
    assert seeded.stat("m/loose") is None
    assert "m/loose" not in {e.path for e in seeded.walk("m")}
    implicit = open_gcs(server, bucket, tmp_path / "implicit", implicit=True)
    assert implicit.stat("m/loose/deep/x.txt") is not None
    assert {"m/loose", "m/loose/deep"} <= {e.path for e in implicit.walk("m") if e.is_dir}
    implicit.close()


def test_moving_the_last_file_out_of_an_implicit_folder_keeps_the_folder(
    server: GcsServer, bucket: str, tmp_path: Path
) -> None:
    """With implicit folders, a folder emptied by a move stays (it gets a placeholder), as the tree says."""
    put(server, bucket, "store/a/only.txt", b"x")
    put(server, bucket, "store/b/", b"")
    implicit = open_gcs(server, bucket, tmp_path / "state", implicit=True)
    implicit.rename("a/only.txt", "b/only.txt")
    assert implicit.stat("a") is not None
    implicit.close()


def test_sha256_metadata_is_trusted_only_while_bound_to_the_bytes(
    server: GcsServer, bucket: str, seeded: GcsBackend
) -> None:
    """A sha256 in metadata that does not match the object's crc32c is ignored and the bytes are hashed."""
    DirectOps(seeded).write_file("m/out/ok.txt", _blob(b"ok"))
    name = "store/m/out/ok.txt"
    assert server.objects(bucket)[name].metadata["sha256"] == sha(b"ok")
    put(
        server,
        bucket,
        "store/m/out/forged.txt",
        b"real",
        {"sha256": sha(b"claimed"), "pva-crc32c": "AAAAAA=="},
    )
    entry = seeded.stat("m/out/forged.txt")
    assert entry is not None
    assert entry.sha256 == sha(b"real")


def test_mkdir_on_a_taken_placeholder_is_already_exists(
    server: GcsServer, bucket: str, seeded: GcsBackend
) -> None:
    """mkdir where a placeholder appeared after the check is AlreadyExists, never an overwrite."""
    with pytest.raises(AlreadyExists):
        seeded.mkdir("m/in")
    server.state.faults.append(Fault("POST", "/upload/", 412))
    with pytest.raises(AlreadyExists):
        seeded.mkdir("m/new")


def test_a_missing_bucket_or_a_refusal_is_a_store_fault(server: GcsServer, tmp_path: Path) -> None:
    """Opening a bucket that does not exist fails with StoreFault, not a google exception."""
    with pytest.raises(StoreFault):
        open_gcs(server, "no-such-bucket", tmp_path / "state")


@pytest.mark.parametrize(
    ("store", "expected"),
    [
        ("gs://b", GcsLocation("b", "")),
        ("gs://b/projects/", GcsLocation("b", "projects/")),
        ("gs://b/p/q?implicit-dirs=true&workers=8", GcsLocation("b", "p/q/", implicit=True, workers=8)),
    ],
)
def test_a_store_string_names_bucket_prefix_and_options(store: str, expected: GcsLocation) -> None:
    """gs://BUCKET/PREFIX?implicit-dirs=...&workers=... parses to its parts; the prefix ends in '/'."""
    assert GcsLocation.parse(store) == expected


@pytest.mark.parametrize("store", ["gs://", "s3://b/p", "gs://b/p?color=red"])
def test_a_malformed_store_string_is_refused(store: str) -> None:
    """A store string that is not gs://BUCKET[/PREFIX] with known options is a StoreFault."""
    with pytest.raises(StoreFault):
        GcsLocation.parse(store)


def _blob(data: bytes):
    from planner.core.entry import Blob

    return Blob(sha(data), len(data), data)


def test_open_store_opens_a_bucket_with_its_journals_on_local_disk(
    server: GcsServer, bucket: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """open_store('gs://...') gives the GCS backend, with journals and locks below state_dir."""
    from sidecar.stores import open_store

    monkeypatch.setenv("STORAGE_EMULATOR_HOST", server.url)  # the library's documented test switch
    parts = open_store(f"gs://{bucket}/store", state_dir=tmp_path)
    try:
        assert parts.backend.name == f"gs://{bucket}/store/"
        assert isinstance(parts.journals, FileJournals)  # SQLite (no database given): on local disk
        assert parts.journals.root.is_relative_to(tmp_path)
        assert parts.journals.names() == []
    finally:
        parts.close()


def test_a_folder_listed_one_level_deep_is_one_listing_whatever_lies_below_it(
    server: GcsServer, bucket: str, backend: GcsBackend
) -> None:
    """entries(depth=1) is one delimited listing: thousands of objects below cost no more requests."""
    content: dict[str, bytes | None] = {"m": None, "m/deep": None, "m/top.pdf": b"top"}
    content |= {f"m/deep/{n:04}.pdf": b"x" for n in range(2_500)}  # more than two listing pages
    seed(server, bucket, "store", content)
    before = server.state.requests.get("GET list", 0)
    listed = [(e.path, e.kind) for e in backend.entries("m", depth=1)]
    assert listed == [("m/deep", "dir"), ("m/top.pdf", "file")]
    assert server.state.requests.get("GET list", 0) - before == 1
