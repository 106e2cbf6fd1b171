"""``python -m bench.gcs_move [--objects N] [--workers W] [--latency S]``: move a folder on the test server.

Baseline and pva measured in the same run, with the same client, on the
faithful test server (``tests/gcs/server.py``) in its own process on
127.0.0.1: a sequential loop of ``Bucket.rename_blob`` over every object of
one folder, against pva's apply (engine, journal and all) of a plan that
moves another folder of the same shape. Prints objects per second of each
and the ratio (goal: pva at least 5 times the loop) and writes
``bench/results/gcs_move.json``.

Two runs: the server answering at once (then both sides are bound by the two
cores' CPU, the server's Python HTTP stack included, not by waiting), and
the server waiting ``--latency`` seconds per request (default 5 ms; GCS
object calls take tens of ms from a VM), which is the waiting parallelism
hides and a sequential loop pays for every call.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from google.cloud import storage

from bench.harness import RESULTS, Goal, Result, Sizes, machine
from planner.core.builder import PlanBuilder
from sidecar.apply.engine import Engine
from sidecar.apply.journal import FileJournals
from sidecar.audit.memory import MemoryAudit
from sidecar.backends.gcs.location import GcsLocation, open_backend
from tests.gcs.fixtures import client_for

BUCKET = "bench"


def seed(bucket: storage.Bucket, folder: str, count: int) -> None:
    """A placeholder for the folder and ``count`` small objects in it, uploaded in parallel."""
    names = [f"store/{folder}/"] + [f"store/{folder}/{n:05}.txt" for n in range(count)]
    with ThreadPoolExecutor(16) as pool:
        list(
            pool.map(
                lambda name: bucket.blob(name).upload_from_string(name.encode(), if_generation_match=0), names
            )
        )


def loop(client: storage.Client, count: int) -> float:
    """Seconds for a sequential ``rename_blob`` of every object of ``store/loop/``."""
    bucket = client.bucket(BUCKET)
    seed(bucket, "loop", count)
    blobs = list(client.list_blobs(bucket, prefix="store/loop/"))
    start = time.perf_counter()
    for blob in blobs:
        bucket.rename_blob(blob, "store/loop-moved/" + blob.name.removeprefix("store/loop/"))
    return time.perf_counter() - start


def pva(client: storage.Client, count: int, workers: int) -> float:
    """Seconds for the engine to apply a plan moving ``pva/`` (``count`` objects) to ``pva-moved``."""
    seed(client.bucket(BUCKET), "pva", count)
    with tempfile.TemporaryDirectory() as state:
        backend = open_backend(GcsLocation(BUCKET, "store/", workers=workers), Path(state), client=client)
        engine = Engine(backend, MemoryAudit(), FileJournals(Path(state)))
        plan = PlanBuilder("move the folder", scope=["pva", "pva-moved"]).move("pva", "pva-moved").build()
        start = time.perf_counter()
        record = engine.apply(plan, actor="bench")
        seconds = time.perf_counter() - start
        backend.close()
    assert record.status == "applied", record.message
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.gcs_move", description=__doc__)
    parser.add_argument("--objects", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=32)
    parser.add_argument("--latency", type=float, default=0.005, help="seconds per request in the second run")
    args = parser.parse_args()
    print(f"move a folder of {args.objects} objects on the test server ({machine()['cpus']} cores)")
    runs = [measure(args.objects, args.workers, latency) for latency in (0.0, args.latency)]
    RESULTS.mkdir(exist_ok=True)
    body = {"objects": args.objects, "workers": args.workers, "runs": runs, "machine": machine()}
    (RESULTS / "gcs_move.json").write_text(json.dumps(body, indent=2) + "\n")


def measure(objects: int, workers: int, latency: float) -> dict[str, object]:
    """One run on a fresh server process: the loop, then pva, with one client each."""
    command = [sys.executable, "-m", "tests.gcs.server", "--latency", str(latency), BUCKET]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        url = server.stdout.readline().strip()
        baseline = loop(client_for(url), objects)
        ours = pva(client_for(url), objects, workers)
    finally:
        server.terminate()
        server.wait()
    rates = {"loop": objects / baseline, "pva": objects / ours}
    ratio = rates["pva"] / rates["loop"]
    print(f"  server latency {latency * 1000:.0f} ms per request:")
    print(f"    rename_blob loop: {baseline:7.2f} s  {rates['loop']:8.0f} objects/s")
    print(f"    pva apply ({workers:>2} w): {ours:7.2f} s  {rates['pva']:8.0f} objects/s")
    print(f"    ratio: {ratio:.1f}x (goal: at least 5x) {'met' if ratio >= 5 else 'NOT met'}")
    return {
        "latency": latency,
        "seconds": {"loop": baseline, "pva": ours},
        "objects_per_second": rates,
        "ratio": ratio,
    }


def run(sizes: Sizes) -> Result:
    """``python -m bench gcs``: both runs, as a table (2,000 objects; 200 with --quick)."""
    objects = 2000 if sizes.verify_ops >= 100_000 else 200
    result = Result("gcs", f"move a folder of {objects:,} objects on the faithful test server")
    for latency in (0.0, 0.005):
        figures = measure(objects, 32, latency)
        rates = figures["objects_per_second"]
        assert isinstance(rates, dict)
        label = f"server latency {latency * 1000:.0f} ms"
        result.add(f"{label}: rename_blob loop", rates["loop"], "objects/s")
        result.add(f"{label}: pva apply, 32 workers", rates["pva"], "objects/s")
        result.add(f"{label}: pva / loop", rates["pva"] / rates["loop"], "x", Goal(5, at_least=True))
        result.data[label] = figures
    return result


if __name__ == "__main__":
    main()
