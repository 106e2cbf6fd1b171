"""Benchmarks ``load`` and ``memory``: reading a 1,000,000-entry manifest file into a tree.

Each measurement runs in a fresh interpreter (``bench.probe``) so that what
earlier benchmarks allocated does not blur it. Memory per entry is the growth
of the peak RSS (VmHWM) over the load, divided by the entries; the RSS still
held after the load and Python's own count (tracemalloc) are reported beside it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from bench.corpus import manifest_file
from bench.harness import Goal, Result, Sizes, median

LOAD_GOAL = Goal(3.0, at_least=False)  # seconds for 1,000,000 entries
BYTES_GOAL = Goal(300, at_least=False)  # peak bytes per tree entry
PROJECT = Path(__file__).resolve().parent.parent


def probe(*args: str) -> dict[str, Any]:
    """Run ``python -m bench.probe ARGS`` in a fresh interpreter and return its JSON."""
    done = subprocess.run(
        [sys.executable, "-m", "bench.probe", *args], cwd=PROJECT, capture_output=True, text=True, check=True
    )
    found: dict[str, Any] = json.loads(done.stdout)
    return found


def run_time(sizes: Sizes) -> Result:
    layout = sizes.big
    path = manifest_file(layout)
    result = Result("load", f"read a {layout.entry_count:,}-entry manifest file into a tree")
    seconds = probe("time", str(path), str(sizes.repeats))["seconds"]
    result.add("load time", median(seconds), "s", LOAD_GOAL)
    result.add("load rate", layout.entry_count / median(seconds), "entries/s")
    result.add("manifest file size", path.stat().st_size / 1e6, "MB")
    result.data.update(entries=layout.entry_count, seconds=seconds, file_bytes=path.stat().st_size)
    return result


def run_memory(sizes: Sizes) -> Result:
    layout = sizes.big
    path = manifest_file(layout)
    entries = layout.entry_count
    result = Result("memory", f"memory of a {entries:,}-entry tree loaded from a manifest")
    status = probe("rss", str(path))
    peak = (status["hwm_after_kib"] - status["hwm_before_kib"]) * 1024 / entries
    held = (status["rss_after_kib"] - status["rss_before_kib"]) * 1024 / entries
    result.add("peak RSS growth per entry", peak, "bytes", BYTES_GOAL)
    result.add("RSS held after load per entry", held, "bytes")
    traced = probe("tracemalloc", str(path))
    result.add("tracemalloc current per entry", traced["current_bytes"] / entries, "bytes")
    result.add("tracemalloc peak per entry", traced["peak_bytes"] / entries, "bytes")
    result.add("peak RSS of the process", status["hwm_after_kib"] / 1024, "MiB")
    result.data.update(entries=entries, rss=status, tracemalloc=traced)
    return result
