"""Run in a fresh interpreter: load one manifest file and print what it cost, as JSON.

``python -m bench.probe time FILE REPEATS``  seconds per load
``python -m bench.probe rss FILE``           peak and resident memory (from /proc/self/status)
``python -m bench.probe tracemalloc FILE``   bytes Python allocated (current and peak)

The manifest is streamed from the file line by line, so its text is never held
in memory; a fresh process keeps earlier benchmarks' memory out of the figures.
"""

from __future__ import annotations

import gc
import json
import resource
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

from bench.corpus import read_lines
from planner.core.manifest import read_manifest
from planner.core.tree import Tree


def _load(path: Path) -> Tree:
    return read_manifest(read_lines(path))


def _status_kib() -> dict[str, int]:
    """VmRSS and VmHWM (peak RSS), in KiB."""
    fields = {}
    for line in Path("/proc/self/status").read_text(encoding="ascii").splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0])
    return fields


def time_loads(path: Path, repeats: int) -> dict[str, Any]:
    seconds = []
    for _ in range(repeats):
        gc.collect()
        start = time.perf_counter()
        tree = _load(path)
        seconds.append(time.perf_counter() - start)
        del tree
    return {"seconds": seconds}


def rss(path: Path) -> dict[str, Any]:
    gc.collect()
    before = _status_kib()
    tree = _load(path)
    gc.collect()
    after = _status_kib()
    return {
        "rss_before_kib": before["VmRSS"],
        "hwm_before_kib": before["VmHWM"],
        "rss_after_kib": after["VmRSS"],
        "hwm_after_kib": after["VmHWM"],
        "maxrss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        "alive": tree is not None,
    }


def traced(path: Path) -> dict[str, Any]:
    gc.collect()
    tracemalloc.start()
    tree = _load(path)
    gc.collect()
    current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {"current_bytes": current, "peak_bytes": peak, "alive": tree is not None}


def main(argv: list[str]) -> None:
    mode, path = argv[0], Path(argv[1])
    if mode == "time":
        found = time_loads(path, int(argv[2]))
    elif mode == "rss":
        found = rss(path)
    elif mode == "tracemalloc":
        found = traced(path)
    else:
        raise SystemExit(f"unknown mode {mode!r}")
    print(json.dumps(found))


if __name__ == "__main__":
    main(sys.argv[1:])
