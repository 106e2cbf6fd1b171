"""What a person reviews is what applies: the trees of submitted plans, and the binding of approvals.

Over a real local store and SQLite, through ``PlanService`` as the page and
the API use it: each named case is submitted, its trees read as the page
reads them (``case_trees``), then approved and applied, and the After tree
is checked against the store read back.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from planner.core.footprint import SHOWN_LISTING
from planner.core.plan import Plan
from planner.core.treeview import TreeRow, Trees, changed_only
from sidecar.service.cases import StoredCase, case_trees
from sidecar.settings import Settings
from sidecar.wiring import Services, open_services
from sidecar.workflow import State
from tests.support.apps import migrated_sqlite
from tests.support.clocks import TickingClock
from tests.support.files import write_files
from tests.support.plans import make_plan
from tests.support.tokens import AGENT, ALICE

FILES = {
    "matters/acme/inbox/a.pdf": b"alpha",
    "matters/acme/inbox/b.pdf": b"bravo",
    "matters/acme/done/z.pdf": b"zulu",
    "matters/acme/old/notes/n1.txt": b"note one",
    "matters/acme/old/n2.txt": b"note two",
    "matters/acme/index.csv": b"a,b\n",
}


@pytest.fixture
def store(tmp_path: Path) -> Path:
    return write_files(tmp_path / "store", FILES)


@pytest.fixture
def services(tmp_path: Path, store: Path) -> Iterator[Services]:
    settings = Settings(
        store=str(store),
        database_url=migrated_sqlite(tmp_path, "pva.db"),
        auto_apply=False,
        apply_mode="request",  # the use cases run the apply themselves (tests/jobs: as a worker's job)
    )
    clock = TickingClock(datetime(2026, 12, 1, 12, 0, tzinfo=UTC), timedelta(microseconds=1))
    with open_services(settings, clock=clock) as live:
        yield live


def rows(shown: tuple[TreeRow, ...]) -> dict[str, TreeRow]:
    return {row.path: row for row in shown}


def store_state(store: Path) -> dict[str, tuple[str, int | None]]:
    found: dict[str, tuple[str, int | None]] = {}
    for path in sorted(store.rglob("*")):
        relative = path.relative_to(store).as_posix()
        if not relative.startswith(".pva"):
            found[relative] = ("dir", None) if path.is_dir() else ("file", path.stat().st_size)
    return found


def reviewed(services: Services, store: Path, the_plan: Plan) -> tuple[StoredCase, Trees]:
    """Submit, read the trees as the page does, approve and apply; the After tree must be the store."""
    submitted = services.plans.submit(the_plan, AGENT)
    assert submitted.case.state is State.PENDING, submitted.case.diagnostics
    shown = case_trees(submitted)
    before = store_state(store)
    assert all(before.get(row.path) == _kind_size(row) for row in shown.before)
    services.plans.approve(submitted.digest, ALICE, "fine")
    applied = services.plans.apply(submitted.digest, ALICE)
    assert applied.case.state is State.APPLIED, applied.case.diagnostics
    after = store_state(store)
    wrong = [row.path for row in shown.after if after.get(row.path) != _kind_size(row)]
    assert wrong == []
    return applied, shown


def _kind_size(row: TreeRow) -> tuple[str, int | None]:
    return ("dir", None) if row.is_dir else ("file", row.size)


def test_a_move_into_an_existing_folder_shows_the_file_in_that_folder(
    services: Services, store: Path
) -> None:
    """A move into a folder the plan did not create shows in After in that folder, beside what it holds."""
    move = {"op": "move", "src": "matters/acme/inbox/a.pdf", "dst": "matters/acme/done/a.pdf"}
    _, shown = reviewed(services, store, make_plan(move))
    after = rows(shown.after)
    assert [m.label for m in after["matters/acme/done/a.pdf"].marks] == ["moved"]
    assert "matters/acme/done/z.pdf" in after
    assert "matters/acme/inbox/a.pdf" not in after
    assert "matters/acme/done/a.pdf" in {row.path for row in changed_only(shown.after)}


def test_a_moved_then_renamed_file_shows_under_its_final_name(services: Services, store: Path) -> None:
    """A move into an existing folder then a rename shows one file, at its final name, in After."""
    _, shown = reviewed(
        services,
        store,
        make_plan(
            {"op": "move", "src": "matters/acme/inbox/a.pdf", "dst": "matters/acme/done/a.pdf"},
            {"op": "rename", "path": "matters/acme/done/a.pdf", "name": "0001 Alpha.pdf"},
        ),
    )
    after = rows(shown.after)
    assert "matters/acme/done/0001 Alpha.pdf" in after
    assert "matters/acme/done/a.pdf" not in after
    assert [m.detail for m in rows(shown.before)["matters/acme/inbox/a.pdf"].marks] == [
        "to matters/acme/done/0001 Alpha.pdf"
    ]


def test_a_chain_of_moves_and_a_copy_show_where_each_ends(services: Services, store: Path) -> None:
    """a to b to c ends at c; a copied folder shows whole at its copy and at its source."""
    _, shown = reviewed(
        services,
        store,
        make_plan(
            {"op": "move", "src": "matters/acme/inbox/b.pdf", "dst": "matters/acme/done/b.pdf"},
            {"op": "move", "src": "matters/acme/done/b.pdf", "dst": "matters/acme/old/b.pdf"},
            {"op": "copy", "src": "matters/acme/old", "dst": "matters/acme/done/old-copy"},
        ),
    )
    after = rows(shown.after)
    assert "matters/acme/old/b.pdf" in after
    assert "matters/acme/done/b.pdf" not in after
    assert {"matters/acme/done/old-copy/notes/n1.txt", "matters/acme/old/notes/n1.txt"} <= set(after)


def test_an_overwrite_shows_the_new_content_size(services: Services, store: Path) -> None:
    """An overwrite shows the new size in After and the old in Before."""
    old, new = FILES["matters/acme/index.csv"], b"x,y,z\n1,2,3\n"
    expect = {"sha256": hashlib.sha256(old).hexdigest()}
    write = {"op": "write", "path": "matters/acme/index.csv", "content": new.decode()}
    _, shown = reviewed(services, store, make_plan(write | {"overwrite": True, "expect": expect}))
    assert rows(shown.before)["matters/acme/index.csv"].sha256 == hashlib.sha256(old).hexdigest()
    assert rows(shown.after)["matters/acme/index.csv"].sha256 == hashlib.sha256(new).hexdigest()
    assert rows(shown.after)["matters/acme/index.csv"].size == len(new)


def test_a_folder_delete_and_its_revert_show_the_folder_whole(services: Services, store: Path) -> None:
    """Deleting a folder empties After there; its revert plan's After shows the folder with its files back."""
    applied, shown = reviewed(services, store, make_plan({"op": "delete", "path": "matters/acme/old"}))
    assert not any(row.path.startswith("matters/acme/old") for row in shown.after)
    assert rows(shown.before)["matters/acme/old"].marks[0].label == "to trash"
    assert rows(shown.before)["matters/acme/old/n2.txt"].within == "goes to trash with its folder"
    inverse = services.plans.revert(applied.digest, AGENT)
    _, undo = reviewed(services, store, services.audit.plan(inverse.digest))
    after = rows(undo.after)
    assert after["matters/acme/old/notes/n1.txt"].size == len(b"note one")
    assert after["matters/acme/old/n2.txt"].size == len(b"note two")
    assert after["matters/acme/old/n2.txt"].marks[0].label == "new"


