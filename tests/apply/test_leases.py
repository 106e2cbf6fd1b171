"""Path locks in the database (``SqlLocks``): what several replicas sharing one database rely on.

Each test runs on SQLite and PostgreSQL. Replicas are separate engines (and,
where a replica must die or stall, separate processes): exactly one holds
overlapping paths at a time, a dead replica's lease runs out and its paths
are taken over, and a replica that stalled past its lease finds it lost.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from sidecar.apply.engine import Engine as ApplyEngine
from sidecar.apply.leases import SqlLocks, live
from sidecar.apply.sqljournals import SqlJournals
from sidecar.audit.memory import MemoryAudit
from sidecar.backends.memory import MemoryBackend
from sidecar.db import make_engine
from sidecar.errors import LeaseLost, LockTimeout
from tests.support.plans import make_plan

ROOT = Path(__file__).resolve().parents[2]  # the checkout: the holder runs as tests.apply.lease_holder


@pytest.fixture
def engines(url: str) -> Iterator[tuple[Engine, Engine]]:
    """Two replicas' engines on one database."""
    first, second = make_engine(url), make_engine(url)
    yield first, second
    first.dispose()
    second.dispose()


def test_overlapping_paths_wait_and_disjoint_ones_do_not(engines: tuple[Engine, Engine]) -> None:
    one, two = SqlLocks(engines[0]), SqlLocks(engines[1])
    with one.hold(["matters/acme/inbox"], timeout=5):
        with two.hold(["matters/beta"], timeout=5):  # disjoint: held at once
            pass
        for overlapping in ("matters/acme/inbox/0001.pdf", "matters/acme", "Matters/ACME/Inbox"):
            with pytest.raises(LockTimeout), two.hold([overlapping], timeout=0.2):
                pass
    with two.hold(["matters/acme"], timeout=5):  # released: free again
        pass


def test_replicas_racing_for_one_lock_hold_it_one_at_a_time(engines: tuple[Engine, Engine]) -> None:
    replicas = [SqlLocks(engine, poll=0.001) for engine in engines for _ in range(2)]
    inside, most, fences = 0, 0, []
    guard = threading.Lock()

    def take(locks: SqlLocks) -> None:
        nonlocal inside, most
        for _ in range(10):
            with locks.hold(["matters/acme/inbox"], timeout=120) as lease:
                with guard:
                    inside += 1
                    most = max(most, inside)
                    fences.append(lease.fence)
                lease.check()
                with guard:
                    inside -= 1

    threads = [threading.Thread(target=take, args=(locks,)) for locks in replicas]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert most == 1
    assert len(fences) == 40
    assert len(set(fences)) == 40  # a fence is never handed out twice


def test_a_lease_is_renewed_while_held(engines: tuple[Engine, Engine]) -> None:
    locks = SqlLocks(engines[0], lease=timedelta(seconds=0.3))
    with locks.hold(["a"], timeout=5) as lease:
        for _ in range(3):  # well past the lease's length: renewed every third of it
            assert not lease.lost.wait(0.3)
            lease.check()
    assert not live(engines[0], lease.fence)  # released


def _holder(url: str, path: str, seconds: float) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.apply.lease_holder", url, path, str(seconds)],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    assert process.stdout.readline().startswith("held ")
    return process


def test_the_paths_of_a_replica_that_died_are_taken_once_its_lease_runs_out(url: str) -> None:
    dead = _holder(url, "matters/acme", 1)
    dead.kill()
    dead.communicate()  # waits, and closes its pipes
    engine = make_engine(url)
    with SqlLocks(engine).hold(["matters/acme/inbox"], timeout=60) as lease:
        lease.check()
    engine.dispose()


def test_a_replica_that_stalled_past_its_lease_finds_it_lost(url: str) -> None:
    stalled = _holder(url, "matters/acme", 1)
    assert stalled.stdin is not None
    assert stalled.stdout is not None
    stalled.send_signal(signal.SIGSTOP)  # a long pause: no renewal
    engine = make_engine(url)
    try:
        with SqlLocks(engine).hold(["matters/acme"], timeout=60) as lease:  # taken over
            stalled.send_signal(signal.SIGCONT)
            stalled.stdin.write("check\n")
            stalled.stdin.flush()
            assert stalled.stdout.readline().strip() == "lost"
            lease.check()  # the new holder's lease is the live one
            with engine.connect() as connection:
                holders = connection.execute(text("SELECT fence FROM apply_locks")).scalars().all()
            assert holders == [lease.fence]
    finally:
        stalled.send_signal(signal.SIGCONT)
        stalled.communicate(timeout=30)  # its input ends: it releases what it holds and exits
        engine.dispose()


def test_check_refuses_a_lease_that_is_gone(engines: tuple[Engine, Engine]) -> None:
    locks = SqlLocks(engines[0])
    with locks.hold(["a"], timeout=5) as lease:
        with engines[1].begin() as connection:  # another replica removed it (its lease had run out)
            connection.execute(text("DELETE FROM apply_locks"))
        with pytest.raises(LeaseLost):
            lease.check()


def test_an_apply_whose_lease_runs_out_makes_no_further_step(url: str) -> None:
    """The engine asks its lease before each step: once another replica removed it, the apply stops."""
    engine = make_engine(url)
    backend = MemoryBackend()
    for name in ("a", "b", "c"):
        backend.put(f"m/in/{name}.pdf", name.encode())
    locks = SqlLocks(engine)

    def lose_the_lease(label: str) -> None:
        if label == "step 0":  # another replica took over after the first step
            with engine.begin() as connection:
                connection.execute(text("DELETE FROM apply_locks"))

    applying = ApplyEngine(backend, MemoryAudit(), SqlJournals(engine), locks=locks, hook=lose_the_lease)
    moves = ({"op": "move", "src": f"m/in/{n}.pdf", "dst": f"m/{n}.pdf"} for n in "abc")
    plan = make_plan(*moves, scope=("m",))
    with pytest.raises(LeaseLost):
        applying.apply(plan, actor="ops")
    moved = [name for name in ("a", "b", "c") if backend.exists(f"m/{name}.pdf")]
    assert len(moved) == 1  # the step before the lease was lost, and no other
    engine.dispose()
