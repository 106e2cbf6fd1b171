"""Benchmark ``sandbox``: pva's verify versus baseline B, "copy the store and run the plan there".

Baseline B is the dry run a sandbox offers without pva: copy a 100,000-file
store (100-byte files) to a temporary folder with ``shutil.copytree``, then
carry the plan out there with ``os`` calls, checking that each target is free
first. Its copy is part of its cost (that is the point); deleting the copy
afterwards is reported but not counted. B runs twice: copying into RAM
(tmpfs, B at its fastest) and onto disk (the temporary folder). pva verifies
the same plan against a manifest of the same folder, made by
``planner.agent.snapshot.scan``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from bench.corpus import Layout, data_dir, read_lines
from bench.harness import Goal, Result, Sizes, median, repeat, timed
from bench.plans import build_plan, filing_ops, mix, take
from planner.agent.snapshot import scan
from planner.core.manifest import manifest_lines, read_manifest
from planner.core.plan import Plan
from planner.core.verify import verify

FILE_BYTES = 100
SPEEDUP_GOAL = Goal(50, at_least=True)  # pva at least 50 times faster than copy and execute
TMPFS = "/dev/shm"  # noqa: S108  # only ever the parent of a fresh mkdtemp folder


def run(sizes: Sizes) -> Result:
    layout = sizes.small
    store = on_disk_store(layout)
    result = Result("sandbox", f"{sizes.sandbox_ops:,}-op plan, {_files(layout):,}-file store")
    ops = take(filing_ops(layout, with_dirs=True), sizes.sandbox_ops)
    plan = build_plan("File inboxes (sandbox)", ops)
    manifest, scan_seconds = _snapshot(store)
    pva = _time_pva(plan, manifest, sizes.repeats)
    result.add("pva: verify", pva["verify"], "s")
    result.add("pva: load the manifest (info)", pva["load"], "s")
    result.add("pva: scan and hash the store (info)", scan_seconds, "s")
    result.data.update(ops=len(ops), mix=mix(ops), pva=pva, scan_seconds=scan_seconds)
    for target, folder, times in _targets(sizes.repeats):
        copy = _time_copy_and_execute(plan, store, folder, times)
        speedup = copy["median_total"] / pva["verify"]
        with_load = copy["median_total"] / (pva["verify"] + pva["load"])
        result.add(f"B on {target}: copytree", copy["median_copy"], "s")
        result.add(f"B on {target}: execute with os calls", copy["median_execute"], "s")
        result.add(f"B on {target}: total (copy + execute)", copy["median_total"], "s")
        result.add(f"B on {target}: delete the copy (not counted)", copy["median_cleanup"], "s")
        result.add(f"speedup B on {target} / pva verify", speedup, "x", SPEEDUP_GOAL)
        result.add(f"speedup B on {target} / pva (load + verify)", with_load, "x")
        result.data[target] = {**copy, "folder": folder, "speedup": speedup, "speedup_with_load": with_load}
    return result


def _targets(repeats: int) -> list[tuple[str, str, int]]:
    """Where B copies to: RAM (tmpfs, B at its fastest) when there is one, and disk, once.

    On the benchmark VM one copy to disk takes from 10 s to 2 minutes (one
    small-file create costs about 0.8 ms there), so one run fits the budget.
    """
    targets = []
    if os.path.isdir(TMPFS) and os.access(TMPFS, os.W_OK):
        targets.append(("tmpfs", TMPFS, repeats))
    targets.append(("disk", str(data_dir()), 1))
    return targets


def _files(layout: Layout) -> int:
    return layout.matters * layout.files_per_inbox


# -- the store on disk -------------------------------------------------------


def on_disk_store(layout: Layout) -> Path:
    """The layout as real folders of 100-byte files, made once and reused."""
    root = data_dir() / f"store-{layout.matters}x{layout.files_per_inbox}"
    done = root.with_name(root.name + ".complete")
    if not done.exists():
        shutil.rmtree(root, ignore_errors=True)
        for path, size in layout.entries():
            target = root / path
            if size < 0:
                target.mkdir(parents=True)
            else:
                target.write_bytes(_content(path))
        done.touch()
    return root


def _content(path: str) -> bytes:
    return (path + "\n").encode().ljust(FILE_BYTES, b".")[:FILE_BYTES]


def _snapshot(store: Path) -> tuple[Path, float]:
    """Scan (hashing every file) into a manifest file; return it and the seconds taken."""
    manifest = store.with_name(store.name + ".jsonl")

    def write() -> None:
        with manifest.open("w", encoding="utf-8") as out:
            for line in manifest_lines(scan(store), str(store), hashed=True):
                out.write(line + "\n")

    return manifest, timed(write)


# -- the two sides -----------------------------------------------------------


def _time_pva(plan: Plan, manifest: Path, times: int) -> dict[str, Any]:
    trees = [read_manifest(read_lines(manifest))]

    def load() -> None:
        trees[0] = read_manifest(read_lines(manifest))

    load_seconds = repeat(load, times)
    report = verify(plan, trees[0])
    if not report.ok:
        raise AssertionError(f"the benchmark plan should be valid: {report.errors[:3]}")
    verify_seconds = repeat(lambda: verify(plan, trees[0]), max(times, 5))
    return {
        "load_seconds": load_seconds,
        "verify_seconds": verify_seconds,
        "load": median(load_seconds),
        "verify": median(verify_seconds),
    }


def _time_copy_and_execute(plan: Plan, store: Path, folder: str, times: int) -> dict[str, Any]:
    runs = [_copy_and_execute(plan, store, folder) for _ in range(times)]
    totals = [run["copy"] + run["execute"] for run in runs]
    return {
        "runs": runs,
        "median_copy": median([run["copy"] for run in runs]),
        "median_execute": median([run["execute"] for run in runs]),
        "median_cleanup": median([run["cleanup"] for run in runs]),
        "median_total": median(totals),
    }


def _copy_and_execute(plan: Plan, store: Path, folder: str) -> dict[str, float]:
    os.sync()  # start from clean page cache state: earlier benchmarks' writes are not B's
    with tempfile.TemporaryDirectory(dir=folder, prefix="pva-sandbox-") as scratch:
        copy = os.path.join(scratch, "store")
        copy_seconds = timed(lambda: shutil.copytree(store, copy))
        errors: list[str] = []
        execute_seconds = timed(lambda: errors.extend(execute(plan, copy)))
        if errors:
            raise AssertionError(f"copy and execute failed on a valid plan: {errors[:3]}")
        cleanup_seconds = timed(lambda: shutil.rmtree(copy))
    return {"copy": copy_seconds, "execute": execute_seconds, "cleanup": cleanup_seconds}


def execute(plan: Plan, root: str) -> list[str]:
    """Carry the plan out under ``root`` with os calls; return what went wrong."""
    errors = []
    for index, op in enumerate(plan.ops):
        try:
            _execute_op(op, root)
        except OSError as error:
            errors.append(f"op {index}: {error}")
    return errors


def _execute_op(op: Any, root: str) -> None:
    match op.op:
        case "mkdir" if op.parents:
            os.makedirs(os.path.join(root, op.path), exist_ok=True)
        case "mkdir":
            os.mkdir(os.path.join(root, op.path))
        case "move":
            _rename(os.path.join(root, op.src), os.path.join(root, op.dst))
        case "rename":
            src = os.path.join(root, op.path)
            _rename(src, os.path.join(os.path.dirname(src), op.name))
        case "write":
            with open(os.path.join(root, op.path), "xb") as out:
                out.write(op.data())
        case _:
            raise OSError(f"{op.op} is not run by the baseline")


def _rename(src: str, dst: str) -> None:
    """Rename without replacing: os.rename would silently overwrite a file at ``dst``."""
    if os.path.lexists(dst):
        raise FileExistsError(dst)
    os.rename(src, dst)
