"""Benchmark ``apply``: the apply engine's throughput against plain ``os`` calls on the same disk.

a) A 10,000-move plan (100 folders of 100 files into 100 other folders)
   applied by ``Engine(LocalBackend, SqlAuditStore on SQLite, FileJournals)``:
   journal, audit and the read-back check all on. Baseline: a loop of
   ``os.rename`` over the same moves in a second copy of the same store.
   The same moves again with ``expect: {"sha256": ...}`` on each (hashing
   every source) are a secondary figure.
b) A plan of 1,000 writes of new 4 KiB files (inline base64 content).
   Baseline: per file a create-only temp file, write, fsync, close, rename
   into place, then one fsync per folder.

Both stores of a run sit in one temporary folder under ``$PVA_BENCH_DATA``
(default ``/tmp/pva-bench``), so both sides run on the same filesystem; its
type is printed. Moves go back and forth between the two folder sets, so
every repetition moves the same files; pva and the baseline take turns going
first. Each apply is split into phases by timing wrappers around the
backend, audit log and journals the engine is given (``bench/apply_phases.py``),
and one more apply of each plan runs under cProfile for the hot spots.
"""

from __future__ import annotations

import base64
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.apply_phases import PHASES, Phases, TimedAudit, TimedBackend, TimedJournals, hot_spots
from bench.apply_store import (
    MoveSet,
    absolute,
    durable_write_loop,
    filesystem,
    flush,
    make_folders,
    make_move_store,
    rename_loop,
    write_items,
)
from bench.corpus import data_dir
from bench.harness import Goal, Result, Sizes, median, timed
from planner.core.plan import PLAN_VERSION, Plan
from sidecar import db
from sidecar.apply.engine import Engine
from sidecar.audit.store import SqlAuditStore
from sidecar.backends.local import LocalBackend

RATIO_GOAL = Goal(0.5, at_least=True)  # pva at least half as fast as the plain os loop
STEP_GOAL = Goal(0.2, at_least=True)  # issue 15's step towards it, for moves
WRITE_REPEATS = 7  # a write run takes about a second, and fsync times vary the most
PROFILE_TOP = 8  # hot spots per plan in the table (all of them go to the JSON file)


def paired(pva: list[float], baseline: list[float]) -> float:
    """The median over repetitions of pva's rate over the baseline's, each pair run back to back.

    Pairs share the disk's mood of the moment (other processes' writeback makes
    fsync times swing several-fold within a minute), so their ratio is steadier
    than the ratio of two medians taken minutes apart.
    """
    return median([base / mine for mine, base in zip(pva, baseline, strict=True)])


def spread(seconds: list[float]) -> float:
    """Slowest over fastest repetition: well above 1, the disk was busy with other work meanwhile."""
    return max(seconds) / min(seconds)


class Pva:
    """One engine on one store, as the sidecar builds it, with its phases measured."""

    def __init__(self, root: Path) -> None:
        url = f"sqlite:///{root.parent / (root.name + '-audit.sqlite')}"
        db.upgrade(url)
        self.phases = Phases()
        self.audit = SqlAuditStore.open(url)
        self.backend = LocalBackend(root)
        self.engine = Engine(
            TimedBackend(self.backend, self.phases),  # type: ignore[arg-type]  # a delegating wrapper
            TimedAudit(self.audit, self.phases),  # type: ignore[arg-type]
            TimedJournals(root, self.phases),  # journals in the store's .pva/journal
        )

    def apply(self, plan: Plan) -> tuple[float, dict[str, float]]:
        """Seconds one apply of ``plan`` takes, and its phases."""
        self.phases.reset()
        records = []
        seconds = timed(lambda: records.append(self.engine.apply(plan, actor="bench")))
        if records[0].status != "applied":
            raise AssertionError(f"the benchmark plan should apply: {records[0].message}")
        return seconds, self.phases.split(seconds)

    def profile(self, plan: Plan) -> list[dict[str, Any]]:
        return hot_spots(lambda: self.engine.apply(plan, actor="bench"))

    def close(self) -> None:
        self.backend.close()
        self.audit.close()


