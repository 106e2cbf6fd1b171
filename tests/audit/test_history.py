"""A document's chain of custody across plans: moves, renames, folder moves, copies, writes, deletes."""

from __future__ import annotations

import pytest

from sidecar.audit.records import OpRecord
from sidecar.audit.store import SqlAuditStore
from sidecar.audit.views import History
from tests.audit.conftest import file, make_plan, record


def steps(found: History) -> list[tuple[str, str | None, str | None]]:
    return [(item.action, item.name_before, item.name_after) for item in found.items]


@pytest.fixture
def lifetime(store: SqlAuditStore) -> SqlAuditStore:
    """Seven plans: write, move, rename, move its folder, copy, overwrite, delete one document."""
    plans = [
        ("write", OpRecord(0, "write", "m/inbox/1.pdf", after=file("m/inbox/1.pdf", "v1"))),
        ("move", OpRecord(0, "move", "m/sorted/1.pdf", "m/inbox/1.pdf", after=file("m/sorted/1.pdf", "v1"))),
        ("rename", OpRecord(0, "rename", "m/sorted/one.pdf", "m/sorted/1.pdf", after=file("x", "v1"))),
        ("folder", OpRecord(0, "move", "m/archive/2026", "m/sorted", after=None)),
        ("copy", OpRecord(0, "copy", "m/copies/one.pdf", "m/archive/2026/one.pdf", after=file("c", "v1"))),
        (
            "overwrite",
            OpRecord(
                0,
                "write",
                "m/archive/2026/one.pdf",
                before=file("b", "v1"),
                after=file("a", "v2"),
                trash=".pva/trash/o/0/one.pdf",
            ),
        ),
        ("delete", OpRecord(0, "delete", "m/archive", before=None, trash=".pva/trash/d/0/archive")),
    ]
    for n, (title, op) in enumerate(plans):
        plan = make_plan({"op": "mkdir", "path": f"m/p{n}"}, title=title)
        record(store, plan, op, author=f"agent-{n}", actor=f"operator-{n}")
    return store


FORWARD = [
    ("written", None, "m/inbox/1.pdf"),
    ("moved", "m/inbox/1.pdf", "m/sorted/1.pdf"),
    ("renamed", "m/sorted/1.pdf", "m/sorted/one.pdf"),
    ("folder moved", "m/sorted/one.pdf", "m/archive/2026/one.pdf"),
    ("copied to", "m/archive/2026/one.pdf", "m/archive/2026/one.pdf"),
    ("overwritten", "m/archive/2026/one.pdf", "m/archive/2026/one.pdf"),
    ("folder deleted", "m/archive/2026/one.pdf", None),
]


def test_history_from_the_last_path_goes_back_to_the_original(lifetime: SqlAuditStore) -> None:
    """From its last name, history goes back through a folder move, a rename and a move to its creation."""
    found = lifetime.history("m/archive/2026/one.pdf")
    assert steps(found) == FORWARD
    assert found.origins == ("m/inbox/1.pdf",)
    assert found.current == ()
    assert found.items[-1].trash == ".pva/trash/d/0/archive/2026/one.pdf"


def test_history_from_the_original_path_goes_forward_to_the_last(lifetime: SqlAuditStore) -> None:
    """From its first name, the history walks forward through every rename and move to its deletion."""
    assert steps(lifetime.history("m/inbox/1.pdf")) == FORWARD


def test_history_from_a_middle_name_finds_both_ends(lifetime: SqlAuditStore) -> None:
    """From a name it held in between, the history reaches the creation and the deletion."""
    assert steps(lifetime.history("m/sorted/1.pdf")) == FORWARD


def test_history_items_name_who_submitted_applied_and_which_plan(lifetime: SqlAuditStore) -> None:
    """Each item carries the plan's author, the applier, the plan digest and title, and the content hash."""
    move = lifetime.history("m/sorted/one.pdf").items[1]
    assert (move.author, move.actor, move.title) == ("agent-1", "operator-1", "move")
    assert move.digest == make_plan({"op": "mkdir", "path": "m/p1"}, title="move").digest()
    assert move.sha256 == file("", "v1").sha256
    assert move.approvers == ()
    folder = lifetime.history("m/sorted/one.pdf").items[3]
    assert folder.sha256 is None  # a folder op says nothing of the document's content


def test_a_copy_leads_back_to_its_source(lifetime: SqlAuditStore) -> None:
    """A copy's history starts with the copy and follows the source back to its creation."""
    found = lifetime.history("m/copies/one.pdf")
    assert steps(found) == [*FORWARD[:4], ("copied from", "m/archive/2026/one.pdf", "m/copies/one.pdf")]
    assert found.current == ("m/copies/one.pdf",)


def test_a_reused_name_shows_every_document_that_held_it(store: SqlAuditStore) -> None:
    """When a name is moved away then written again, both documents' histories appear."""
    record(store, make_plan({"op": "mkdir", "path": "m/a"}), OpRecord(0, "move", "m/out/1.pdf", "m/in/1.pdf"))
    record(store, make_plan({"op": "mkdir", "path": "m/b"}), OpRecord(0, "write", "m/in/1.pdf"))
    found = store.history("m/in/1.pdf")
    assert steps(found) == [("moved", "m/in/1.pdf", "m/out/1.pdf"), ("written", None, "m/in/1.pdf")]
    assert set(found.current) == {"m/out/1.pdf", "m/in/1.pdf"}


def test_folder_ops_before_a_document_existed_are_left_out(store: SqlAuditStore) -> None:
    """Moving a folder away before the document was created there is not part of its history."""
    record(store, make_plan({"op": "mkdir", "path": "m/a"}), OpRecord(0, "move", "m/old", "m/in"))
    record(store, make_plan({"op": "mkdir", "path": "m/b"}), OpRecord(0, "mkdir", "m/in"))
    record(store, make_plan({"op": "mkdir", "path": "m/c"}), OpRecord(0, "write", "m/in/1.pdf"))
    assert steps(store.history("m/in/1.pdf")) == [("written", None, "m/in/1.pdf")]


def test_history_does_not_mistake_a_sibling_with_a_common_prefix(store: SqlAuditStore) -> None:
    """Moving folder m/acme does not move m/acme-evil/x: containment is by segment."""
    record(store, make_plan({"op": "mkdir", "path": "m/a"}), OpRecord(0, "move", "m/zzz", "m/acme"))
    assert store.history("m/acme-evil/x").items == ()


def test_a_document_replaced_by_a_move_ends_in_the_trash(store: SqlAuditStore) -> None:
    """A move that overwrites a file sends the old one to the trash; its history says so."""
    record(store, make_plan({"op": "mkdir", "path": "m/a"}), OpRecord(0, "write", "m/doc.pdf"))
    replace = OpRecord(
        0, "move", "m/doc.pdf", "m/new.pdf", before=file("m/doc.pdf", "x"), trash=".pva/t/doc.pdf"
    )
    record(store, make_plan({"op": "mkdir", "path": "m/b"}), replace)
    old = store.history("m/doc.pdf")
    assert [item.action for item in old.items] == ["written", "moved"]
    assert old.items[1].trash == ".pva/t/doc.pdf"
    assert steps(store.history("m/new.pdf"))[-1] == ("moved", "m/new.pdf", "m/doc.pdf")


def test_unknown_path_has_empty_history(store: SqlAuditStore) -> None:
    """A path the audit never saw has no items."""
    assert store.history("m/never.pdf").items == ()
