"""The persistent tree: sharing, isolation between forks, and O(1) folder moves."""

from __future__ import annotations

import pytest

from planner import Entry, tree_of
from planner.core.entry import Blob
from planner.core.errors import AlreadyExists, IsADirectory, NotADirectory, NotFound, TreeError
from planner.core.tree import Dir, Tree


def big_folder(files: int) -> Tree:
    entries = [Entry(f"a/big/f{i}", "file", i) for i in range(files)]
    return tree_of([*entries, Entry("a/one.txt", "file", 1), Entry("b", "dir")])


def test_fork_isolates_changes_both_ways() -> None:
    """Changes to a fork are invisible to the original and changes to the original to the fork."""
    original = tree_of([Entry("a/x", "file", 1)])
    fork = original.fork()
    fork.put_file("a/y", 2, None)
    original.put_file("a/z", 3, None)
    assert fork.stat("a/z") is None
    assert original.stat("a/y") is None
    assert fork.stat("a/y") is not None
    assert original.stat("a/z") is not None


def test_moving_a_folder_moves_its_node_without_copying_it() -> None:
    """A folder move re-attaches the same node: nothing below it is copied."""
    tree = big_folder(10_000)
    node = tree._node("a/big")
    tree.move("a/big", "b/big")
    assert tree._node("b/big") is node
    assert tree.stat("b/big/f9999") == Entry("b/big/f9999", "file", 9999)


def test_fork_then_move_copies_only_the_parents() -> None:
    """After a fork, a folder move copies the two parents it changes, never the moved folder."""
    tree = big_folder(1000)
    fork = tree.fork()
    moved = fork._node("a/big")
    fork.move("a/big", "b/big")
    assert fork._node("b/big") is moved
    assert isinstance(moved, Dir)
    assert len(moved.children) == 1000
    assert tree.stat("a/big/f0") is not None


def test_changes_inside_a_moved_shared_folder_do_not_leak() -> None:
    """Writing into a folder shared with another tree copies it first (copy on write)."""
    tree = big_folder(3)
    fork = tree.fork()
    fork.move("a/big", "b/big")
    fork.put_file("b/big/new", 1, None)
    assert tree.stat("a/big/new") is None
    assert fork.stat("b/big/new") is not None


def test_copied_folder_is_independent_of_its_source() -> None:
    """After copying a folder, a change under one copy does not appear under the other."""
    tree = big_folder(3)
    tree.copy("a/big", "b/big")
    tree.put_file("a/big/only-here", 1, None)
    tree.delete("b/big/f0")
    assert tree.stat("b/big/only-here") is None
    assert tree.stat("a/big/f0") is not None


def test_cached_folder_lookup_follows_moves_and_deletes() -> None:
    """Folder lookups stay right after the folder is moved, deleted and re-created."""
    tree = big_folder(2)
    assert tree.stat("a/big/f1") is not None
    tree.move("a/big", "b/big")
    assert tree.stat("a/big/f1") is None
    tree.make_dir("a/big")
    assert tree.stat("a/big/f1") is None
    tree.delete("b/big")
    assert tree.stat("b/big/f1") is None
    tree.put_file("a/big/f1", 5, None)
    assert tree.stat("a/big/f1") == Entry("a/big/f1", "file", 5)


def test_create_only_operations_refuse_to_replace() -> None:
    """make_dir, put_file and move refuse an existing target unless replace is given."""
    tree = tree_of([Entry("a/x", "file", 1), Entry("a/y", "file", 2), Entry("a/d", "dir")])
    with pytest.raises(AlreadyExists):
        tree.make_dir("a/x")
    with pytest.raises(AlreadyExists):
        tree.put_file("a/x", 1, None)
    with pytest.raises(AlreadyExists):
        tree.move("a/x", "a/y")
    with pytest.raises(IsADirectory):
        tree.move("a/x", "a/d", replace=True)
    tree.move("a/x", "a/y", replace=True)
    assert tree.stat("a/y") == Entry("a/y", "file", 1)


def test_impossible_operations_raise_tree_errors() -> None:
    """Missing parents, files used as folders and moves into oneself raise TreeError kinds."""
    tree = tree_of([Entry("a/x", "file", 1)])
    with pytest.raises(NotFound):
        tree.make_dir("nope/d")
    with pytest.raises(NotADirectory):
        tree.make_dir("a/x/d")
    with pytest.raises(NotFound):
        tree.move("a/missing", "a/m")
    with pytest.raises(TreeError):
        tree.move("a", "a/inside")
    with pytest.raises(TreeError):
        tree.copy("a", "a/inside")


def test_collision_finds_case_and_normalisation_variants() -> None:
    """collision() names an existing sibling that folds to the same name, and only that."""
    tree = tree_of([Entry("d/Report.pdf", "file", 1), Entry("d/cafe\u0301", "file", 1)])
    assert tree.collision("d/report.PDF") == "d/Report.pdf"
    assert tree.collision("d/caf\u00e9") == "d/cafe\u0301"
    assert tree.collision("d/Report.pdf") is None
    assert tree.collision("d/other") is None


def test_collision_index_follows_changes() -> None:
    """The case index of a folder is kept up to date as names come and go."""
    tree = tree_of([Entry("d/A", "file", 1)])
    assert tree.collision("d/a") == "d/A"
    tree.delete("d/A")
    assert tree.collision("d/a") is None
    tree.write_file("d/B", Blob("0" * 64, 1))
    assert tree.collision("d/b") == "d/B"


def test_walk_lists_parents_first_in_sorted_order() -> None:
    """walk() yields every entry once, parents before children, names sorted."""
    tree = tree_of([Entry("b/z", "file", 1), Entry("a", "dir"), Entry("b/a/c", "file", 2)])
    assert [e.path for e in tree.walk()] == ["a", "b", "b/a", "b/a/c", "b/z"]
    assert [e.path for e in tree.walk("b/a")] == ["b/a", "b/a/c"]
    assert len(tree) == 5
