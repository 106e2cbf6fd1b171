"""The footprint's origins: where pinned content is in the store before the plan moved it."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from planner import Entry, Plan, tree_of
from planner.core.footprint import Arrivals, Read, TreeSource, footprint, read
from planner.core.paths import contains, rebase

NAMES = st.sampled_from(["a", "b", "c", "a/b", "b/c", "a/b/c", "c/a", "x", "x/y"])


def linear_origin(path: str, arrivals: list[tuple[str, str]]) -> str:
    """The definition: back through every arrival, latest first, across each that holds the path."""
    for dst, src in reversed(arrivals):
        if contains(dst, path):
            path = rebase(path, dst, src)
    return path


@given(st.lists(st.tuples(NAMES, NAMES), max_size=12), NAMES)
def test_origin_agrees_with_going_back_through_every_arrival(moves: list[tuple[str, str]], path: str) -> None:
    """The indexed origin is the origin a scan of every earlier arrival finds, for any order of moves."""
    arrivals = Arrivals()
    for dst, src in moves:
        arrivals.add(dst, src)
    assert arrivals.origin(path) == linear_origin(path, moves)


def test_a_moved_folder_and_a_file_inside_it_lead_back_to_the_first_place() -> None:
    """A file moved into a folder that then moved is read at the place it started from."""
    arrivals = Arrivals()
    arrivals.add("m/filed/1.pdf", "m/inbox/1.pdf")
    arrivals.add("archive/filed", "m/filed")
    assert arrivals.origin("archive/filed/1.pdf") == "m/inbox/1.pdf"
    assert arrivals.origin("archive/other.pdf") == "archive/other.pdf"


def test_a_plan_of_many_pinned_moves_reads_each_file_where_it_is() -> None:
    """10,000 pinned moves then a delete of one moved file: the delete's hashed read is at its origin."""
    ops: list[dict[str, object]] = [{"op": "mkdir", "path": "m/done"}]
    ops += [
        {"op": "move", "src": f"m/in/{i}", "dst": f"m/done/{i}", "expect": {"sha256": "ab" * 32}}
        for i in range(10_000)
    ]
    ops.append({"op": "delete", "path": "m/done/7"})
    plan = Plan.model_validate({"pva": "plan/v1", "title": "t", "scope": ["m"], "ops": ops})
    reads = {read.path: read for read in footprint(plan)}
    assert reads["m/in/7"] == Read("m/in/7", tree=True, hashed=True)
    assert reads["m/done/7"].hashed


def test_a_read_without_identity_hashes_only_what_it_is_asked_to() -> None:
    """A named file gets its sha256 by default (approvals bind to it); unidentified, only when hashed."""
    tree = tree_of([Entry("m", "dir"), Entry("m/a", "file", 1, "ab" * 32)])
    source = TreeSource(tree)
    assert read(source, [Read("m/a")]).stat("m/a") == Entry("m/a", "file", 1, "ab" * 32)
    assert read(source, [Read("m/a", identified=False)]).stat("m/a") == Entry("m/a", "file", 1)
    hashed = read(source, [Read("m/a", hashed=True, identified=False)]).stat("m/a")
    assert hashed == Entry("m/a", "file", 1, "ab" * 32)
