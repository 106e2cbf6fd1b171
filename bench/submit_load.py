"""``submit``: 50 agents verifying and submitting at once for a minute; submit p99 against verify p99.

Issue 15's figure: one ``pva serve`` (a separate process, SQLite, then a
fresh PostgreSQL database), 50 client threads, each with its own keep-alive
connection and its own matter, each looping for the run's duration: verify a
small plan (``POST /v1/plans/verify``), then submit it (``POST /v1/plans``), a
new plan each time (a folder and a small write). Both latencies are taken in
the same run, on the same server, under the same load: the goal is the
submit's p99 at most twice the verify's. A verify reads the store and
stores nothing; a submit verifies again, records the plan and appends its
events to the hash-chained audit under the chain's single-writer lock, so
this ratio is the price of that lock under load.
"""

from __future__ import annotations

import statistics
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from bench.corpus import data_dir
from bench.harness import Goal, Result, Sizes
from sidecar import db
from sidecar.tokens import TokenStore
from tests.databases import postgres_database
from tests.servers import sidecar

CLIENTS = 50
SECONDS = 60.0  # the published figure's duration; --quick runs a tenth of it
RATIO_GOAL = Goal(2.0, at_least=False)  # submit p99 / verify p99
NO_ERRORS = Goal(0, at_least=False)


def run(sizes: Sizes) -> Result:
    seconds = SECONDS if sizes.verify_ops >= 100_000 else SECONDS / 10
    result = Result(
        "submit", f"{CLIENTS} agents verifying then submitting for {seconds:.0f} s, one pva serve"
    )
    with tempfile.TemporaryDirectory(dir=data_dir()) as folder:
        work = Path(folder)
        sqlite_url = f"sqlite:///{work / 'submit.db'}"
        db.upgrade(sqlite_url)
        _load(result, work / "sqlite", sqlite_url, seconds, "SQLite")
        with postgres_database() as postgres_url:
            db.upgrade(postgres_url)
            _load(result, work / "postgres", postgres_url, seconds, "PostgreSQL")
    return result


def p99(latencies: list[float]) -> float:
    ordered = sorted(latencies)
    return ordered[max(0, int(len(ordered) * 0.99) - 1)]


def _load(result: Result, store: Path, url: str, seconds: float, label: str) -> None:
    for matter in range(CLIENTS):
        (store / "matters" / f"m{matter}").mkdir(parents=True)
    with db.opened(TokenStore, url) as tokens:
        secret = tokens.create("agent", f"agent-{label.lower()}", ["matters"])[1]
    stop = threading.Event()

    def client(number: int) -> dict[str, Any]:
        verifies: list[float] = []
        submits: list[float] = []
        errors = 0
        base = f"matters/m{number}"
        with httpx.Client(
            base_url=address, headers={"Authorization": f"Bearer {secret}"}, timeout=300
        ) as http:
            n = 0
            while not stop.is_set():
                plan = {
                    "pva": "plan/v1",
                    "title": f"file {n}",
                    "scope": [base],
                    "ops": [
                        {"op": "mkdir", "path": f"{base}/filed-{n}"},
                        {"op": "write", "path": f"{base}/filed-{n}/index.csv", "content": f"file\n{n}\n"},
                    ],
                }
                for path, times, status in (("/v1/plans/verify", verifies, 200), ("/v1/plans", submits, 201)):
                    started = time.perf_counter()
                    answer = http.post(path, json=plan)
                    times.append(time.perf_counter() - started)
                    errors += answer.status_code != status
                n += 1
        return {"verify": verifies, "submit": submits, "errors": errors}

    # No apply: submitted plans stay pending (the default policy wants an approval), so the load is
    # verification and submission only, as in the issue.
    with sidecar(store, url, store.parent / f"{label}.log") as address, ThreadPoolExecutor(CLIENTS) as pool:
        futures = [pool.submit(client, number) for number in range(CLIENTS)]
        time.sleep(seconds)
        stop.set()
        outcomes = [future.result() for future in futures]
    verifies = [t for o in outcomes for t in o["verify"]]
    submits = [t for o in outcomes for t in o["submit"]]
    ratio = p99(submits) / p99(verifies)
    result.add(f"{label}: submits", len(submits), "plans")
    result.add(f"{label}: verify p50", statistics.median(verifies) * 1000, "ms")
    result.add(f"{label}: submit p50", statistics.median(submits) * 1000, "ms")
    result.add(f"{label}: verify p99", p99(verifies) * 1000, "ms")
    result.add(f"{label}: submit p99", p99(submits) * 1000, "ms")
    result.add(f"{label}: submit p99 / verify p99", ratio, "x", RATIO_GOAL)
    result.add(f"{label}: errors", sum(o["errors"] for o in outcomes), "", NO_ERRORS)
    result.data[label] = {"verify": verifies, "submit": submits}
