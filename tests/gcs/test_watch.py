"""Changes made to a bucket behind pva's back, seen by the watch's periodic listing (the faithful server).

Another tool overwrites, deletes, adds and moves objects straight in the
bucket; each is recorded once as an ``outside_change`` with its sha256 and
its generations before and after, and a second listing records nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from sidecar.audit.watch_state import SqlWatchState
from sidecar.backends.gcs.backend import GcsBackend
from sidecar.service.watch import Watcher
from tests.gcs.fixtures import put, seed
from tests.gcs.server import GcsServer


@pytest.fixture
def state(url: str) -> Iterator[SqlWatchState]:
    watch = SqlWatchState.open(url, clock=lambda: datetime(2026, 12, 4, 9, 0, tzinfo=UTC))
    yield watch
    watch.close()


def test_overwrite_delete_add_and_move_in_the_bucket_are_recorded_with_generations(
    server: GcsServer, bucket: str, backend: GcsBackend, state: SqlWatchState
) -> None:
    """Each change another tool makes is one event; an overwrite names both generations; rescans add none."""
    seed(server, bucket, "store", {"m": None, "m/a.txt": b"a", "m/b.txt": b"b", "m/c.txt": b"c"})
    watch = Watcher(backend, state, clock=state._clock)  # the fixed clock
    assert watch.scan() == []
    put(server, bucket, "store/m/a.txt", b"a, overwritten")
    with server.state.lock:
        del server.state.buckets[bucket]["store/m/b.txt"]
        moved = server.state.buckets[bucket].pop("store/m/c.txt")
    put(server, bucket, "store/m/d.txt", moved.data)
    put(server, bucket, "store/m/n.txt", b"new")
    found = {change.change: change for change in watch.scan()}
    assert {(c.change, c.src, c.path) for c in found.values()} == {
        ("edited", None, "m/a.txt"),
        ("deleted", None, "m/b.txt"),
        ("moved", "m/c.txt", "m/d.txt"),
        ("added", None, "m/n.txt"),
    }
    edit = found["edited"]
    assert edit.before is not None
    assert edit.after is not None
    assert edit.after.sha256 == hashlib.sha256(b"a, overwritten").hexdigest()
    assert edit.before.generation is not None
    assert edit.after.generation is not None
    assert edit.after.generation > edit.before.generation
    assert edit.store == backend.name
    assert watch.scan() == []
