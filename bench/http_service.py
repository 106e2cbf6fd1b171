"""Benchmarks ``http`` and ``clients``: the sidecar's HTTP service against pva in process.

``http``: a 1,000-op plan (a folder and 999 moves) verified and submitted
over HTTP to a real ``pva serve`` process (uvicorn, one worker, SQLite),
against the same parse and verification (and submit) called in process on
an identical store and database. The figure is the ratio of the medians:
how much HTTP adds (goal: at most 30%).

``clients``: 32 concurrent agent clients (threads, one keep-alive connection
each) submitting small plans (a folder and a move in their own matter) to
one ``pva serve``: plans per second, p50 and p99 latency, errors (goal:
none). On SQLite and on PostgreSQL (``PVA_TEST_POSTGRES``).
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from bench.corpus import data_dir
from bench.harness import Goal, Result, Sizes, median, repeat
from planner.core.parse import parse_plan
from sidecar import db
from sidecar.settings import Settings
from sidecar.tokens import Principal, Role, TokenStore
from sidecar.wiring import open_services
from tests.databases import postgres_database
from tests.servers import sidecar

OVERHEAD_GOAL = Goal(1.3, at_least=False)  # HTTP time over in-process time
NO_ERRORS = Goal(0, at_least=False)
CLIENTS = 32
PLANS_PER_CLIENT = 20
REPEATS = 15


def _store(root: Path, files: int, matters: int = 1) -> None:
    for matter in range(matters):
        inbox = root / "matters" / f"m{matter}" / "inbox"
        inbox.mkdir(parents=True)
        for number in range(files):
            (inbox / f"DOC-{number:05}.pdf").write_bytes(b"%PDF-1.7 " + str(number).encode() * 40)


def _big_plan(files: int, title: str) -> bytes:
    ops: list[dict[str, Any]] = [{"op": "mkdir", "path": "matters/m0/filed"}]
    ops += [
        {"op": "move", "src": f"matters/m0/inbox/DOC-{n:05}.pdf", "dst": f"matters/m0/filed/DOC-{n:05}.pdf"}
        for n in range(files)
    ]
    return json.dumps({"pva": "plan/v1", "title": title, "scope": ["matters/m0"], "ops": ops}).encode()


def _database(work: Path, name: str) -> tuple[str, str]:
    url = f"sqlite:///{work / name}"
    db.upgrade(url)
    with db.opened(TokenStore, url) as tokens:
        return url, tokens.create("agent", "agent-bench", ["matters"])[1]


def run_http(sizes: Sizes) -> Result:
    files = 999 if sizes.verify_ops >= 100_000 else 99
    result = Result("http", f"a {files + 1:,}-op plan over HTTP (pva serve, SQLite) against in process")
    with tempfile.TemporaryDirectory(dir=data_dir()) as folder:
        work = Path(folder)
        for side in ("http", "local"):
            _store(work / side, files)
        local_url, _ = _database(work, "local.db")
        http_url, token = _database(work, "http.db")
        plan = _big_plan(files, "file the inbox")
        settings = Settings(store=str(work / "local"), database_url=local_url)
        agent = Principal("tok_000000000000", "agent-bench", Role.AGENT, ("matters",))
        with open_services(settings) as services:
            local_verify = repeat(lambda: services.plans.verify(parse_plan(plan), agent), REPEATS)
            titles = iter(range(10**6))
            local_submit = repeat(
                lambda: services.plans.submit(parse_plan(_big_plan(files, f"t{next(titles)}")), agent),
                REPEATS,
            )
        with (
            sidecar(work / "http", http_url, work / "serve.log") as url,
            httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=120) as http,
        ):

            def post(path: str, body: bytes) -> None:
                response = http.post(path, content=body, headers={"Content-Type": "application/json"})
                response.raise_for_status()

            post("/v1/plans/verify", plan)  # warm up the connection and the server
            http_verify = repeat(lambda: post("/v1/plans/verify", plan), REPEATS)
            titles = iter(range(10**6))
            http_submit = repeat(lambda: post("/v1/plans", _big_plan(files, f"t{next(titles)}")), REPEATS)
    for name, local, remote in (("verify", local_verify, http_verify), ("submit", local_submit, http_submit)):
        result.add(f"{name} in process (parse + {name})", median(local) * 1000, "ms")
        result.add(f"{name} over HTTP", median(remote) * 1000, "ms")
        result.add(f"{name}: HTTP / in process", median(remote) / median(local), "x", OVERHEAD_GOAL)
    result.data.update(local_verify=local_verify, http_verify=http_verify, local_submit=local_submit)
    result.data["http_submit"] = http_submit
    return result


def run_clients(sizes: Sizes) -> Result:
    per_client = PLANS_PER_CLIENT if sizes.verify_ops >= 100_000 else 5
    result = Result(
        "clients", f"{CLIENTS} concurrent agents, {per_client} small plans each, to one pva serve"
    )
    with tempfile.TemporaryDirectory(dir=data_dir()) as folder:
        work = Path(folder)
        sqlite_url, _ = _database(work, "clients.db")
        _load(result, work / "sqlite", sqlite_url, per_client, "SQLite")
        with postgres_database() as postgres_url:
            db.upgrade(postgres_url)
            _load(result, work / "postgres", postgres_url, per_client, "PostgreSQL")
    return result


def _load(result: Result, store: Path, url: str, per_client: int, label: str) -> None:
    _store(store, per_client, matters=CLIENTS)
    with db.opened(TokenStore, url) as tokens:
        secret = tokens.create("agent", f"agent-{label.lower()}", ["matters"])[1]

    def client(number: int) -> tuple[list[float], int]:
        latencies, errors = [], 0
        with httpx.Client(
            base_url=address, headers={"Authorization": f"Bearer {secret}"}, timeout=120
        ) as http:
            for n in range(per_client):
                base = f"matters/m{number}"
                plan = {
                    "pva": "plan/v1",
                    "title": f"file {n}",
                    "scope": [base],
                    "ops": [
                        {"op": "mkdir", "path": f"{base}/filed-{n}"},
                        {
                            "op": "move",
                            "src": f"{base}/inbox/DOC-{n:05}.pdf",
                            "dst": f"{base}/filed-{n}/d.pdf",
                        },
                    ],
                }
                started = time.perf_counter()
                response = http.post("/v1/plans", json=plan)
                latencies.append(time.perf_counter() - started)
                errors += response.status_code != 201
        return latencies, errors

    with sidecar(store, url, store.parent / f"{label}.log") as address, ThreadPoolExecutor(CLIENTS) as pool:
        started = time.perf_counter()
        outcomes = list(pool.map(client, range(CLIENTS)))
        wall = time.perf_counter() - started
    latencies = sorted(latency for times, _ in outcomes for latency in times)
    errors = sum(count for _, count in outcomes)
    result.add(f"{label}: plans submitted per second", len(latencies) / wall, "plans/s")
    result.add(f"{label}: p50 latency", statistics.median(latencies) * 1000, "ms")
    result.add(f"{label}: p99 latency", latencies[int(len(latencies) * 0.99) - 1] * 1000, "ms")
    result.add(f"{label}: errors", errors, "", NO_ERRORS)
    result.data[label] = {"latencies": latencies, "wall": wall, "errors": errors}
