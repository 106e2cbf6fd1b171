"""Legal holds in the verifier: every op kind against held files and folders (``on_hold``)."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from planner import Code, Entry, Report, tree_of, verify
from planner.core.holds import Hold
from planner.core.tree import Tree
from tests.support.plans import make_plan

FILE_HOLD = (Hold("hold_000000000001", "m/inbox/1.pdf"),)
FOLDER_HOLD = (Hold("hold_000000000002", "m/inbox"),)
DEEP_HOLD = (Hold("hold_000000000003", "m/inbox/sub/deep.pdf"),)


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def store() -> Tree:
    """An inbox with two documents and a sub-folder, an archive folder beside it."""
    return tree_of(
        [
            Entry("m/inbox/1.pdf", "file", 3, sha("one")),
            Entry("m/inbox/2.pdf", "file", 3, sha("two")),
            Entry("m/inbox/sub/deep.pdf", "file", 4, sha("deep")),
            Entry("m/archive/3.pdf", "file", 5, sha("three")),
        ]
    )


def check(op: dict[str, Any], holds: tuple[Hold, ...]) -> Report:
    return verify(make_plan(op, scope=("m",)), store(), holds=holds)


def held(report: Report) -> list[tuple[int | None, str | None, str | None]]:
    return [(d.op_index, d.field, d.path) for d in report.diagnostics if d.code == Code.ON_HOLD]


OVERWRITE = {"overwrite": True, "expect": {"sha256": sha("one")}}
FORBIDDEN = [
    ({"op": "move", "src": "m/inbox/1.pdf", "dst": "m/archive/1.pdf"}, "src", "m/inbox/1.pdf"),
    ({"op": "rename", "path": "m/inbox/1.pdf", "name": "one.pdf"}, "path", "m/inbox/1.pdf"),
    ({"op": "write", "path": "m/inbox/1.pdf", "content": "new", **OVERWRITE}, "path", "m/inbox/1.pdf"),
    ({"op": "delete", "path": "m/inbox/1.pdf"}, "path", "m/inbox/1.pdf"),
    (
        {"op": "move", "src": "m/archive/3.pdf", "dst": "m/inbox/1.pdf", "overwrite": True,
         "expect_dst": {"sha256": sha("one")}},
        "dst",
        "m/inbox/1.pdf",
    ),
]  # fmt: skip


@pytest.mark.parametrize("holds", [FILE_HOLD, FOLDER_HOLD], ids=["file-held", "folder-held"])
@pytest.mark.parametrize(("op", "field", "path"), FORBIDDEN, ids=["mv", "ren", "write", "del", "onto"])
def test_moving_renaming_overwriting_or_deleting_a_held_file_is_on_hold(
    holds: tuple[Hold, ...], op: dict[str, Any], field: str, path: str
) -> None:
    """Moving, renaming, overwriting or deleting a held file, or one in a held folder, is on_hold."""
    report = check(op, holds)
    assert not report.ok
    assert held(report) == [(0, field, path)]
    assert holds[0].id in report.diagnostics[-1].message


@pytest.mark.parametrize(
    "op",
    [
        {"op": "delete", "path": "m/inbox"},
        {"op": "move", "src": "m/inbox", "dst": "m/archive/inbox"},
        {"op": "rename", "path": "m/inbox", "name": "Inbox-old"},
        {"op": "delete", "path": "m"},
    ],
    ids=["delete", "move", "rename", "delete-ancestor"],
)
@pytest.mark.parametrize("holds", [FOLDER_HOLD, DEEP_HOLD], ids=["folder-held", "inside-held"])
def test_moving_or_deleting_a_folder_that_holds_a_hold_is_on_hold(
    op: dict[str, Any], holds: tuple[Hold, ...]
) -> None:
    """Deleting, moving or renaming a held folder, or a folder with something held inside, is on_hold."""
    report = check(op, holds)
    assert [d.code for d in report.errors] == [Code.ON_HOLD]


@pytest.mark.parametrize(
    "op",
    [
        {"op": "mkdir", "path": "m/inbox/new"},
        {"op": "write", "path": "m/inbox/3.pdf", "content": "three"},
        {"op": "copy", "src": "m/inbox/1.pdf", "dst": "m/archive/1.pdf"},
        {"op": "copy", "src": "m/inbox", "dst": "m/archive/inbox"},
        {"op": "move", "src": "m/archive", "dst": "m/inbox/archive"},
        {"op": "delete", "path": "m/archive/3.pdf"},
    ],
    ids=["mkdir-inside", "write-new-inside", "copy-out", "copy-folder-out", "file-into", "elsewhere"],
)
@pytest.mark.parametrize("holds", [FILE_HOLD, FOLDER_HOLD], ids=["file-held", "folder-held"])
def test_filing_new_things_inside_and_copying_out_are_allowed(
    op: dict[str, Any], holds: tuple[Hold, ...]
) -> None:
    """mkdir and new writes inside a held folder, copies out, moves into it and ops elsewhere verify ok."""
    report = check(op, holds)
    assert report.ok, [str(d) for d in report.diagnostics]


def test_a_hold_matches_every_spelling_of_its_path() -> None:
    """A hold on 'M/Inbox' guards 'm/inbox': paths are compared by collision key."""
    report = check({"op": "delete", "path": "m/inbox/2.pdf"}, (Hold("hold_000000000004", "M/Inbox"),))
    assert held(report) == [(0, "path", "m/inbox/2.pdf")]


def test_a_held_op_is_not_simulated_and_every_one_is_reported() -> None:
    """Each held op is reported, and the store the later ops see keeps what the held op would have moved."""
    plan = make_plan(
        {"op": "delete", "path": "m/inbox/1.pdf"},
        {"op": "move", "src": "m/inbox/2.pdf", "dst": "m/archive/2.pdf"},
        {"op": "copy", "src": "m/inbox/1.pdf", "dst": "m/archive/1.pdf"},
        scope=("m",),
    )
    report = verify(plan, store(), holds=FOLDER_HOLD)
    assert held(report) == [(0, "path", "m/inbox/1.pdf"), (1, "src", "m/inbox/2.pdf")]
    assert [d.code for d in report.errors] == [Code.ON_HOLD, Code.ON_HOLD]  # op 2 still finds its source


def test_the_message_names_the_ops_path_not_the_held_one() -> None:
    """The diagnostic names the op's path and the hold's id, never a held path outside the op (a wall)."""
    report = check({"op": "delete", "path": "m/inbox"}, DEEP_HOLD)
    (diagnostic,) = report.errors
    assert "deep.pdf" not in diagnostic.message
    assert "hold_000000000003" in diagnostic.message


def test_no_holds_change_nothing() -> None:
    """Without holds, the same ops verify as before."""
    assert check({"op": "delete", "path": "m/inbox"}, ()).ok
