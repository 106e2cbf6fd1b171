"""Deep paths: a valid path of 512 segments is handled without recursion, in every layer.

A path under 1,024 bytes may have 512 segments; each test runs under a
recursion limit far below that depth, so any code that recurses once per
segment fails here instead of in production.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from planner import Entry, Plan, tree_of, verify
from planner.agent.snapshot import scan
from planner.core.paths import MAX_PATH_BYTES, path_problem
from tests.support.plans import make_plan

DEEP = "matters/acme/" + "a/" * 499 + "a"  # 501 segments below matters/acme, 1,011 bytes


@contextmanager
def shallow_stack(headroom: int = 150) -> Iterator[None]:
    """Allow only ``headroom`` frames more than the caller has: far fewer than DEEP's segments."""
    depth = len(traceback.extract_stack())
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(depth + headroom)
    try:
        yield
    finally:
        sys.setrecursionlimit(old)


def _plan(*ops: dict[str, object]) -> Plan:
    return make_plan(*ops, title="deep")


def test_a_deep_path_is_valid_and_checked_without_recursion() -> None:
    """A 501-segment path under the byte limit is valid, and a bad segment deep in it is still found."""
    assert len(DEEP.encode()) < MAX_PATH_BYTES
    with shallow_stack():
        assert path_problem(DEEP) is None
        assert path_problem(DEEP.replace("a/a/a", "a/CON/a", 1)) is not None


def test_verify_of_a_deep_mkdir_copy_move_and_delete_does_not_recurse() -> None:
    """Verify simulates mkdir, copy, move and delete of a 501-level folder and reports its effect."""
    tree = tree_of([Entry("matters/acme", "dir")])
    plan = _plan(
        {"op": "mkdir", "path": DEEP, "parents": True},
        {"op": "write", "path": DEEP + "/x", "content": "x"},
        {"op": "copy", "src": "matters/acme/a", "dst": "matters/acme/b"},
        {"op": "move", "src": "matters/acme/b", "dst": "matters/acme/c"},
        {"op": "delete", "path": "matters/acme/c"},
    )
    with shallow_stack():
        report = verify(plan, tree)
    assert report.ok, report.diagnostics
    assert report.inverse is not None


def test_a_deep_tree_is_walked_and_measured_without_recursion() -> None:
    """Walking a 503-level tree yields every folder, and its deepest path is measured."""
    tree = tree_of([Entry(DEEP, "dir")])
    with shallow_stack():
        entries = list(tree.walk())
        deepest = tree.deepest("matters")
    assert len(entries) == 502
    assert deepest == len(DEEP.encode()) - len("matters/")


def test_a_deep_folder_on_disk_is_scanned_without_recursion(tmp_path: Path) -> None:
    """Scanning a 300-level folder on disk lists every level, parents first."""
    deep = tmp_path.joinpath(*["d"] * 300)
    deep.mkdir(parents=True)
    (deep / "f.txt").write_bytes(b"x")
    with shallow_stack(headroom=100):
        paths = [entry.path for entry in scan(tmp_path)]
    assert len(paths) == 301
    assert paths[-1].endswith("/d/f.txt")
