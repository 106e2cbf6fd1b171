"""Legal holds on a GCS store: the bucket's temporary holds, set and cleared by pva, refuse what pva refuses.

The faithful server implements temporary holds as Google documents them; the
backdoor (``server.objects``) reads which objects are held. The plan service
runs over a ``GcsBackend`` on that server and a migrated SQLite database.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from google.api_core import exceptions as api

from sidecar import db
from sidecar.apply.engine import Engine
from sidecar.apply.journal import FileJournals
from sidecar.audit.store import SqlAuditStore
from sidecar.backends.gcs.backend import GcsBackend
from sidecar.errors import StoreFault
from sidecar.holds import HoldStore
from sidecar.policy import Policy
from sidecar.service.cases import SqlCaseStore
from sidecar.service.holds import HoldService
from sidecar.service.plans import PlanService, WorkflowSettings
from sidecar.tokens import Principal, Role
from sidecar.workflow import State
from tests.gcs.fixtures import bucket_state, client_for, open_gcs, seed
from tests.gcs.server import GcsServer
from tests.support.apps import migrated_sqlite
from tests.support.clocks import TickingClock
from tests.support.plans import make_plan
from tests.support.tokens import AGENT, ALICE

COUNSEL = Principal("tok_00000000c0c0", "counsel", Role.COUNSEL, ("matters",))
PREFIX = "store"
STORE: dict[str, bytes | None] = {
    "matters": None,
    "matters/acme": None,
    "matters/acme/inbox": None,
    "matters/acme/inbox/a.pdf": b"%PDF a",
    "matters/acme/inbox/b.pdf": b"%PDF b",
    "matters/acme/notes.txt": b"notes",
}
RENAME_A = {"op": "rename", "path": "matters/acme/inbox/a.pdf", "name": "a-renamed.pdf"}


@dataclass
class World:
    """The plan and hold services over one bucket, and the bucket's name."""

    server: GcsServer
    bucket: str
    backend: GcsBackend
    plans: PlanService
    holds: HoldService
    store: HoldStore

    def held(self) -> set[str]:
        """Store paths of the objects the bucket holds (folders as 'path/')."""
        base = f"{PREFIX}/"
        objects = self.server.objects(self.bucket).items()
        return {name[len(base) :] for name, obj in objects if obj.temporary_hold and name.startswith(base)}


@pytest.fixture
def world(server: GcsServer, bucket: str, tmp_path: Path) -> Iterator[World]:
    seed(server, bucket, PREFIX, STORE)
    backend = open_gcs(server, bucket, tmp_path / "state")
    url = migrated_sqlite(tmp_path)
    database = db.make_engine(url)
    clock = TickingClock(datetime(2026, 12, 4, 9, 0, tzinfo=UTC), timedelta(milliseconds=1))
    holds = HoldStore(database, clock=clock)
    audit = SqlAuditStore(database, clock=clock)
    (tmp_path / "journals").mkdir()
    engine = Engine(backend, audit, FileJournals(tmp_path / "journals"), clock=clock, holds=holds.held)
    cases = SqlCaseStore(database, clock=clock)
    plans = PlanService(engine, audit, cases, Policy(), clock, WorkflowSettings(auto_apply=False))
    yield World(server, bucket, backend, plans, HoldService(holds, engine), holds)
    backend.close()
    database.dispose()


def test_placing_a_hold_holds_every_object_below_and_releasing_clears_them(world: World) -> None:
    """A hold on a folder holds its placeholder and every object in it; releasing clears them."""
    hold = world.holds.place(COUNSEL, ["matters/acme/inbox"], matter="Acme", reason="litigation")
    assert world.held() == {"matters/acme/inbox/", "matters/acme/inbox/a.pdf", "matters/acme/inbox/b.pdf"}
    assert world.holds.enforce(hold) == 3  # running it again (after a crash) changes nothing
    world.holds.release(COUNSEL, hold.id, reason="settled")
    assert world.held() == set()


def test_a_hold_a_crash_left_unenforced_is_finished_by_the_sweep(world: World) -> None:
    """A hold recorded but not set in the bucket (a crash between), or released, not cleared, is settled."""
    paths = ["matters/acme/inbox/a.pdf"]
    hold = world.store.place(paths, matter="Acme", reason="litigation", actor="counsel")  # then a crash
    assert world.held() == set()
    assert world.holds.settle() == 1
    assert world.held() == {"matters/acme/inbox/a.pdf"}
    assert world.holds.settle() == 0  # settled: nothing left to do
    world.store.release(hold.id, reason="settled", actor="counsel")  # then a crash
    assert world.holds.settle() == 1
    assert world.held() == set()


