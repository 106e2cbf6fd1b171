"""Measuring and reporting: repeated timings, result rows, the table and the JSON file.

Timings use ``time.perf_counter`` after a ``gc.collect()``; a figure is the
median of its repetitions. Goals are reported, never enforced: a benchmark
that misses one still succeeds.
"""

from __future__ import annotations

import gc
import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.corpus import HUNDRED_K, MILLION, Layout

RESULTS = Path(__file__).parent / "results"


@dataclass(frozen=True)
class Sizes:
    """The sizes one run uses: the full ones of the issue, or a quick tenth for a smoke run."""

    big: Layout  # the 1,000,000-entry store
    small: Layout  # the 100,000-file store copied to disk
    verify_ops: int
    sandbox_ops: int
    repeats: int  # of each large measurement


FULL = Sizes(big=MILLION, small=HUNDRED_K, verify_ops=100_000, sandbox_ops=10_000, repeats=3)
QUICK = Sizes(
    big=Layout(matters=100, files_per_inbox=998, max_entries=100_000),
    small=Layout(matters=10, files_per_inbox=1000),
    verify_ops=10_000,
    sandbox_ops=1_000,
    repeats=2,
)


def timed(action: Callable[[], object]) -> float:
    """Seconds one call of ``action`` takes, after a full collection."""
    gc.collect()
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def repeat(
    action: Callable[[], object], times: int, *, setup: Callable[[], object] | None = None
) -> list[float]:
    """Time ``action`` ``times`` times; ``setup`` (untimed) runs before each call."""
    seconds = []
    for _ in range(times):
        if setup is not None:
            setup()
        seconds.append(timed(action))
    return seconds


def median(values: list[float]) -> float:
    return statistics.median(values)


@dataclass(frozen=True)
class Goal:
    """A target a figure should meet: ``at_least`` or ``at_most`` a bound."""

    bound: float
    at_least: bool

    def met(self, value: float) -> bool:
        return value >= self.bound if self.at_least else value <= self.bound

    def __str__(self) -> str:
        return f"{'>=' if self.at_least else '<='} {number(self.bound)}"


@dataclass(frozen=True)
class Row:
    """One line of a benchmark's table."""

    metric: str
    value: float
    unit: str
    goal: Goal | None = None

    def cells(self) -> tuple[str, str, str, str]:
        verdict = "" if self.goal is None else ("met" if self.goal.met(self.value) else "MISSED")
        return self.metric, f"{number(self.value)} {self.unit}".rstrip(), str(self.goal or ""), verdict


@dataclass
class Result:
    """What a benchmark found: rows for people, ``data`` for machines."""

    name: str
    title: str
    rows: list[Row] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)

    def add(self, metric: str, value: float, unit: str = "", goal: Goal | None = None) -> None:
        self.rows.append(Row(metric, value, unit, goal))


def number(value: float) -> str:
    if value == int(value) and abs(value) >= 10:
        return f"{int(value):,}"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 1:
        return f"{value:.2f}"
    return f"{value:.3g}"


def print_table(result: Result) -> None:
    header = ("metric", "value", "goal", "")
    lines = [header, *(row.cells() for row in result.rows)]
    widths = [max(len(line[i]) for line in lines) for i in range(4)]
    print(f"\n== {result.name}: {result.title}")
    for number, line in enumerate(lines):
        print("  " + "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip())
        if number == 0:
            print("  " + "  ".join("-" * width for width in widths))


def machine() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def write_json(result: Result, sizes: Sizes) -> Path:
    """Write ``bench/results/<name>.json`` and return its path."""
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{result.name}.json"
    body = {
        "benchmark": result.name,
        "title": result.title,
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "sizes": asdict(sizes),
        "figures": [
            {
                "metric": row.metric,
                "value": row.value,
                "unit": row.unit,
                "goal": None if row.goal is None else str(row.goal),
                "met": None if row.goal is None else row.goal.met(row.value),
            }
            for row in result.rows
        ],
        "details": result.data,
    }
    path.write_text(json.dumps(body, indent=2) + "\n", encoding="utf-8")
    return path
