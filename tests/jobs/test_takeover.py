"""Two worker processes on PostgreSQL: SIGKILL the one applying, the other takes the job over.

The doomed worker (tests/jobs/doomed_worker.py) blocks at a crash point; the
test reads the journal until it shows that point, starts a real ``pva
worker``, and SIGKILLs the doomed one. The survivor sees its heartbeat stop,
retries the job, settles the journal (back before the commit record, forward
after it) and the plan ends failed or applied, once; ``pva audit verify`` passes.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from planner.core.plan import Plan
from sidecar import db
from sidecar.settings import Settings
from sidecar.tokens import Principal, Role
from sidecar.wiring import Services, open_services
from sidecar.workflow import State
from tests.databases import postgres_database
from tests.servers import sidecar

AGENT = Principal("tok_000000000001", "agent-1", Role.AGENT, ("matters",))
ALICE = Principal("tok_000000000002", "alice", Role.APPROVER, ("matters",))
NAMES = [f"{n:04}.pdf" for n in range(12)]
PVA = Path(sys.executable).with_name("pva")
PATIENCE = 180.0  # seconds: a bound on a hung test, never on a slow machine (it waits for states)


@pytest.fixture
def postgres_url() -> Iterator[str]:
    with postgres_database() as url:
        db.upgrade(url)
        yield url


def journal_records(store: Path) -> list[dict[str, object]]:
    """Every record of every journal in the store's reserved area (JSON lines), read as bytes on disk."""
    folder = store / ".pva" / "journal"
    lines = [
        line for path in sorted(folder.glob("*")) if path.is_file() for line in path.read_text().splitlines()
    ]
    return [json.loads(line) for line in lines if line.strip()]


def wait_for(what: str, condition: Callable[[], bool]) -> None:
    """Poll ``condition`` until it holds (the bound only stops a hung test)."""
    deadline = time.monotonic() + PATIENCE
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.05)


def state(services: Services, digest: str) -> State | None:
    stored = services.plans.cases.get(digest)
    return None if stored is None else stored.case.state


@contextmanager
def survivor(kind: str, env: dict[str, str], log: Path) -> Iterator[None]:
    """The process that takes the job over: ``pva worker``, or ``pva serve`` (its worker thread)."""
    if kind == "serve":
        store, database = Path(env["PVA_STORE"]), env["PVA_DATABASE_URL"]
        state = env["PVA_STATE_DIR"]
        with sidecar(store, database, log, state_dir=state, apply_mode="jobs", job_heartbeat="1s"):
            yield
        return
    with log.open("wb") as output:
        process = subprocess.Popen(
            [str(PVA), "worker", "--name", "survivor"], env=env, stdout=output, stderr=subprocess.STDOUT
        )
    try:
        yield
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=PATIENCE) == 0, log.read_text()  # it stops cleanly


def seeded(store: Path) -> Plan:
    """A store with NAMES in an inbox, and the plan that files them (a mkdir, then moves)."""
    (store / "matters" / "acme" / "inbox").mkdir(parents=True)
    for name in NAMES:
        (store / "matters" / "acme" / "inbox" / name).write_bytes(name.encode())
    ops: list[dict[str, str]] = [{"op": "mkdir", "path": "matters/acme/filed"}]
    ops += [{"op": "move", "src": f"matters/acme/inbox/{n}", "dst": f"matters/acme/filed/{n}"} for n in NAMES]
    return Plan.model_validate({"pva": "plan/v1", "title": "file", "scope": ["matters/acme"], "ops": ops})


@pytest.mark.parametrize(
    ("point", "record", "ends", "kind"),
    [
        ("batch 0", {"type": "batch", "n": 0}, State.FAILED, "worker"),
        ("commit", {"type": "commit"}, State.APPLIED, "worker"),
        ("commit", {"type": "commit"}, State.APPLIED, "serve"),
    ],
)
def test_a_job_whose_worker_is_killed_is_taken_over(  # noqa: PLR0917  # the parameters, and fixtures
    postgres_url: str, tmp_path: Path, point: str, record: dict[str, object], ends: State, kind: str
) -> None:
    """The survivor settles the dead worker's journal; the plan is applied or failed exactly once."""
    store = tmp_path / "store"
    plan = seeded(store)
    settings = Settings(
        store=str(store), database_url=postgres_url, apply_mode="jobs", state_dir=str(tmp_path / "state")
    )
    env = {key: value for key, value in os.environ.items() if not key.startswith("PVA_")} | {
        "PVA_STORE": str(store),
        "PVA_DATABASE_URL": postgres_url,
        "PVA_STATE_DIR": str(tmp_path / "state"),
        "PVA_APPLY_MODE": "jobs",
        "PVA_JOB_HEARTBEAT": "1s",
    }
    with open_services(settings) as services:
        digest = services.plans.submit(plan, AGENT).digest
        assert services.plans.approve(digest, ALICE, "fine").case.state is State.APPLYING  # queued
        with (tmp_path / "doomed.log").open("wb") as output:
            doomed = subprocess.Popen(
                [sys.executable, "-m", "tests.jobs.doomed_worker", point],
                env=env,
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        try:
            wait_for(f"the journal to show {record}", lambda: record in journal_records(store))
            with survivor(kind, env, tmp_path / "survivor.log"):
                doomed.send_signal(signal.SIGKILL)
                doomed.wait()
                wait_for("the takeover", lambda: state(services, digest) is not State.APPLYING)
        finally:
            if doomed.poll() is None:
                doomed.kill()
                doomed.wait()
        assert state(services, digest) is ends
        outcomes = [event for event in services.audit.events(digest=digest) if event.kind == "apply"]
        assert len(outcomes) == 1
        filed = [(store / "matters" / "acme" / "filed" / n).exists() for n in NAMES]
        assert filed == [ends is State.APPLIED] * len(NAMES)
        assert not services.engine.journals.names()  # the dead worker's journal is settled and archived
    check = subprocess.run(
        [str(PVA), "audit", "verify", "--db", postgres_url],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert check.returncode == 0, check.stdout + check.stderr
