"""The before and after trees of a plan, and what each row is marked with."""

from __future__ import annotations

from planner import Entry, PlanBuilder, simulate, tree_of
from planner.core.tree import Tree
from planner.core.treeview import TreeRow, Trees, changed_only, trees

STORE = [
    Entry("m/inbox/0001.pdf", "file", 3, "a" * 64),
    Entry("m/inbox/Thumbs.db", "file", 4, "b" * 64),
    Entry("m/index.csv", "file", 5, "c" * 64),
    Entry("m/old/a.txt", "file", 1, "d" * 64),
    Entry("m/tmp/x.txt", "file", 1, "e" * 64),
]


def _trees(builder: PlanBuilder) -> Trees:
    store: Tree = tree_of(STORE)
    simulation = simulate(builder.build(), store)
    assert simulation.report.ok, simulation.report.diagnostics
    return trees(store, simulation.changes, simulation.report.effect)


def _row(rows: tuple[TreeRow, ...], path: str) -> TreeRow:
    return next(row for row in rows if row.path == path)


def _labels(row: TreeRow) -> list[tuple[str, str]]:
    return [(mark.label, mark.detail) for mark in row.marks]


def test_a_moved_then_renamed_file_shows_at_both_places_as_one_move() -> None:
    """A move then a rename marks the old place 'moves to' the final name, the final place 'moved from'."""
    shown = _trees(
        PlanBuilder("File", scope=["m"])
        .mkdir("m/alice")
        .move("m/inbox/0001.pdf", "m/alice/0001.pdf")
        .rename("m/alice/0001.pdf", "0001 Email.pdf")
    )
    assert _labels(_row(shown.before, "m/inbox/0001.pdf")) == [("moves", "to m/alice/0001 Email.pdf")]
    assert _labels(_row(shown.after, "m/alice/0001 Email.pdf")) == [("moved", "from m/inbox/0001.pdf")]
    assert _labels(_row(shown.after, "m/alice")) == [("new", "")]
    assert not any(row.path == "m/inbox/0001.pdf" for row in shown.after)


def test_a_rename_in_place_says_renamed_with_the_names() -> None:
    """A rename within one folder is marked 'renamed' with the old and new names."""
    shown = _trees(PlanBuilder("Rename", scope=["m"]).rename("m/index.csv", "index-2026.csv"))
    assert _labels(_row(shown.before, "m/index.csv")) == [("renamed", "to index-2026.csv")]
    assert _labels(_row(shown.after, "m/index-2026.csv")) == [("renamed", "from index.csv")]


def test_overwrites_deletes_and_copies_are_marked_on_the_right_side() -> None:
    """Overwrites are 'replaced' then 'new content', deletes go 'to trash', copies are new from a source."""
    shown = _trees(
        PlanBuilder("Mixed", scope=["m"])
        .write("m/index.csv", "new", overwrite=True, expect={"sha256": "c" * 64})
        .delete("m/inbox/Thumbs.db")
        .copy("m/old/a.txt", "m/a-copy.txt")
    )
    assert _labels(_row(shown.before, "m/index.csv"))[0][0] == "replaced"
    assert _labels(_row(shown.after, "m/index.csv"))[0][0] == "new content"
    assert _labels(_row(shown.before, "m/inbox/Thumbs.db"))[0][0] == "to trash"
    assert _labels(_row(shown.after, "m/a-copy.txt")) == [("new", "copy of m/old/a.txt")]
    assert _labels(_row(shown.before, "m/old/a.txt")) == [("copied", "to m/a-copy.txt")]


def test_what_a_marked_folder_holds_says_it_goes_with_the_folder() -> None:
    """Files inside a trashed or moved folder carry no mark of their own but say they go with it."""
    shown = _trees(PlanBuilder("Folders", scope=["m"]).delete("m/tmp").move("m/old", "m/archive"))
    assert _row(shown.before, "m/tmp/x.txt").within == "goes to trash with its folder"
    assert _row(shown.before, "m/old/a.txt").within == "moves with its folder"
    assert _row(shown.after, "m/archive/a.txt").within == "moved with its folder"
    assert _row(shown.before, "m/index.csv").within == ""


def test_changed_only_keeps_marked_rows_and_the_folders_above_them() -> None:
    """The 'only what changes' view keeps every marked row and its ancestors, and drops the rest."""
    shown = _trees(PlanBuilder("Trash", scope=["m"]).delete("m/inbox/Thumbs.db"))
    kept = [row.path for row in changed_only(shown.before)]
    assert kept == ["m", "m/inbox", "m/inbox/Thumbs.db"]