def run(sizes: Sizes) -> Result:
    moves, writes = sizes.sandbox_ops, sizes.sandbox_ops // 10  # 10,000 and 1,000 (a tenth with --quick)
    work = Path(tempfile.mkdtemp(prefix="apply-", dir=data_dir()))
    kind = filesystem(work)
    result = Result("apply", f"{moves:,} moves, {writes:,} writes; journal and audit on; {kind} at {work}")
    load = os.getloadavg()
    result.add("[machine] load average (1 minute) at the start", load[0])
    result.data.update(filesystem=kind, folder=str(work), load_before=load)
    try:
        # Writes first: the move store's 20,000 new files leave the disk busy for a while.
        _writes(result, work, writes, max(sizes.repeats, WRITE_REPEATS))
        _moves(result, work, moves, sizes.repeats)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result.data["load_after"] = os.getloadavg()
    return result


# -- a) moves -------------------------------------------------------------------


def move_plan(title: str, moves: MoveSet, *, expect: bool) -> Plan:
    ops = []
    for src, dst in moves.pairs:
        op: dict[str, Any] = {"op": "move", "src": src, "dst": dst}
        if expect:
            op["expect"] = {"sha256": moves.sha256[src.rsplit("/", 1)[1]]}
        ops.append(op)
    return Plan.model_validate({"pva": PLAN_VERSION, "title": title, "scope": ["m"], "ops": ops})


def _moves(result: Result, work: Path, count: int, repeats: int) -> None:
    forward = make_move_store(work / "pva", count)
    make_move_store(work / "base", count)
    flush(work)  # the setup's writeback is not what either side is measured on
    pva = Pva(work / "pva")
    backward = forward.reversed()
    plain: list[tuple[float, dict[str, float]]] = []
    pinned: list[tuple[float, dict[str, float]]] = []
    baseline: list[float] = []
    synced: list[float] = []

    def pva_side(rep: int) -> None:
        # There and back: the plain plan one way, the plan with expect the other, alternately.
        for moves, expect in ((forward, rep % 2 == 1), (backward, rep % 2 == 0)):
            measured = pva.apply(move_plan(f"moves {rep} {moves is forward}", moves, expect=expect))
            (pinned if expect else plain).append(measured)

    def baseline_side(_rep: int) -> None:
        baseline.append(timed(lambda: rename_loop(absolute(work / "base", forward.pairs))))
        synced.append(_timed_synced(work / "base", backward))

    try:
        _take_turns(repeats, pva_side, baseline_side)
        profile = pva.profile(move_plan("moves profiled", forward, expect=False))
    finally:
        pva.close()
    _report_moves(
        result,
        count,
        plain=[s for s, _ in plain],
        pinned=[s for s, _ in pinned],
        baseline=baseline,
        synced=synced,
    )
    _report_split(result, "moves", [split for _, split in plain])
    _report_split(result, "moves+expect", [split for _, split in pinned])
    _report_profile(result, "moves", profile)


def _take_turns(repeats: int, first: Callable[[int], None], second: Callable[[int], None]) -> None:
    """Run both sides ``repeats`` times, changing which goes first each time."""
    for rep in range(repeats):
        for side in (first, second) if rep % 2 == 0 else (second, first):
            side(rep)


def _timed_synced(root: Path, moves: MoveSet) -> float:
    pairs = absolute(root, moves.pairs)

    def loop_and_sync() -> None:
        rename_loop(pairs)
        flush(root)

    return timed(loop_and_sync)


