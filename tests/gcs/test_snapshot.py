"""``pva snapshot gs://...``: a manifest of a bucket with generations, checksums and pva's sha256."""

from __future__ import annotations

import json

import pytest

from planner.cli.main import main
from planner.core.manifest import read_entries
from planner.core.tree import tree_of
from sidecar.apply.direct import DirectOps
from sidecar.backends.gcs.backend import GcsBackend
from sidecar.backends.gcs.snapshot import manifest
from tests.gcs.fixtures import client_for, put, seed
from tests.gcs.server import GcsServer


def test_a_snapshot_lists_what_gcsfuse_shows_with_generations_and_checksums(
    server: GcsServer, bucket: str, backend: GcsBackend
) -> None:
    """Files carry generation, size, md5, crc32c, and sha256 where pva bound it; loose ones are left out."""
    from planner.core.entry import Blob
    from tests.gcs.test_semantics import sha

    seed(server, bucket, "store", {"m": None, "m/old.txt": b"old"})
    put(server, bucket, "store/loose/x.txt", b"no placeholder above me")
    DirectOps(backend).write_file("m/new.txt", Blob(sha(b"new"), 3, b"new"))
    lines = list(manifest(f"gs://{bucket}/store", client=client_for(server.url)))
    bodies = {body["path"]: body for body in map(json.loads, lines[1:])}
    assert sorted(bodies) == ["m", "m/new.txt", "m/old.txt"]
    new, old = bodies["m/new.txt"], bodies["m/old.txt"]
    assert new["sha256"] == sha(b"new")
    assert "sha256" not in old
    assert new["generation"] == server.objects(bucket)["store/m/new.txt"].generation
    assert {"md5", "crc32c", "size"} <= set(old)
    assert tree_of(read_entries(lines)).stat("m/new.txt") is not None


def test_an_implicit_snapshot_shows_objects_below_any_prefix(server: GcsServer, bucket: str) -> None:
    """With implicit-dirs, every prefix of an object is a folder in the manifest."""
    put(server, bucket, "store/loose/deep/x.txt", b"x")
    lines = list(manifest(f"gs://{bucket}/store?implicit-dirs=true", client=client_for(server.url)))
    assert [json.loads(line)["path"] for line in lines[1:]] == ["loose", "loose/deep", "loose/deep/x.txt"]


def test_pva_snapshot_of_a_url_without_a_source_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    """pva snapshot of a scheme no installed package provides exits 2 with one line naming the scheme."""
    assert main(["snapshot", "nosuch://bucket/prefix"]) == 2
    assert "nosuch://" in capsys.readouterr().err
