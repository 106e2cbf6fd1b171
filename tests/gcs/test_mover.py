"""The mover's journals when several threads (applies of one sidecar) move and settle at once.

``settle`` runs at every read and move of the backend, so it meets journals
of live moves and other settles all the time. It must never take a live
move's journal for a dead one, nor settle a journal twice.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from sidecar.backends.gcs.backend import GcsBackend
from sidecar.backends.gcs.movejournals import ABANDONED_AFTER
from sidecar.backends.gcs.mover import Mover, Pair
from tests.gcs.fixtures import bucket_state, seed
from tests.gcs.server import GcsServer


class Crash(BaseException):
    """The process dies here (a BaseException: nothing cleans up on the way out)."""


def _pairs(backend: GcsBackend) -> list[Pair]:
    objects = backend.mover.objects
    return [Pair.of(obj, obj.name.replace("/in/", "/out/")) for obj in objects.iterate("store/m/in/")]


def test_a_settle_during_a_journals_creation_leaves_it_alone(
    server: GcsServer, bucket: str, backend: GcsBackend, tmp_path: Path
) -> None:
    seed(server, bucket, "store", {f"m/in/{n}.txt": b"x" for n in range(5)})
    other = Mover(backend.mover.objects, tmp_path / "moves")
    settled: list[int] = []

    def meanwhile(label: str) -> None:
        if label == "journal created":  # another thread's settle, before the intent is written
            thread = threading.Thread(target=lambda: settled.append(other.settle()))
            thread.start()
            thread.join()

    mover = Mover(backend.mover.objects, tmp_path / "moves", hook=meanwhile)
    mover.move(_pairs(backend), None)  # its journal is removed at the end: ENOENT if settle took it
    assert settled == [0]
    assert sorted(bucket_state(server, bucket, "store")) == [f"m/out/{n}.txt" for n in range(5)]
    assert list((tmp_path / "moves").iterdir()) == []


def test_two_settles_of_one_dead_journal_settle_it_once(
    server: GcsServer, bucket: str, backend: GcsBackend, tmp_path: Path
) -> None:
    seed(server, bucket, "store", {f"m/in/{n}.txt": b"x" for n in range(5)})

    def die(label: str) -> None:
        if label == "move journaled":
            raise Crash

    with pytest.raises(Crash):
        Mover(backend.mover.objects, tmp_path / "moves", hook=die).move(_pairs(backend), None)
    first = Mover(backend.mover.objects, tmp_path / "moves")
    counts: list[int] = []

    def between_open_and_lock(label: str) -> None:
        if label == "settle opened" and not counts:  # the other settle runs whole in this gap
            counts.append(first.settle())

    second = Mover(backend.mover.objects, tmp_path / "moves", hook=between_open_and_lock)
    counts.append(second.settle())
    assert counts == [1, 0]
    assert sorted(bucket_state(server, bucket, "store")) == [f"m/out/{n}.txt" for n in range(5)]
    assert list((tmp_path / "moves").iterdir()) == []


def test_a_journal_whose_maker_died_before_naming_it_is_removed_once_old(
    server: GcsServer, bucket: str, backend: GcsBackend, tmp_path: Path
) -> None:
    seed(server, bucket, "store", {f"m/in/{n}.txt": b"x" for n in range(3)})
    before = bucket_state(server, bucket, "store")

    def die(label: str) -> None:
        if label == "journal created":
            raise Crash

    with pytest.raises(Crash):
        Mover(backend.mover.objects, tmp_path / "moves", hook=die).move(_pairs(backend), None)
    (left,) = (tmp_path / "moves").iterdir()
    assert left.name.endswith(".tmp")
    assert Mover(backend.mover.objects, tmp_path / "moves").settle() == 0
    assert left.exists()  # it may be a live maker's, not locked yet: only an old one is removed
    os.utime(left, (time.time() - ABANDONED_AFTER - 1,) * 2)
    assert Mover(backend.mover.objects, tmp_path / "moves").settle() == 0
    assert list((tmp_path / "moves").iterdir()) == []
    assert bucket_state(server, bucket, "store") == before  # nothing moved