def _report_moves(
    result: Result,
    count: int,
    *,
    plain: list[float],
    pinned: list[float],
    baseline: list[float],
    synced: list[float],
) -> None:
    pva_rate, base_rate = count / median(plain), count / median(baseline)
    pinned_rate, synced_rate = count / median(pinned), count / median(synced)
    label = "moves"
    result.add(f"[{label}] pva apply of {count:,} moves", median(plain), "s")
    result.add(f"[{label}] pva rate", pva_rate, "moves/s")
    result.add(f"[{label}] os.rename loop rate", base_rate, "moves/s")
    result.add(f"[{label}] ratio pva / os.rename loop", paired(plain, baseline), "x", RATIO_GOAL)
    result.add(f"[{label}] the same ratio, against issue 15's step", paired(plain, baseline), "x", STEP_GOAL)
    result.add(f"[{label}] ratio of the median rates (info)", pva_rate / base_rate, "x")
    result.add(f"[{label}] loop's slowest / fastest repetition (info)", spread(baseline), "x")
    result.add(f"[{label}] os.rename loop + one syncfs rate (info)", synced_rate, "moves/s")
    result.add(f"[{label}] ratio pva / (loop + syncfs) (info)", pva_rate / synced_rate, "x")
    result.add("[moves+expect] pva apply, expect sha256 on each move", median(pinned), "s")
    result.add("[moves+expect] pva rate", pinned_rate, "moves/s")
    result.add("[moves+expect] ratio pva / os.rename loop", pinned_rate / base_rate, "x")
    result.data["moves"] = {
        "count": count,
        "pva_seconds": plain,
        "pva_expect_seconds": pinned,
        "rename_loop_seconds": baseline,
        "rename_loop_syncfs_seconds": synced,
    }


# -- b) writes ------------------------------------------------------------------


def write_plan(title: str, items: list[tuple[str, bytes]]) -> Plan:
    ops = [
        {"op": "write", "path": path, "content": base64.b64encode(data).decode("ascii"), "encoding": "base64"}
        for path, data in items
    ]
    return Plan.model_validate({"pva": PLAN_VERSION, "title": title, "scope": ["w"], "ops": ops})


def _writes(result: Result, work: Path, count: int, repeats: int) -> None:
    # One batch of new files per repetition, one for a warm-up pair (not counted), one profiled.
    batches = [write_items(f"w/r{rep}", count) for rep in range(repeats + 2)]
    for items in batches:
        make_folders(work / "pva", items)
        make_folders(work / "base", items)
    flush(work)
    pva = Pva(work / "pva")
    measured: list[tuple[float, dict[str, float]]] = []
    baseline: list[float] = []

    def pva_side(rep: int) -> None:
        measured.append(pva.apply(write_plan(f"writes {rep}", batches[rep])))

    def baseline_side(rep: int) -> None:
        baseline.append(timed(lambda: durable_write_loop(work / "base", batches[rep])))

    try:
        pva.apply(write_plan("writes warm-up", batches[-2]))
        durable_write_loop(work / "base", batches[-2])
        _take_turns(repeats, pva_side, baseline_side)
        profile = pva.profile(write_plan("writes profiled", batches[-1]))
    finally:
        pva.close()
    seconds = [s for s, _ in measured]
    pva_rate, base_rate = count / median(seconds), count / median(baseline)
    label = "writes"
    result.add(f"[{label}] pva apply of {count:,} new 4 KiB files", median(seconds), "s")
    result.add(f"[{label}] pva rate", pva_rate, "files/s")
    result.add(f"[{label}] fsync-and-rename loop rate", base_rate, "files/s")
    result.add(f"[{label}] ratio pva / loop", paired(seconds, baseline), "x", RATIO_GOAL)
    result.add(f"[{label}] ratio of the median rates (info)", pva_rate / base_rate, "x")
    result.add(f"[{label}] loop's slowest / fastest repetition (info)", spread(baseline), "x")
    result.data["writes"] = {"count": count, "pva_seconds": seconds, "loop_seconds": baseline}
    _report_split(result, label, [split for _, split in measured])
    _report_profile(result, "writes", profile)


# -- where the time goes --------------------------------------------------------


def _report_split(result: Result, label: str, splits: list[dict[str, float]]) -> None:
    """The median of each phase over the repetitions, in seconds and as a share of the apply."""
    total = median([sum(split.values()) for split in splits])
    medians = {phase: median([split[phase] for split in splits]) for phase in PHASES}
    for phase in PHASES:
        share = medians[phase] / total * 100
        result.add(f"[{label} split] {phase}", medians[phase], f"s ({share:.0f}%)")
    result.data.setdefault("split", {})[label] = {"runs": splits, "median": medians}


def _report_profile(result: Result, label: str, rows: list[dict[str, Any]]) -> None:
    for row in rows[:PROFILE_TOP]:
        result.add(f"[{label} profile, own time] {row['function']}", row["tottime_share"] * 100, "%")
    result.data.setdefault("profile", {})[label] = rows[:40]
