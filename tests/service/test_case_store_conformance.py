"""One contract, three case stores: SQLite, PostgreSQL and memory keep plan cases alike.

Every test runs on each store: create and get, compare-and-swap updates
(the right version wins, a stale one is a ``Conflict``), id prefixes resolved
among visible cases only, and lists filtered, ordered and paged the same way.
Digests are made up (``digest("ab")``) so that prefixes can be shared; the
plan behind each is recorded under that digest first, as the SQL stores'
foreign key wants, through a backdoor into each store's audit.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import insert, text

from planner.core.plan import Plan
from sidecar.audit import payloads
from sidecar.audit.memory import MemoryAudit
from sidecar.audit.tables import PlanRow, PlanScopeRow
from sidecar.db import make_engine, session_factory, upgrade
from sidecar.errors import UnknownPlan
from sidecar.service.cases import Conflict, Event, SqlCaseStore, StoredCase, Write
from sidecar.service.memory import MemoryCaseStore
from sidecar.service.ports import CaseStore
from sidecar.workflow import State
from tests.databases import TABLES, postgres_database
from tests.support.clocks import TickingClock
from tests.workflow.cases import FILE_INBOX, T0, plan, submitted


@dataclass
class Stores:
    """A case store and the way to record a plan under a given digest beside it."""

    cases: CaseStore
    record: Callable[[str, Plan], None]
    recorded: Callable[[str], bool]  # whether a plan with this digest is recorded in the audit


@pytest.fixture(scope="module")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('cases') / 'audit.db'}"
    upgrade(url)
    return url


@pytest.fixture(scope="module")
def postgresql_url() -> Iterator[str]:
    with postgres_database() as url:
        upgrade(url)
        yield url


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def stores(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Stores]:
    clock = TickingClock(T0, timedelta(seconds=1))
    if request.param == "memory":
        audit = MemoryAudit()

        def remember(digest: str, body: Plan) -> None:
            audit.plans[digest] = (body, "agent-7")

        yield Stores(MemoryCaseStore(audit, clock), remember, lambda digest: digest in audit.plans)
        return
    engine = make_engine(request.getfixturevalue(f"{request.param}_url"))
    with engine.begin() as connection:
        for table in TABLES:
            connection.execute(text(f"DELETE FROM {table}"))  # noqa: S608  # fixed table names
    sessions = session_factory(engine)

    def insert_plan(digest: str, body: Plan) -> None:
        raw = json.loads(body.canonical_json())
        payload = payloads.plan_payload(body.title, author="agent-7")
        with sessions.begin() as session:
            session.execute(insert(PlanRow), [payloads.plan_row(digest, json.dumps(raw), payload, T0)])
            session.execute(insert(PlanScopeRow), payloads.scope_rows(digest, body.scope))

    def recorded(digest: str) -> bool:
        with sessions() as session:
            return session.get(PlanRow, digest) is not None

    yield Stores(SqlCaseStore(engine, clock=clock), insert_plan, recorded)
    engine.dispose()


def digest(prefix: str) -> str:
    """A made-up digest starting with ``prefix``."""
    return prefix + "0" * (64 - len(prefix))


def new_case(
    stores: Stores,
    prefix: str,
    *,
    submitted_at: datetime = T0,
    author: str = "agent-7",
    state: State = State.PENDING,
    scope: tuple[str, ...] = ("matters/acme",),
) -> StoredCase:
    """A case created in the store under ``digest(prefix)``, its plan recorded first."""
    name = digest(prefix)
    stores.record(name, plan({"op": "mkdir", "path": f"{scope[0]}/new"}, scope=scope))
    case = replace(submitted(FILE_INBOX), digest=name, submitted=submitted_at, authors=(author,), state=state)
    stored = StoredCase(
        case=case,
        version=0,
        title=f"plan {prefix}",
        report={"pva": "report/v1", "note": prefix},
        base={"entries": [], "changes": []},
        revert_of=None,
        claimed=None,
        updated=T0,
    )
    return stores.cases.create(stored, event(state))


def event(state: State) -> Event:
    return Event("workflow", "agent-7", payloads.workflow_payload("submit", state.value))


def everyone(stored: StoredCase) -> bool:
    """Every case is visible."""
    return True


def digests(found: list[StoredCase]) -> list[str]:
    return [stored.digest[:4] for stored in found]


def test_a_created_case_reads_back_whole_at_version_one(stores: Stores) -> None:
    """``create`` stores version 1 with every field, and ``get`` returns it as created."""
    created = new_case(stores, "ab")
    assert created.version == 1
    assert stores.cases.get(created.digest) == created
    assert stores.cases.get(digest("cd")) is None


def test_a_case_created_with_its_plan_records_the_plan_too(stores: Stores) -> None:
    """A submit's plan and case are saved together (one transaction in SQL)."""
    body = plan({"op": "mkdir", "path": "matters/acme/filed"}, scope=("matters/acme",))
    case = replace(submitted(FILE_INBOX), digest=body.digest(), authors=("agent-7",))
    stored = StoredCase(case, 0, "t", {"pva": "report/v1"}, {"entries": [], "changes": []}, None, None, T0)
    assert not stores.recorded(body.digest())
    stores.cases.create(stored, event(State.PENDING), plan=body)
    assert stores.recorded(body.digest())
    assert stores.cases.get(body.digest()) is not None


