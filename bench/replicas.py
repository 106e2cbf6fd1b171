"""``python -m bench replicas``: applies per second, three sidecars against one, on one bucket and database.

The production shape: several ``pva serve`` processes (VMs) on one
PostgreSQL database and one bucket, here the faithful GCS test server in its
own process, answering each request after 5 ms (a GCS object call from a VM
takes tens of ms). Each plan files one matter's inbox: a folder of
``OBJECTS`` objects moved whole (one call per object, in parallel). Plans
are disjoint, submitted beforehand (untimed), then approved all at once by
``CLIENTS`` clients spread over the replicas; the figure is plans applied per
second of wall time until the last one is ``applied``, measured with one
replica and with three in the same run, each on a fresh bucket prefix and
database. Each replica's worker applies one plan at a time (applies are jobs
on PostgreSQL's queue), so N replicas apply N at once. Goal: three replicas
at least twice one.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx

from bench.harness import Goal, Result, Sizes
from bench.http_service import data_dir
from sidecar import db
from sidecar.tokens import TokenStore
from tests.databases import postgres_database
from tests.gcs.fixtures import client_for
from tests.servers import sidecar

BUCKET = "replicas"
LATENCY = 0.005  # seconds the test server waits before answering each request
OBJECTS = 40  # in each matter's inbox
CLIENTS = 12
SETTLED = ("applied", "failed", "stale", "rejected")


def run(sizes: Sizes) -> Result:
    plans = 36 if sizes.verify_ops >= 100_000 else 9
    result = Result(
        "replicas",
        f"{plans} disjoint plans of {OBJECTS} object moves each, one bucket (5 ms a call), PostgreSQL",
    )
    rates = {}
    with _gcs_server() as gcs_url, _emulated(gcs_url):
        for replicas in (1, 3):
            seconds = _applies(gcs_url, replicas, plans)
            rates[replicas] = plans / seconds
            label = f"{replicas} replica{'s' if replicas > 1 else ''}"
            result.add(f"{label}: plans applied per second", rates[replicas], "plans/s")
            result.data[f"{replicas} replicas"] = {"plans": plans, "seconds": seconds}
    result.add("3 replicas / 1", rates[3] / rates[1], "x", Goal(2, at_least=True))
    return result


@contextmanager
def _gcs_server() -> Iterator[str]:
    command = [sys.executable, "-m", "tests.gcs.server", "--latency", str(LATENCY), BUCKET]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        yield server.stdout.readline().strip()
    finally:
        server.terminate()
        server.wait()
        assert server.stdout is not None
        server.stdout.close()


@contextmanager
def _emulated(gcs_url: str) -> Iterator[None]:
    """The sidecars started meanwhile talk to the test server (the client library's documented switch)."""
    before = os.environ.get("STORAGE_EMULATOR_HOST")
    os.environ["STORAGE_EMULATOR_HOST"] = gcs_url
    try:
        yield
    finally:
        if before is None:
            del os.environ["STORAGE_EMULATOR_HOST"]
        else:
            os.environ["STORAGE_EMULATOR_HOST"] = before


def _seed(gcs_url: str, prefix: str, plans: int) -> None:
    bucket = client_for(gcs_url).bucket(BUCKET)
    names = [
        name
        for matter in range(plans)
        for name in (
            f"{prefix}/m{matter}/",
            f"{prefix}/m{matter}/inbox/",
            *(f"{prefix}/m{matter}/inbox/doc-{n:03}.pdf" for n in range(OBJECTS)),
        )
    ]
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda name: bucket.blob(name).upload_from_string(b"x", if_generation_match=0), names))


def _plan(matter: int) -> dict[str, object]:
    base = f"m{matter}"
    return {
        "pva": "plan/v1",
        "title": f"file matter {matter}",
        "scope": [base],
        "ops": [{"op": "move", "src": f"{base}/inbox", "dst": f"{base}/filed"}],
    }


def _applies(gcs_url: str, replicas: int, plans: int) -> float:
    """Seconds from the first approval until every plan is applied, with ``replicas`` sidecars."""
    prefix = f"store{replicas}"
    _seed(gcs_url, prefix, plans)
    with (
        tempfile.TemporaryDirectory(dir=data_dir()) as folder,
        postgres_database() as url,
        ExitStack() as stack,
    ):
        work = Path(folder)
        db.upgrade(url)
        with db.opened(TokenStore, url) as tokens:
            agent = tokens.create("agent", "agent", ["*"])[1]
            approver = tokens.create("approver", "approver", ["*"])[1]
        addresses = []
        for number in range(replicas):
            home = work / f"vm{number}"
            home.mkdir()
            addresses.append(
                stack.enter_context(
                    sidecar(
                        f"gs://{BUCKET}/{prefix}",
                        url,
                        home / "serve.log",
                        cwd=home,
                        state_dir=str(home / "state"),
                    )
                )
            )
        ids = []
        for matter in range(plans):
            answer = httpx.post(
                f"{addresses[matter % replicas]}/v1/plans",
                json=_plan(matter),
                headers=_auth(agent),
                timeout=120,
            )
            answer.raise_for_status()
            ids.append(answer.json()["id"])

        def approve(number: int) -> None:
            address = addresses[number % replicas]
            answer = httpx.post(
                f"{address}/v1/plans/{ids[number]}/approve",
                json={"comment": "bench"},
                headers=_auth(approver),
                timeout=600,
            )
            if answer.status_code != 202:  # queued: a worker of some replica applies it
                raise RuntimeError(f"approve answered {answer.status_code}: {answer.text}")

        started = time.perf_counter()
        with ThreadPoolExecutor(CLIENTS) as pool:
            list(pool.map(approve, range(plans)))
        _wait_applied(addresses[0], ids, approver)
        return time.perf_counter() - started


def _wait_applied(address: str, ids: list[str], token: str) -> None:
    with httpx.Client(base_url=address, headers=_auth(token), timeout=120) as http:
        for plan_id in ids:
            while (shown := http.get(f"/v1/plans/{plan_id}").json())["state"] not in SETTLED:
                time.sleep(0.05)
            if shown["state"] != "applied":
                history = http.get("/v1/audit", params={"plan": plan_id}).json()
                raise RuntimeError(f"plan {plan_id} ended {shown['state']}, not applied: {history}")


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
