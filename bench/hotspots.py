"""Benchmark ``profile`` (on demand only): where verify and the manifest load spend their time.

Runs cProfile over one verify of the file-only plan and over one manifest
load, and lists the functions with the most own time (tottime). Figures under
the profiler are slower than real ones; read them as shares, not speeds.
"""

from __future__ import annotations

import cProfile
import pstats
import re
from typing import Any

from bench.corpus import loaded_tree, manifest_file, read_lines
from bench.harness import Result, Sizes
from bench.plans import build_plan, filing_ops, take
from planner.core.manifest import read_manifest
from planner.core.verify import verify

TOP = 15


def run(sizes: Sizes) -> Result:
    tree, _ = loaded_tree(sizes.big)
    ops = take(filing_ops(sizes.big, with_dirs=False), sizes.verify_ops)
    plan = build_plan("File inboxes (profile)", ops)
    path = manifest_file(sizes.big)
    result = Result("profile", "top functions by own time (tottime) and by time inside (cumtime)")
    for label, action in (
        ("verify", lambda: verify(plan, tree)),
        ("load", lambda: read_manifest(read_lines(path))),
    ):
        rows = _profile(action)
        result.data[label] = rows
        for key in ("tottime", "cumtime"):
            for row in sorted(rows, key=lambda row: row[key], reverse=True)[:TOP]:
                result.add(f"[{label}, {key}] {row['function']}", row[f"{key}_share"] * 100, "%")
    return result


def _profile(action: Any) -> list[dict[str, Any]]:
    """Every function's calls, own time and time inside, as shares of the whole run."""
    profiler = cProfile.Profile()
    profiler.runcall(action)
    stats = pstats.Stats(profiler)
    entries = stats.stats.items()  # type: ignore[attr-defined]  # present, but not in the stubs
    total = max(cumtime for _, (_, _, _, cumtime, _) in entries)  # the action itself
    rows = []
    for (file, line, name), (_, calls, tottime, cumtime, _) in entries:
        if file == __file__:
            continue
        rows.append(
            {
                "function": _label(file, line, name),
                "calls": calls,
                "tottime": tottime,
                "cumtime": cumtime,
                "tottime_share": tottime / total,
                "cumtime_share": cumtime / total,
            }
        )
    return rows


def _label(file: str, line: int, name: str) -> str:
    """``planner/core/tree.py:129 _node``, or ``dict.get`` for a built-in."""
    if file == "~":
        method = re.fullmatch(r"<method '(\w+)' of '([\w.]+)' objects>", name)
        if method:
            return f"{method[2].rsplit('.', 1)[-1]}.{method[1]}"
        return name.removeprefix("<built-in method ").removesuffix(">")
    for marker in ("/planner/", "/bench/", "/pydantic/", "/python3.11/"):
        if marker in file:
            return f"{marker.strip('/')}/{file.split(marker, 1)[1]}:{line} {name}"
    return f"{file}:{line} {name}"