def test_a_create_that_conflicts_records_no_plan(stores: Stores) -> None:
    """The plan's record goes with its case: a create that loses leaves no plan behind."""
    existing = new_case(stores, "ab")
    body = plan({"op": "mkdir", "path": "matters/acme/other"}, scope=("matters/acme",))
    with pytest.raises(Conflict):
        stores.cases.create(replace(existing, version=0), event(State.PENDING), plan=body)
    assert not stores.recorded(body.digest())


def test_a_write_that_conflicts_records_no_plan_of_its_new_cases(stores: Stores) -> None:
    """Several changes saved together: when one loses, the new case's plan is not recorded either."""
    existing = new_case(stores, "ab")
    stale = replace(existing, version=existing.version - 1)
    body = plan({"op": "mkdir", "path": "matters/acme/third"}, scope=("matters/acme",))
    case = replace(submitted(FILE_INBOX), digest=body.digest(), authors=("agent-7",))
    fresh = StoredCase(case, 0, "t", {"pva": "report/v1"}, {"entries": [], "changes": []}, None, None, T0)
    with pytest.raises(Conflict):
        stores.cases.write(
            [
                Write(fresh, event(State.PENDING), new=True, plan=body),
                Write(stale, event(State.REJECTED), {"case": replace(stale.case, state=State.REJECTED)}),
            ]
        )
    assert stores.cases.get(body.digest()) is None
    assert not stores.recorded(body.digest())


def test_creating_a_case_twice_is_a_conflict(stores: Stores) -> None:
    """A second create of the same digest loses, as a writer that raced the first."""
    created = new_case(stores, "ab")
    with pytest.raises(Conflict):
        stores.cases.create(replace(created, version=0), event(State.PENDING))
    assert stores.cases.get(created.digest) == created


def test_an_update_at_the_version_read_wins_and_one_at_a_stale_version_loses(stores: Stores) -> None:
    """Compare-and-swap: the update from the version read saves; one from an older version is a Conflict."""
    created = new_case(stores, "ab")
    approved = replace(created.case, state=State.APPROVED)
    updated = stores.cases.update(created, event(State.APPROVED), case=approved)
    assert (updated.version, updated.case.state) == (2, State.APPROVED)
    assert stores.cases.get(created.digest) == updated
    with pytest.raises(Conflict):
        stores.cases.update(created, event(State.REJECTED), case=replace(created.case, state=State.REJECTED))
    assert stores.cases.get(created.digest) == updated


def test_an_update_keeps_the_report_and_base_unless_it_gives_new_ones(stores: Stores) -> None:
    """The report and base change only when the update names them; a claim time is saved."""
    created = new_case(stores, "ab")
    claimed = datetime(2026, 3, 3, tzinfo=UTC)
    first = stores.cases.update(created, event(State.PENDING), claimed=claimed)
    assert stores.cases.get(created.digest) == first
    assert (first.report, first.claimed) == (created.report, claimed)
    second = stores.cases.update(first, event(State.PENDING), report={"new": 1}, base={"entries": []})
    assert stores.cases.get(created.digest) == second
    assert (second.report, second.base) == ({"new": 1}, {"entries": []})


def test_several_changes_save_together_or_not_at_all(stores: Stores) -> None:
    """``write``: a new case and an update save in one go; when one conflicts, neither is saved."""
    old = new_case(stores, "ab")
    name = digest("cd")
    stores.record(name, plan({"op": "mkdir", "path": "matters/acme/v2"}))
    fresh = replace(old, case=replace(old.case, digest=name, supersedes=old.digest), version=0)
    superseded = replace(old.case, state=State.SUPERSEDED, superseded_by=name)
    stale = replace(old, version=old.version + 7)  # another writer moved it on
    with pytest.raises(Conflict):
        stores.cases.write(
            [
                Write(fresh, event(State.PENDING), new=True),
                Write(stale, event(State.SUPERSEDED), {"case": superseded}),
            ]
        )
    assert stores.cases.get(name) is None
    assert stores.cases.get(old.digest) == old
    made, replaced = stores.cases.write(
        [
            Write(fresh, event(State.PENDING), new=True),
            Write(old, event(State.SUPERSEDED), {"case": superseded}),
        ]
    )
    assert (made.version, made.case.supersedes) == (1, old.digest)
    assert stores.cases.get(name) == made
    assert stores.cases.get(old.digest) == replaced
    assert (replaced.version, replaced.case.state, replaced.case.superseded_by) == (2, State.SUPERSEDED, name)


