"""Benchmarks ``startup`` and ``cliroot``: ``pva verify`` as an agent runs it, a whole process each time.

``startup``: ``pva verify plan.json --manifest store.jsonl`` of a 10-op plan
over a 20-file store, against ``python -c "import pydantic"`` (the floor of
any command that validates a plan). Goal: at most 3x.

``cliroot``: ``pva verify plan.json --root STORE --json`` of a 20,021-op plan
(a folder per matter and an inbox's files moved into it) over a store of
20,000 small files, against baseline B of benchmark ``sandbox`` (copy the
store into RAM with ``shutil.copytree``, then carry the plan out with ``os``
calls). Goal: pva at least 3x faster.

The two sides take turns, so both see the machine in the same state.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.corpus import Layout, data_dir
from bench.harness import Goal, Result, Sizes, median
from bench.sandbox import TMPFS, execute, on_disk_store
from planner.agent.snapshot import scan
from planner.core.manifest import manifest_lines
from planner.core.parse import parse_plan
from planner.core.plan import Plan

STARTUP_GOAL = Goal(3, at_least=False)  # pva verify at most 3 times `import pydantic`
ROOT_GOAL = Goal(3, at_least=True)  # pva verify --root at least 3 times faster than copy + execute
SMALL = Layout(matters=2, files_per_inbox=10)
ROOT_STORE = Layout(matters=20, files_per_inbox=1000)


def pva_command() -> list[str]:
    """The ``pva`` script of this interpreter's environment, or ``$PVA_BENCH_PVA`` (another build's)."""
    return [os.environ.get("PVA_BENCH_PVA") or str(Path(sys.executable).with_name("pva"))]


def whole_process(command: list[str]) -> float:
    """Seconds from start to exit of ``command``, its output discarded; it must succeed.

    Bytecode is written and read as an installed package's is (pip compiles
    it): with ``PYTHONDONTWRITEBYTECODE`` every run would compile pva's
    modules again (about 65 ms), which no install pays.
    """
    env = {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, check=False)
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise AssertionError(f"{command[:3]} exited {done.returncode}: {done.stderr.decode()[-500:]}")
    CPU.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    return seconds


# The CPU seconds (user + system) of each process ``whole_process`` ran, in order: on a machine
# shared with other work the wall time includes waiting for a core; this does not.
CPU: list[float] = []


def _cpu_of(runs: int) -> list[float]:
    return CPU[-runs:]


def run_startup(sizes: Sizes) -> Result:
    result = Result("startup", "pva verify of a 10-op plan with --manifest, whole process")
    folder = data_dir() / "startup"
    folder.mkdir(exist_ok=True)
    store = on_disk_store(SMALL)
    manifest = folder / "store.jsonl"
    manifest.write_text("".join(line + "\n" for line in manifest_lines(scan(store), str(store), hashed=True)))
    plan = folder / "plan.json"
    document = _filing_plan(SMALL, moves_per_matter=4, matters=2)
    plan.write_text(json.dumps({**document, "ops": document["ops"][:10]}))  # 3 mkdirs, 7 moves
    pva = [*pva_command(), "verify", str(plan), "--manifest", str(manifest)]
    runs = 5 if sizes.repeats < 3 else 15
    whole_process(pva)  # a warm-up: bytecode written, files in the page cache
    pydantic_seconds, pva_seconds, help_seconds = [], [], []
    pydantic_cpu, pva_cpu = [], []
    for _ in range(runs):
        pydantic_seconds.append(whole_process([sys.executable, "-c", "import pydantic"]))
        pydantic_cpu += _cpu_of(1)
        pva_seconds.append(whole_process(pva))
        pva_cpu += _cpu_of(1)
        help_seconds.append(whole_process([*pva_command(), "--help"]))
    ratio = median(pva_seconds) / median(pydantic_seconds)
    result.add('python -c "import pydantic"', median(pydantic_seconds), "s")
    result.add("pva verify --manifest (10 ops)", median(pva_seconds), "s")
    result.add("pva --help (info)", median(help_seconds), "s")
    result.add("ratio pva verify / import pydantic", ratio, "x", STARTUP_GOAL)
    result.add("ratio of CPU time, user + system (info)", median(pva_cpu) / median(pydantic_cpu), "x")
    result.data.update(
        pydantic=pydantic_seconds,
        verify=pva_seconds,
        help=help_seconds,
        pydantic_cpu=pydantic_cpu,
        cpu=pva_cpu,
    )
    return result


def run_root(sizes: Sizes) -> Result:
    layout = ROOT_STORE if sizes.repeats >= 3 else Layout(matters=2, files_per_inbox=1000)
    files = layout.matters * layout.files_per_inbox
    document = _filing_plan(layout, moves_per_matter=layout.files_per_inbox, matters=layout.matters)
    result = Result("cliroot", f"pva verify --root --json, {len(document['ops']):,} ops over {files:,} files")
    store = on_disk_store(layout)
    plan_file = data_dir() / f"cliroot-{layout.matters}x{layout.files_per_inbox}.json"
    plan_file.write_text(json.dumps(document))
    plan = parse_plan(plan_file.read_bytes())
    pva = [*pva_command(), "verify", str(plan_file), "--root", str(store), "--json"]
    pva_seconds, copy_seconds = [], []
    whole_process(pva)  # a warm-up: bytecode written, the store in the page cache
    pva_cpu, copy_cpu = [], []
    for _ in range(sizes.repeats):
        pva_seconds.append(whole_process(pva))
        pva_cpu += _cpu_of(1)
        start = time.process_time()
        copy_seconds.append(_copy_and_execute(store, plan))
        copy_cpu.append(time.process_time() - start)
    speedup = median(copy_seconds) / median(pva_seconds)
    result.add("B: copy the store to tmpfs + execute with os calls", median(copy_seconds), "s")
    result.add("pva verify --root --json (whole process)", median(pva_seconds), "s")
    result.add("speedup B / pva", speedup, "x", ROOT_GOAL)
    result.add("speedup in CPU time, user + system (info)", median(copy_cpu) / median(pva_cpu), "x")
    result.data.update(
        pva=pva_seconds,
        copy=copy_seconds,
        pva_cpu=pva_cpu,
        copy_cpu=copy_cpu,
        ops=len(document["ops"]),
        files=files,
    )
    return result


def _copy_and_execute(store: Path, plan: Plan) -> float:
    parent = TMPFS if os.access(TMPFS, os.W_OK) else None
    with tempfile.TemporaryDirectory(dir=parent, prefix="pva-cliroot-") as scratch:
        copy = os.path.join(scratch, "store")
        start = time.perf_counter()
        shutil.copytree(store, copy)
        errors = execute(plan, copy)
        seconds = time.perf_counter() - start
    if errors:
        raise AssertionError(f"copy and execute failed on a valid plan: {errors[:3]}")
    return seconds


def _filing_plan(layout: Layout, *, moves_per_matter: int, matters: int) -> dict[str, Any]:
    """A folder per matter and one beside them, then each inbox's first files moved into its matter's."""
    ops: list[dict[str, object]] = [{"op": "mkdir", "path": "matters/filed"}]
    ops.extend({"op": "mkdir", "path": f"{layout.matter(m)}/filed"} for m in range(matters))
    for m in range(matters):
        for i in range(moves_per_matter):
            name = layout.file_name(m, i)
            ops.append({"op": "move", "src": layout.file(m, i), "dst": f"{layout.matter(m)}/filed/{name}"})
    return {"pva": "plan/v1", "title": "File the inboxes", "scope": ["matters"], "ops": ops}
