"""The Procrastinate queue in one process: a worker thread applies, and resumes claims never enqueued."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from planner.core.plan import Plan
from sidecar import db
from sidecar.audit.payloads import workflow_payload
from sidecar.jobs.postgres import PostgresWorker
from sidecar.service.cases import Event, StoredCase
from sidecar.settings import Settings
from sidecar.tokens import Principal, Role
from sidecar.wiring import Services, open_services
from sidecar.workflow import State
from tests.databases import postgres_database

AGENT = Principal("tok_000000000001", "agent-1", Role.AGENT, ("matters",))
ALICE = Principal("tok_000000000002", "alice", Role.APPROVER, ("matters",))
PATIENCE = 120.0  # seconds: a bound on a hung worker, never on a slow one (the test waits for a state)
MOVE = {"op": "move", "src": "matters/acme/inbox/a.pdf", "dst": "matters/acme/a.pdf"}


@pytest.fixture
def settings(tmp_path: Path) -> Iterator[Settings]:
    store = tmp_path / "store"
    (store / "matters" / "acme" / "inbox").mkdir(parents=True)
    (store / "matters" / "acme" / "inbox" / "a.pdf").write_bytes(b"a")
    with postgres_database() as url:
        db.upgrade(url)
        yield Settings(
            store=str(store),
            database_url=url,
            apply_mode="jobs",
            job_heartbeat=timedelta(seconds=1),
            state_dir=str(tmp_path / "state"),
        )


def settled(services: Services, digest: str) -> State:
    """The plan's state once no longer 'applying' (the worker runs in another thread)."""
    deadline = time.monotonic() + PATIENCE
    while True:
        stored = services.plans.cases.get(digest)
        assert stored is not None
        if stored.case.state is not State.APPLYING or time.monotonic() > deadline:
            return stored.case.state
        time.sleep(0.05)


def plan() -> Plan:
    return Plan.model_validate({"pva": "plan/v1", "title": "file", "scope": ["matters/acme"], "ops": [MOVE]})


def test_a_worker_thread_applies_a_queued_plan(settings: Settings) -> None:
    """The approval enqueues a Procrastinate job; the worker thread applies the plan."""
    with open_services(settings) as services:
        worker = services.worker(settings)
        assert worker is not None
        worker.start()
        try:
            stored = services.plans.approve(services.plans.submit(plan(), AGENT).digest, ALICE, "ok")
            assert stored.case.state is State.APPLYING
            assert settled(services, stored.digest) is State.APPLIED
        finally:
            worker.stop()
        assert (Path(settings.store) / "matters" / "acme" / "a.pdf").exists()


def test_a_claim_never_enqueued_is_applied_when_a_worker_starts(settings: Settings) -> None:
    """A plan left 'applying' by a process that died between its claim and its enqueue still applies."""
    request = settings.model_copy(update={"apply_mode": "request", "auto_apply": False})
    with open_services(request) as services:
        stored = services.plans.approve(services.plans.submit(plan(), AGENT).digest, ALICE, "ok")
        claim(services, stored)
    with open_services(settings) as services:
        worker = services.worker(settings)
        assert worker is not None
        worker.start()
        try:
            assert settled(services, stored.digest) is State.APPLIED
        finally:
            worker.stop()


def claim(services: Services, stored: StoredCase) -> None:
    """Mark the plan 'applying' as a claim does, and enqueue nothing (the claimer died there)."""
    case = replace(stored.case, state=State.APPLYING)
    event = Event("workflow", "alice", workflow_payload("start_apply", State.APPLYING.value))
    services.plans.cases.update(stored, event, case=case, claimed=services.plans.clock())


def test_a_worker_stopped_as_soon_as_it_started_stops(settings: Settings) -> None:
    """Start then stop at once, over and over (an app that serves one request): the thread always ends.

    A stop that cancelled the worker while its connection pool was still
    opening left the pool's tasks running, and the worker's thread waited
    for them for ever: every ``pva serve`` shutdown and test teardown hung.
    """
    with open_services(settings) as services:
        for _ in range(10):
            worker = services.worker(settings)
            assert isinstance(worker, PostgresWorker)
            worker.start()
            stopping = threading.Thread(target=worker.stop, daemon=True)
            stopping.start()
            stopping.join(PATIENCE)
            assert not stopping.is_alive(), "the worker's thread did not end"
