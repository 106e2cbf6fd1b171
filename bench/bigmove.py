"""Benchmark ``bigmove``: verifying a move of a folder holding 1,000,000 entries versus one file.

Both are one-op plans verified against the same 1,000,000-entry tree, many
times each; the figures are medians in microseconds. The brief promises that a
folder move is O(1) in what the folder holds. For scale, baseline A (the flat
dict) makes the same folder move once: it re-keys every entry below.
"""

from __future__ import annotations

import gc
import time

from bench.corpus import loaded_tree
from bench.flatdict import FlatStore
from bench.harness import Goal, Result, Sizes, median, timed
from bench.plans import one_op_plan
from planner.core.plan import Plan
from planner.core.tree import Tree
from planner.core.verify import verify

REPETITIONS = 2000
WARMUP = 20
RATIO_GOAL = Goal(2.0, at_least=False)  # "about what moving one file costs": our reading, within 2x


def run(sizes: Sizes) -> Result:
    layout = sizes.big
    tree, _ = loaded_tree(layout)
    held = layout.entry_count - 1  # everything but "matters" itself lies below it
    result = Result("bigmove", f"1-op plans against a {layout.entry_count:,}-entry tree")
    folder = one_op_plan("matters", "archive", scope=["matters", "archive"])
    single = one_op_plan(layout.file(0, 0), f"{layout.matter(0)}/{layout.file_name(0, 0)}", scope=["matters"])
    folder_us, file_us = _median_us(folder, tree), _median_us(single, tree)
    flat_seconds = _flat_folder_move(sizes)
    result.add(f"verify: move a folder holding {held:,} entries", folder_us, "us")
    result.add("verify: move one file", file_us, "us")
    result.add("ratio folder / file", folder_us / file_us, "x", RATIO_GOAL)
    result.add("flat dict (A): the same folder move, once", flat_seconds * 1e6, "us")
    result.data.update(
        entries_moved=held, repetitions=REPETITIONS, folder_move_us=folder_us, file_move_us=file_us,
        flat_dict_folder_move_seconds=flat_seconds,
    )  # fmt: skip
    return result


def _median_us(plan: Plan, tree: Tree) -> float:
    """Median microseconds of one verify, over many repetitions (after a warm-up)."""
    report = verify(plan, tree)
    if not report.ok:
        raise AssertionError(f"the benchmark plan should be valid: {report.errors}")
    for _ in range(WARMUP):
        verify(plan, tree)
    gc.collect()
    samples = []
    for _ in range(REPETITIONS):
        start = time.perf_counter()
        verify(plan, tree)
        samples.append(time.perf_counter() - start)
    return median(samples) * 1e6


def _flat_folder_move(sizes: Sizes) -> float:
    store = FlatStore.of(sizes.big.entries(), indexed=True)
    seconds = timed(lambda: store.move("matters", "archive"))
    if store.rekeyed != sizes.big.entry_count - 1:
        raise AssertionError(f"the flat dict re-keyed {store.rekeyed} entries")
    return seconds
