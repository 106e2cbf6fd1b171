"""PlanService over a real local store and SQLite: the behaviours the HTTP tests do not reach."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from planner.core.plan import Plan
from sidecar.audit.records import ApplyRecord
from sidecar.service.cases import Conflict, Event, StoredCase
from sidecar.settings import Settings
from sidecar.wiring import Services, open_services
from sidecar.workflow import State
from tests.support.apps import migrated_sqlite
from tests.support.clocks import TickingClock
from tests.support.files import write_files
from tests.support.plans import make_plan
from tests.support.tokens import AGENT, ALICE


@pytest.fixture
def clock() -> TickingClock:
    """A clock that moves a microsecond per reading; the test moves it further by hand."""
    return TickingClock(datetime(2026, 11, 29, 12, 0, tzinfo=UTC), timedelta(microseconds=1))


@pytest.fixture
def services(tmp_path: Path, clock: TickingClock) -> Iterator[Services]:
    files = {f"matters/acme/inbox/{name}": name.encode() for name in ("a.pdf", "b.pdf")}
    store = write_files(tmp_path / "store", files)
    url = migrated_sqlite(tmp_path, "pva.db")
    with open_services(
        Settings(store=str(store), database_url=url, auto_apply=False, apply_mode="request"), clock=clock
    ) as live:
        yield live


def plan(*ops: dict[str, Any], title: str = "file") -> Plan:
    return make_plan(*ops, title=title)


FILE_A = {"op": "move", "src": "matters/acme/inbox/a.pdf", "dst": "matters/acme/a.pdf"}


def approved(services: Services, the_plan: Plan) -> StoredCase:
    submitted = services.plans.submit(the_plan, AGENT)
    return services.plans.approve(submitted.digest, ALICE, "fine")


def test_history_names_who_approved_a_plan_applied_through_the_workflow(services: Services) -> None:
    """A document's history says who approved the plan that moved it, not only who applied it."""
    stored = approved(services, plan(FILE_A))
    services.plans.apply(stored.digest, ALICE)
    (item,) = services.audit.history("matters/acme/a.pdf").items
    assert item.approvers == ("alice",)
    assert item.author == "agent-1"


def test_an_apply_a_stopped_sidecar_left_becomes_failed_after_its_lease(
    services: Services, clock: TickingClock
) -> None:
    """A plan left 'applying' with no recorded outcome is settled as failed once its lease runs out."""
    stored = approved(services, plan(FILE_A))
    case = replace(stored.case, state=State.APPLYING)
    services.plans.cases.update(stored, _event(), case=case, claimed=clock.now)  # as a dying sidecar would
    assert services.plans.sweep() == []  # still within the lease: maybe alive elsewhere
    clock.now += services.plans.settings.apply_lease + timedelta(seconds=1)
    (settled,) = services.plans.sweep()
    assert settled.case.state is State.FAILED
    assert services.backend.stat("matters/acme/inbox/a.pdf") is not None  # nothing changed
    again = services.plans.apply(stored.digest, ALICE)  # a failed plan may be applied again
    assert again.case.state is State.APPLIED


def test_asking_again_for_an_apply_abandoned_past_its_lease_applies_it(
    services: Services, clock: TickingClock
) -> None:
    """Applying a plan stuck 'applying' past its lease settles the abandoned apply, then applies the plan."""
    stored = approved(services, plan(FILE_A))
    case = replace(stored.case, state=State.APPLYING)
    services.plans.cases.update(stored, _event(), case=case, claimed=clock.now)  # as a dying sidecar would
    assert services.plans.apply(stored.digest, ALICE).case.state is State.APPLYING  # maybe still running
    clock.now += services.plans.settings.apply_lease + timedelta(seconds=1)
    assert services.plans.apply(stored.digest, ALICE).case.state is State.APPLIED
    assert services.backend.stat("matters/acme/a.pdf") is not None


def test_an_apply_recorded_before_the_sidecar_stopped_is_settled_from_the_audit(
    services: Services, clock: TickingClock
) -> None:
    """A plan left 'applying' whose outcome the audit holds takes that outcome at the sweep."""
    stored = approved(services, plan(FILE_A))
    case = replace(stored.case, state=State.APPLYING)
    claimed = services.plans.cases.update(stored, _event(), case=case, claimed=clock.now)
    record = services.engine.apply(services.audit.plan(stored.digest), actor="alice", author="agent-1")
    assert isinstance(record, ApplyRecord)
    (settled,) = services.plans.sweep()
    assert settled.digest == claimed.digest
    assert settled.case.state is State.APPLIED


def test_a_stale_read_cannot_overwrite_a_newer_case(services: Services) -> None:
    """Saving a case read before another writer's change raises Conflict and changes nothing."""
    stored = services.plans.submit(plan(FILE_A), AGENT)
    services.plans.approve(stored.digest, ALICE, "first")
    with pytest.raises(Conflict):
        services.plans.cases.update(stored, _event(), case=stored.case)
    assert services.plans.cases.get(stored.digest).case.state is State.APPROVED  # type: ignore[union-attr]


def test_an_approval_voids_when_what_the_plan_moves_changes(services: Services, tmp_path: Path) -> None:
    """A change to a file the plan names after approval makes the apply stale, with nothing moved."""
    stored = approved(services, plan(FILE_A))
    (tmp_path / "store" / "matters" / "acme" / "inbox" / "a.pdf").write_bytes(b"edited after approval")
    applied = services.plans.apply(stored.digest, ALICE)
    assert applied.case.state is State.STALE
    assert [d.path for d in applied.case.diagnostics] == ["matters/acme/inbox/a.pdf"]
    assert services.backend.stat("matters/acme/a.pdf") is None


def test_a_submit_that_loses_the_race_for_a_new_plan_joins_the_case_another_submitter_made(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The case read before verifying serves one round: if another submitter made it since, it is read again.

    The second agent's first round saw no case (as if it read just before the
    other submit landed); its insert loses, and the next round joins the case.
    """
    peer = replace(AGENT, token_id="tok_000000000003", name="agent-2")  # noqa: S106  # an id, not a secret
    the_plan = plan(FILE_A)
    first = services.plans.submit(the_plan, peer)
    cases = services.plans.cases
    reads: list[str] = []
    real_get = cases.get

    def stale_then_real(digest: str) -> StoredCase | None:
        reads.append(digest)
        return None if len(reads) == 1 else real_get(digest)

    monkeypatch.setattr(cases, "get", stale_then_real)
    joined = services.plans.submission(the_plan, AGENT)
    assert reads == [first.digest, first.digest]  # one read before verifying, one after the lost round
    assert joined.stored.digest == first.digest
    assert joined.stored.case.authors == ("agent-2", "agent-1")
    assert joined.seen is False  # what this submitter read first held no case
    assert services.plans.submission(the_plan, AGENT).seen is True


def _event() -> Event:
    return Event("workflow", "test", {"action": "test"})
