"""Plans applying while a folder of the store is swapped for a symlink to the outside: zero escapes.

The swapper of tests/backends/test_local_race.py races whole applies here:
verification, staging, steps and rollback all resolve paths through the
swapped folder. Whatever each apply's outcome, nothing outside the store is
read or written, and after recovery every plan is either applied or not at all.
"""

from __future__ import annotations

import hashlib
import os
import random
import time
from pathlib import Path

import pytest

from planner import Plan
from planner.core.errors import PvaError
from sidecar.apply.engine import Engine
from sidecar.apply.journal import FileJournals
from sidecar.audit.memory import MemoryAudit
from sidecar.backends.local import LocalBackend
from tests.backends.conftest import snapshot
from tests.backends.test_local_race import OUTSIDE, Swapper

DURATION = 2.0  # seconds of racing per mode


class PacedSwapper(Swapper):
    """Leaves the real folder in place a few milliseconds at a time, so some applies get through."""

    def run(self) -> None:
        try:
            while not self.halt.is_set():
                os.rename(self.folder, self.away)
                os.symlink(self.canary, self.folder)
                time.sleep(0.0005)
                os.unlink(self.folder)
                os.rename(self.away, self.folder)
                self.swaps += 1
                time.sleep(random.uniform(0.001, 0.02))
        except BaseException as error:  # noqa: BLE001  # reported to the test thread
            self.error = error


def plan(index: int) -> Plan:
    """Write, copy, move and delete inside the raced folder ``d``."""
    ops = [
        {"op": "write", "path": f"d/a{index}", "content": f"note {index}"},
        {"op": "copy", "src": f"d/a{index}", "dst": f"d/b{index}"},
        {"op": "move", "src": f"d/b{index}", "dst": f"d/c{index}"},
        {"op": "delete", "path": f"d/a{index}"},
    ]
    return Plan.model_validate({"pva": "plan/v1", "title": f"race {index}", "scope": ["d"], "ops": ops})


@pytest.mark.parametrize("mode", ["openat2", "walk"])
def test_applies_racing_a_symlink_swap_never_escape(tmp_path: Path, mode: str) -> None:
    """Applies through a folder being swapped for an outside symlink never touch the outside."""
    store, canary = tmp_path / "store", tmp_path / "outside" / "canary"
    (store / "d").mkdir(parents=True)
    (store / "d" / "x.txt").write_bytes(b"inside")
    canary.mkdir(parents=True)
    (canary / "x.txt").write_bytes(OUTSIDE)
    before = snapshot(canary.parent)
    audit = MemoryAudit()
    outcomes: list[str] = []
    with LocalBackend(store, openat2=mode == "openat2") as backend:
        engine = Engine(backend, audit, FileJournals(store))
        with PacedSwapper(store, canary) as swapper:
            deadline, index = time.monotonic() + DURATION, 0
            while time.monotonic() < deadline:
                index += 1
                try:
                    outcomes.append(engine.apply(plan(index), actor="race").status)
                except PvaError:
                    outcomes.append("interrupted")  # e.g. rollback itself refused: recovery finishes it
        engine.recover()
    assert snapshot(canary.parent) == before
    outside = hashlib.sha256(OUTSIDE).hexdigest()
    assert outside not in snapshot(store).values(), "outside bytes were copied into the store"
    assert swapper.swaps > 10
    assert "applied" in outcomes, "the race never let an apply through: it tested nothing"
    assert set(outcomes) - {"applied"}, "the race never hit an apply: it tested nothing"
    settled = {record.digest: record.status for record in audit.applies}
    for number in range(1, index + 1):
        done = (store / "d" / f"c{number}").exists()
        status = settled.get(plan(number).digest())
        assert done == (status == "applied"), f"plan {number}: store says {done}, audit says {status}"
        assert not (store / "d" / f"a{number}").exists(), f"plan {number} left a half-applied write"