def test_a_prefix_names_the_one_visible_case_it_starts(stores: Stores) -> None:
    """Eight digits or more of a digest name its case; so does the whole digest."""
    new_case(stores, "abcdef0001")
    new_case(stores, "abcdef0002")
    assert stores.cases.resolve("abcdef0001", everyone) == digest("abcdef0001")
    assert stores.cases.resolve(digest("abcdef0002"), everyone) == digest("abcdef0002")
    with pytest.raises(UnknownPlan, match="several"):
        stores.cases.resolve("abcdef00", everyone)
    with pytest.raises(UnknownPlan, match="not one you may see"):
        stores.cases.resolve("12345678", everyone)


def test_hidden_cases_never_count_when_a_prefix_is_resolved(stores: Stores) -> None:
    """A prefix shared with a hidden case names the visible one; one only a hidden case matches is unknown."""
    new_case(stores, "abcdef0001", author="seen")
    new_case(stores, "abcdef0002", author="hidden")
    new_case(stores, "99999999", author="hidden")
    seen: Callable[[StoredCase], bool] = lambda stored: stored.case.author == "seen"  # noqa: E731
    assert stores.cases.resolve("abcdef00", seen) == digest("abcdef0001")
    with pytest.raises(UnknownPlan, match="not one you may see"):
        stores.cases.resolve("99999999", seen)


@pytest.mark.parametrize("ref", ["abc", "ABCDEF01", "abcdef0g", "a" * 65, "abcd%_01"])
def test_a_ref_that_cannot_be_an_id_is_refused(stores: Stores, ref: str) -> None:
    """Too short, too long, upper case or not hex: UnknownPlan saying what an id looks like."""
    new_case(stores, "abcdef0001")
    with pytest.raises(UnknownPlan, match="not a plan id"):
        stores.cases.resolve(ref, everyone)


def test_lists_run_newest_first_then_by_digest_without_reports(stores: Stores) -> None:
    """``find`` orders by submission time, newest first, ties by digest, and leaves reports and bases out."""
    new_case(stores, "c1", submitted_at=T0)
    new_case(stores, "b2", submitted_at=T0 + timedelta(hours=1))
    new_case(stores, "a2", submitted_at=T0 + timedelta(hours=1))
    found = stores.cases.find()
    assert digests(found) == ["a200", "b200", "c100"]
    assert all(stored.report == {} and stored.base == {} for stored in found)
    assert found[0].version == 1
    assert digests(stores.cases.find(limit=2)) == ["a200", "b200"]


def test_lists_filter_by_state_author_and_path(stores: Stores) -> None:
    """States, the first author and a path (overlapping the plan's scope, not a look-alike) filter a list."""
    new_case(stores, "a1", state=State.APPROVED, author="agent-7", scope=("matters/acme",))
    new_case(stores, "b1", state=State.PENDING, author="agent-8", scope=("matters/acme/inbox",))
    new_case(stores, "c1", state=State.REJECTED, author="agent-7", scope=("matters/acme-evil",))
    assert digests(stores.cases.find(states=(State.APPROVED, State.REJECTED))) == ["a100", "c100"]
    assert digests(stores.cases.find(author="agent-8")) == ["b100"]
    assert digests(stores.cases.find(path="matters/acme")) == ["a100", "b100"]
    assert digests(stores.cases.find(path="matters/acme/inbox/0001.pdf")) == ["a100", "b100"]
    assert digests(stores.cases.find(path="matters")) == ["a100", "b100", "c100"]
    assert digests(stores.cases.find(path="matters/acme-evil/x")) == ["c100"]
    assert digests(stores.cases.find(path="elsewhere")) == []
    assert digests(stores.cases.find(states=(State.PENDING,), author="agent-7")) == []


def test_pages_continue_after_the_last_case_shown_through_ties(stores: Stores) -> None:
    """Paging by (submitted, digest) of the last case shown skips none and repeats none, ties included."""
    for prefix in ("a1", "b1", "c1"):
        new_case(stores, prefix, submitted_at=T0 + timedelta(hours=1))
    new_case(stores, "d1", submitted_at=T0)
    first = stores.cases.find(limit=2)
    last = first[-1]
    second = stores.cases.find(limit=2, before=last.case.submitted, before_id=last.digest)
    assert digests(first) + digests(second) == ["a100", "b100", "c100", "d100"]
    assert digests(stores.cases.find(before=T0 + timedelta(hours=1))) == ["d100"]


def test_applying_lists_the_cases_an_apply_took(stores: Stores) -> None:
    """``applying`` returns exactly the cases in state applying."""
    new_case(stores, "a1", state=State.APPLYING)
    new_case(stores, "b1", state=State.APPROVED)
    assert digests(stores.cases.applying()) == ["a100"]
