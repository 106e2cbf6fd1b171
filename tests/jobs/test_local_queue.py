"""Applies as jobs on SQLite: the in-process queue, its worker thread, a job taking over a dead one."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from planner.core.plan import Plan
from sidecar import db
from sidecar.jobs.local import LocalQueue, ThreadWorker
from sidecar.service.cases import StoredCase
from sidecar.settings import Settings
from sidecar.tokens import Principal, Role
from sidecar.wiring import Services, open_services
from sidecar.workflow import State

AGENT = Principal("tok_000000000001", "agent-1", Role.AGENT, ("matters",))
ALICE = Principal("tok_000000000002", "alice", Role.APPROVER, ("matters",))
NAMES = ("a.pdf", "b.pdf", "c.pdf")
PATIENCE = 120.0  # seconds: a bound on a hung thread, never on a slow one


class Died(BaseException):
    """The worker's process ended here (nothing after it runs: no rollback, no outcome)."""


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    store = tmp_path / "store"
    (store / "matters" / "acme" / "inbox").mkdir(parents=True)
    for name in NAMES:
        (store / "matters" / "acme" / "inbox" / name).write_bytes(name.encode())
    url = f"sqlite:///{tmp_path / 'pva.db'}"
    db.upgrade(url)
    return Settings(store=str(store), database_url=url, apply_mode="jobs", state_dir=str(tmp_path / "state"))


@pytest.fixture
def services(settings: Settings) -> Iterator[Services]:
    with open_services(settings) as live:
        yield live


def moves() -> Plan:
    ops = [{"op": "move", "src": f"matters/acme/inbox/{n}", "dst": f"matters/acme/{n}"} for n in NAMES]
    return Plan.model_validate({"pva": "plan/v1", "title": "file", "scope": ["matters/acme"], "ops": ops})


def approved(services: Services) -> StoredCase:
    submitted = services.plans.submit(moves(), AGENT)
    return services.plans.approve(submitted.digest, ALICE, "fine")


def queue(services: Services) -> LocalQueue:
    assert isinstance(services.jobs, LocalQueue)
    return services.jobs


def dying_at(label: str) -> Callable[[str], None]:
    def hook(passed: str) -> None:
        if passed == label:
            raise Died(label)

    return hook


def outcomes(services: Services, digest: str) -> list[Any]:
    """The apply outcomes the audit recorded for this plan."""
    return [event for event in services.audit.events(digest=digest) if event.kind == "apply"]


def test_an_approval_that_completes_a_plan_queues_its_apply(services: Services) -> None:
    """In jobs mode the approval leaves the plan 'applying' and the store untouched; the job applies it."""
    stored = approved(services)
    assert stored.case.state is State.APPLYING
    assert services.backend.stat("matters/acme/inbox/a.pdf") is not None
    assert queue(services).drain(services.plans) == 1
    assert services.plans.get(stored.digest, ALICE).case.state is State.APPLIED
    assert all(services.backend.stat(f"matters/acme/{n}") is not None for n in NAMES)


def test_a_job_run_twice_applies_once(services: Services) -> None:
    """A second job of a plan already applied changes nothing and records nothing."""
    stored = approved(services)
    queue(services).enqueue(stored.digest, "alice")
    assert queue(services).drain(services.plans) == 2
    assert services.plans.get(stored.digest, ALICE).case.state is State.APPLIED
    assert services.audit.outcome(stored.digest) is not None
    assert len(outcomes(services, stored.digest)) == 1


def test_the_worker_thread_retakes_plans_left_applying(settings: Settings) -> None:
    """A sidecar stopped with applies queued: at the next start its worker thread applies them."""
    with open_services(settings) as first:
        digest = approved(first).digest  # queued in memory; the process ends before a worker takes it
    with open_services(settings) as second:
        worker = second.worker(settings)
        assert isinstance(worker, ThreadWorker)
        worker.start()
        worker.stop()  # it runs what is queued, then stops
        assert second.plans.get(digest, ALICE).case.state is State.APPLIED


@pytest.mark.parametrize(("label", "state"), [("step 1", State.FAILED), ("commit", State.APPLIED)])
def test_a_job_takes_over_the_apply_of_a_worker_that_died(
    settings: Settings, label: str, state: State
) -> None:
    """Recovery settles the dead worker's journal (back before the commit, forward after): the job ends so."""
    with open_services(settings) as first:
        stored = approved(first)
        first.engine.hook = dying_at(label)
        with pytest.raises(Died):
            queue(first).drain(first.plans)
        assert first.engine.journals.names()  # the journal the dead worker left
    with open_services(settings) as second:
        queue(second).enqueue(stored.digest, "alice")
        queue(second).drain(second.plans)
        settled = second.plans.get(stored.digest, ALICE)
        assert settled.case.state is state
        assert not second.engine.journals.names()
        assert len(outcomes(second, stored.digest)) == 1
        moved = [second.backend.stat(f"matters/acme/{n}") is not None for n in NAMES]
        assert moved == [state is State.APPLIED] * len(NAMES)


def test_a_job_that_found_the_plan_applying_before_a_recovery_settled_it_records_nothing(
    settings: Settings,
) -> None:
    """Two jobs of one claim after its worker died: one recovers the apply and settles the plan failed.

    The other read the plan as applying, with no outcome, just before. Under the
    plan's locks it finds the recovery's outcome, runs nothing and records
    nothing: the chain still ends on the state the plan is in (a second,
    stale outcome after the settled one broke 'pva audit verify').
    """
    with open_services(settings) as first:
        stored = approved(first)
        first.engine.hook = dying_at("step 1")
        with pytest.raises(Died):
            queue(first).drain(first.plans)
    with open_services(settings) as second:
        late = second.plans.cases.get(stored.digest)  # what the other job read: applying, no outcome yet
        assert late is not None
        assert late.case.state is State.APPLYING
        assert second.audit.outcome(stored.digest) is None
        second.plans.work(stored.digest, "alice")  # this job recovers the dead worker's apply and settles
        second.plans._run(late, "alice")  # the other job, where work() hands on to it
        assert second.plans.get(stored.digest, ALICE).case.state is State.FAILED
        assert len(outcomes(second, stored.digest)) == 1
        assert second.audit.verify_chain() is None
        assert all(second.backend.stat(f"matters/acme/inbox/{n}") is not None for n in NAMES)


def test_two_workers_on_one_queue_each_stop(services: Services) -> None:
    """One app served twice (a test client and a server) has two workers on one queue: both stop.

    Stopping one used to put a "stop" in the shared queue that the other
    could take, leaving the first waiting for it for ever.
    """
    first, second = (
        ThreadWorker(queue(services), services.plans),
        ThreadWorker(queue(services), services.plans),
    )
    first.start()
    second.start()
    for worker in (second, first):  # the later waiter first: the "stop" goes to the earlier one
        stopping = threading.Thread(target=worker.stop, daemon=True)
        stopping.start()
        stopping.join(PATIENCE)
        assert not stopping.is_alive(), "a worker's thread did not end"
