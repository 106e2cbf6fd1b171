"""Plumbing against an independent server: fake-gcs-server, with the real client over HTTP.

fake-gcs-server ignores preconditions on copy and delete and has no
objects.move, so it proves only the plumbing (multipart uploads with
metadata, downloads, delimited and paged listings, copies, deletes, the
bucket lookup, and the fallback from move to copy-and-delete); the faithful
server in ``tests/gcs/server.py`` proves the preconditions.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from planner.core.entry import Blob, Entry
from planner.core.errors import NotFound
from planner.core.footprint import Read
from sidecar.apply.direct import DirectOps
from sidecar.backends.gcs.backend import GcsBackend
from sidecar.backends.gcs.location import GcsLocation, open_backend
from tests.gcs.fake_gcs import create_bucket, fake_gcs_server
from tests.gcs.fixtures import FAST_RETRY, client_for


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    with fake_gcs_server() as found:
        yield found


@pytest.fixture
def backend(url: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[GcsBackend]:
    bucket = f"plumbing-{abs(hash(request.node.name)) % 10**8}"
    create_bucket(url, bucket)
    made = open_backend(GcsLocation(bucket, "store/"), tmp_path, client=client_for(url), retry=FAST_RETRY)
    yield made
    made.close()


def test_writes_reads_and_listings_go_through(backend: GcsBackend) -> None:
    """Folders, a written file with its sha256 metadata, stat, walk and read_tree work end to end."""
    ops = DirectOps(backend)
    ops.make_dir("m")
    ops.make_dir("m/in")
    ops.write_file("m/in/a.txt", Blob(sha(b"alpha"), 5, b"alpha"))
    entry = backend.stat("m/in/a.txt")
    assert entry is not None
    assert (entry.size, entry.sha256) == (5, sha(b"alpha"))
    assert [e.path for e in backend.walk("m")] == ["m", "m/in", "m/in/a.txt"]
    assert backend.read_tree([Read("m/in/a.txt", hashed=True)]).stat("m/in/a.txt") == Entry(
        "m/in/a.txt", "file", 5, sha(b"alpha"), entry.generation
    )


def test_renames_fall_back_to_copy_and_delete(backend: GcsBackend) -> None:
    """Without objects.move, a file and a folder rename by copy then delete, and the backend remembers."""
    ops = DirectOps(backend)
    for path in ("m", "m/in", "m/out"):
        ops.make_dir(path)
    for n in range(30):
        ops.write_file(f"m/in/{n}.txt", Blob(sha(b"%d" % n), None, b"%d" % n))
    ops.move("m/in/0.txt", "m/0.txt")
    ops.move("m/in", "m/out/in")
    assert backend.objects.can_move is False
    assert {e.path for e in backend.walk("m")} == {"m", "m/0.txt", "m/out", "m/out/in"} | {
        f"m/out/in/{n}.txt" for n in range(1, 30)
    }


def test_delete_goes_to_the_trash_and_copies_are_whole(backend: GcsBackend) -> None:
    """delete moves to the trash, copy of a folder copies every object, and staging is left empty."""
    ops = DirectOps(backend)
    ops.make_dir("m")
    ops.write_file("m/a.txt", Blob(sha(b"a"), 1, b"a"))
    ops.copy("m", "n")
    ops.delete("m")
    assert [e.path for e in backend.walk("")] == ["n", "n/a.txt"]


def test_read_file_returns_a_files_bytes_up_to_the_limit(backend: GcsBackend) -> None:
    """read_file gives a file's bytes (at most limit + 1 of them), and NotFound where no file is."""
    ops = DirectOps(backend)
    ops.make_dir("m")
    ops.write_file("m/a.txt", Blob(sha(b"alpha beta"), 10, b"alpha beta"))
    assert backend.read_file("m/a.txt", 100) == b"alpha beta"
    assert backend.read_file("m/a.txt", 4) == b"alpha"
    with pytest.raises(NotFound):
        backend.read_file("m/missing.txt", 100)
