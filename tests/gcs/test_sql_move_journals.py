"""Folder-move journals in the database (``SqlMoveJournals``): settled by whoever settles their apply.

On the faithful GCS test server, with SQLite and PostgreSQL. A mover that
dies mid-move leaves its journal in the database; the replica that takes
over the apply (a new lease on its paths, ``leases.working``) finishes the
move, and a replica working on another apply leaves it alone.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import pytest
from sqlalchemy import Engine, text

from sidecar.apply.leases import SqlLocks, working
from sidecar.apply.sqljournals import SqlMoveJournals
from sidecar.backends.gcs.backend import GcsBackend
from sidecar.backends.gcs.mover import Mover, Pair
from sidecar.backends.gcs.objects import Obj, Objects
from sidecar.db import make_engine
from tests.gcs.fixtures import bucket_state, seed
from tests.gcs.server import GcsServer

DOCUMENTS = [f"m/in/{n}.txt" for n in range(6)]
MOVED = [name.replace("/in/", "/out/") for name in DOCUMENTS]


class Crash(BaseException):
    """The process dies here."""


class DiesAfter:
    """The bucket as a process sees it that dies after ``moves`` object moves (every later call dies)."""

    def __init__(self, objects: Objects, moves: int) -> None:
        self.objects = objects
        self.left = moves
        self.lock = threading.Lock()

    def move(self, obj: Obj, dst: str) -> Obj:
        with self.lock:
            self.left -= 1
            if self.left < 0:
                raise Crash
        return self.objects.move(obj, dst)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.objects, name)


@pytest.fixture
def engine(url: str) -> Iterator[Engine]:
    made = make_engine(url)
    yield made
    made.dispose()


def _pairs(backend: GcsBackend) -> list[Pair]:
    objects = backend.mover.objects.iterate("store/m/in/")
    return [Pair.of(obj, obj.name.replace("/in/", "/out/")) for obj in objects]


def _journals(engine: Engine) -> list[tuple[str, bool]]:
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT name, done FROM journals WHERE kind = 'move' ORDER BY name"))
        return [(str(name), bool(done)) for name, done in rows]


def test_a_move_under_an_apply_is_journaled_under_its_name_and_retired(
    server: GcsServer, bucket: str, backend: GcsBackend, engine: Engine
) -> None:
    seed(server, bucket, "store", dict.fromkeys(DOCUMENTS, b"x"))
    during: list[list[tuple[str, bool]]] = []

    def look(label: str) -> None:
        if label == "moved":
            during.append(_journals(engine))

    mover = Mover(backend.mover.objects, SqlMoveJournals(engine), hook=look)
    with SqlLocks(engine).hold(["m"], timeout=5) as lease, working(lease, "d.1"):
        mover.move(_pairs(backend), None)
    assert sorted(bucket_state(server, bucket, "store")) == MOVED
    (((name, done),),) = during
    assert name.startswith("d.1/move/")
    assert not done
    assert _journals(engine) == []  # done: removed, records and all
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM journal_records")).scalar() == 0


def test_a_move_outside_an_apply_is_refused_and_settles_nothing(
    server: GcsServer, bucket: str, backend: GcsBackend, engine: Engine
) -> None:
    seed(server, bucket, "store", dict.fromkeys(DOCUMENTS, b"x"))
    mover = Mover(backend.mover.objects, SqlMoveJournals(engine))
    with pytest.raises(RuntimeError, match="outside an apply"):
        mover.move(_pairs(backend), None)
    assert mover.settle() == 0
    assert sorted(bucket_state(server, bucket, "store")) == DOCUMENTS


def test_the_replica_taking_over_an_apply_finishes_its_interrupted_move(
    server: GcsServer, bucket: str, backend: GcsBackend, engine: Engine
) -> None:
    seed(server, bucket, "store", dict.fromkeys(DOCUMENTS, b"x"))
    locks = SqlLocks(engine)
    with ExitStack() as dead:
        lease = dead.enter_context(locks.hold(["m"], timeout=5))
        dead.enter_context(working(lease, "d.1"))
        mover = Mover(DiesAfter(backend.mover.objects, 3), SqlMoveJournals(engine), workers=1)  # type: ignore[arg-type]
        with pytest.raises(Crash):
            mover.move(_pairs(backend), None)
        with engine.begin() as connection:  # its lease ran out; the next taker removes it
            connection.execute(text("DELETE FROM apply_locks WHERE fence = :fence"), {"fence": lease.fence})
    half = bucket_state(server, bucket, "store")
    assert sum(name.startswith("m/out/") for name in half) == 3
    settler = Mover(backend.mover.objects, SqlMoveJournals(engine))
    with locks.hold(["n"], timeout=5) as other, working(other, "d.2"):
        assert settler.settle() == 0  # another apply's move: not this replica's to settle
    with locks.hold(["m"], timeout=5) as taken, working(taken, "d.1"):
        assert settler.settle() == 1
    assert sorted(bucket_state(server, bucket, "store")) == MOVED
    assert _journals(engine) == []  # settled: removed