def test_a_document_filed_beside_the_target_neither_voids_nor_haunts_the_approval(
    services: Services, store: Path
) -> None:
    """A new file in the destination folder after approval: the plan applies, no 'appeared' line."""
    move = {"op": "move", "src": "matters/acme/inbox/a.pdf", "dst": "matters/acme/done/a.pdf"}
    submitted = services.plans.submit(make_plan(move), AGENT)
    services.plans.approve(submitted.digest, ALICE, "fine")
    (store / "matters/acme/done/new.pdf").write_bytes(b"new")
    result = services.plans.apply(submitted.digest, ALICE)
    assert result.case.state is State.APPLIED, result.case.diagnostics


def test_a_moved_file_rewritten_with_the_same_size_after_approval_makes_the_plan_stale(
    services: Services, store: Path
) -> None:
    """Approval binds to the content of what a move names: a same-size rewrite is stale, nothing moves."""
    move = {"op": "move", "src": "matters/acme/inbox/a.pdf", "dst": "matters/acme/done/a.pdf"}
    submitted = services.plans.submit(make_plan(move), AGENT)
    services.plans.approve(submitted.digest, ALICE, "fine")
    (store / "matters/acme/inbox/a.pdf").write_bytes(b"ALPHA")  # same size, other content
    before = store_state(store)
    result = services.plans.apply(submitted.digest, ALICE)
    assert result.case.state is State.STALE
    (problem,) = result.case.diagnostics
    assert problem.path == "matters/acme/inbox/a.pdf"
    assert "same size, other content" in problem.message
    assert store_state(store) == before


def test_a_file_filed_from_a_large_folder_keeps_only_what_the_plan_names_of_it(
    services: Services, store: Path
) -> None:
    """A folder over SHOWN_LISTING entries is not copied into the plan, and its trees still show right."""
    inbox = store / "matters" / "acme" / "inbox"
    for number in range(SHOWN_LISTING):
        (inbox / f"{number:05}.pdf").write_bytes(b"x")
    move = {"op": "move", "src": "matters/acme/inbox/a.pdf", "dst": "matters/acme/done/a.pdf"}
    applied, shown = reviewed(services, store, make_plan(move))
    kept = {entry["path"] for entry in applied.base["entries"]}
    assert not any(path.startswith("matters/acme/inbox/0") for path in kept)
    assert {"matters", "matters/acme", "matters/acme/inbox", "matters/acme/inbox/a.pdf"} <= kept
    assert "matters/acme/done/z.pdf" in kept  # a small folder is kept whole: what else the destination holds
    assert [m.label for m in rows(shown.after)["matters/acme/done/a.pdf"].marks] == ["moved"]
