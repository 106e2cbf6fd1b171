"""Fixtures of the GCS tests: the shared faithful server and a fresh bucket per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sidecar.backends.gcs.backend import GcsBackend
from tests.gcs.fixtures import new_bucket, open_gcs, shared_server
from tests.gcs.server import GcsServer


@pytest.fixture
def server() -> Iterator[GcsServer]:
    made = shared_server()
    yield made
    with made.state.lock:
        made.state.faults.clear()
        made.state.moves = True


@pytest.fixture
def bucket(server: GcsServer) -> str:
    return new_bucket(server)


@pytest.fixture
def backend(server: GcsServer, bucket: str, tmp_path: Path) -> Iterator[GcsBackend]:
    made = open_gcs(server, bucket, tmp_path / "state")
    yield made
    made.close()