def test_the_bucket_refuses_to_delete_a_held_object_whoever_asks(world: World, server: GcsServer) -> None:
    """Past pva (its backend's own rename, or a plain client), a held object cannot be deleted or replaced."""
    world.holds.place(COUNSEL, ["matters/acme/inbox/a.pdf"], matter="Acme", reason="litigation")
    with pytest.raises(StoreFault, match="hold"):
        world.backend.rename("matters/acme/inbox/a.pdf", "matters/acme/a.pdf")
    blob = client_for(server.url).bucket(world.bucket).blob(f"{PREFIX}/matters/acme/inbox/a.pdf")
    with pytest.raises(api.Forbidden, match="Temporary hold"):
        blob.delete()
    with pytest.raises(api.Forbidden, match="Temporary hold"):
        blob.upload_from_string(b"replaced")
    assert bucket_state(server, world.bucket, PREFIX)["matters/acme/inbox/a.pdf"] == _sha(b"%PDF a")


def test_an_apply_without_pvas_hold_check_is_still_refused_by_the_bucket(
    world: World, tmp_path: Path
) -> None:
    """An engine that ignores holds (pva's checks bypassed) cannot delete a held object: it rolls back."""
    world.holds.place(COUNSEL, ["matters/acme/inbox"], matter="Acme", reason="litigation")
    before = bucket_state(world.server, world.bucket, PREFIX)
    (tmp_path / "blind").mkdir()
    blind = Engine(world.backend, world.plans.audit, FileJournals(tmp_path / "blind"))  # no holds given
    plan = make_plan({"op": "delete", "path": "matters/acme/inbox/b.pdf"}, scope=("matters/acme",))
    record = blind.apply(plan, actor="mallory")
    assert record.status == "failed"
    assert "hold" in record.message
    assert bucket_state(world.server, world.bucket, PREFIX) == before


def test_a_hold_placed_after_approval_makes_the_apply_stale_on_gcs(world: World) -> None:
    """Approved, then held: the apply goes stale, nothing in the bucket moves; after release it applies."""
    before = bucket_state(world.server, world.bucket, PREFIX)
    submitted = world.plans.submit(make_plan(RENAME_A, scope=("matters/acme",)), AGENT)
    assert world.plans.approve(submitted.digest, ALICE, "fine").case.state is State.APPROVED
    hold = world.holds.place(COUNSEL, ["matters/acme/inbox"], matter="Acme", reason="litigation")
    applied = world.plans.apply(submitted.digest, ALICE)
    assert applied.case.state is State.STALE
    assert [d.code for d in applied.case.diagnostics] == ["on_hold"]
    assert bucket_state(world.server, world.bucket, PREFIX) == before
    world.holds.release(COUNSEL, hold.id, reason="settled")
    world.plans.submit(make_plan(RENAME_A, scope=("matters/acme",)), AGENT)
    assert world.plans.apply(submitted.digest, ALICE).case.state is State.APPLIED


def test_a_new_file_filed_into_a_held_folder_is_held_by_the_bucket(world: World) -> None:
    """A write into a held folder applies, and the new object gets the bucket's hold too."""
    world.holds.place(COUNSEL, ["matters/acme/inbox"], matter="Acme", reason="litigation")
    write = {"op": "write", "path": "matters/acme/inbox/c.txt", "content": "filed later\n"}
    outside = {"op": "write", "path": "matters/acme/d.txt", "content": "not held\n"}
    submitted = world.plans.submit(make_plan(write, outside, scope=("matters/acme",)), AGENT)
    world.plans.approve(submitted.digest, ALICE, "fine")
    assert world.plans.apply(submitted.digest, ALICE).case.state is State.APPLIED
    assert "matters/acme/inbox/c.txt" in world.held()
    assert "matters/acme/d.txt" not in world.held()


def test_a_submit_that_deletes_a_held_file_is_rejected(world: World) -> None:
    """At submit, the sidecar's verification reports on_hold and the plan is rejected."""
    world.holds.place(COUNSEL, ["matters/acme/inbox"], matter="Acme", reason="litigation")
    plan = make_plan({"op": "delete", "path": "matters/acme/inbox"}, scope=("matters/acme",))
    stored = world.plans.submit(plan, AGENT)
    assert stored.case.state is State.REJECTED
    assert {d.code for d in stored.case.diagnostics} == {"on_hold"}


def test_the_server_holds_as_google_documents(server: GcsServer, bucket: str) -> None:
    """A held object cannot be moved or copied over; a copy of it is not held; once cleared it can go."""
    client = client_for(server.url).bucket(bucket)
    seed(server, bucket, "", {"a.txt": b"a", "b.txt": b"b"})
    held = client.blob("a.txt")
    held.temporary_hold = True
    held.patch()
    assert server.objects(bucket)["a.txt"].metageneration == 2  # a metadata change, the same generation
    with pytest.raises(api.Forbidden):
        client.move_blob(held, "c.txt")  # a move deletes its source
    with pytest.raises(api.Forbidden):
        client.copy_blob(client.blob("b.txt"), client, "a.txt")  # onto a held name
    copied = client.copy_blob(held, client, "copy.txt")
    assert not copied.temporary_hold
    held.temporary_hold = False
    held.patch()
    held.delete()
    assert sorted(server.objects(bucket)) == ["b.txt", "copy.txt"]


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
