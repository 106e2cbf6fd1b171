"""How often one use case reads the case and records the plan: once, passed down (approve, then apply).

A counting wrapper around the memory case store and the memory audit
records every read; approving a plan that the approval completes (and so
applies) reads its case once, records no plan (it was recorded at submit)
and parses the plan once.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from planner.core.plan import Plan
from sidecar.apply.engine import Engine
from sidecar.apply.journal import FileJournals
from sidecar.audit.memory import MemoryAudit
from sidecar.backends.memory import MemoryBackend
from sidecar.policy import Policy
from sidecar.service.cases import StoredCase
from sidecar.service.memory import MemoryCaseStore
from sidecar.service.plans import PlanService, WorkflowSettings
from sidecar.workflow import State
from tests.support.clocks import TickingClock
from tests.support.plans import make_plan
from tests.support.tokens import AGENT, ALICE


class Counting:
    """Counts the calls of the named methods of ``inner``; passes every call on."""

    def __init__(self, inner: Any, counted: tuple[str, ...]) -> None:
        self.inner = inner
        self.counted = counted
        self.calls: Counter[str] = Counter()

    def __getattr__(self, name: str) -> Any:
        found = getattr(self.inner, name)
        if name not in self.counted:
            return found

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls[name] += 1
            return found(*args, **kwargs)

        return counted


def _service(tmp_path: Path) -> tuple[PlanService, Counting, Counting]:
    clock = TickingClock(datetime(2026, 12, 4, tzinfo=UTC), timedelta(seconds=1))
    backend = MemoryBackend()
    backend.put("matters/acme/inbox/a.pdf", b"a")
    audit = Counting(MemoryAudit(), ("record_plan", "plan"))
    cases = Counting(MemoryCaseStore(audit.inner, clock), ("get", "resolve", "find"))
    engine = Engine(backend, audit, FileJournals(tmp_path), clock=clock)
    settings = WorkflowSettings(approval_ttl=timedelta(days=1), auto_apply=True)
    service = PlanService(engine, audit, cases, Policy(), clock, settings)
    return service, cases, audit


def _counted(
    wrappers: tuple[Counting, ...], action: Callable[[], StoredCase]
) -> tuple[StoredCase, Counter[str]]:
    for wrapper in wrappers:
        wrapper.calls.clear()
    result = action()
    calls: Counter[str] = Counter()
    for wrapper in wrappers:
        calls.update(wrapper.calls)
    return result, calls


PLAN: Plan = make_plan({"op": "move", "src": "matters/acme/inbox/a.pdf", "dst": "matters/acme/a.pdf"})


def test_an_approval_that_applies_reads_the_case_once_and_records_no_plan(tmp_path: Path) -> None:
    service, cases, audit = _service(tmp_path)
    submitted = service.submit(PLAN, AGENT)
    applied, calls = _counted((cases, audit), lambda: service.approve(submitted.digest, ALICE, "fine"))
    assert applied.case.state is State.APPLIED
    assert calls == Counter({"get": 1, "plan": 1})  # the case read once; the plan parsed once to apply


def test_an_id_prefix_is_looked_up_then_read(tmp_path: Path) -> None:
    service, cases, audit = _service(tmp_path)
    submitted = service.submit(PLAN, AGENT)
    applied, calls = _counted((cases, audit), lambda: service.approve(submitted.digest[:12], ALICE, "fine"))
    assert applied.case.state is State.APPLIED
    assert calls["get"] == 1
    assert calls["record_plan"] == 0
