"""Versions of a plan, pure: the part a person approves, the difference between versions, the links."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from planner.core.plan import Plan
from planner.core.report import Code, Diagnostic
from planner.core.revision import BadSelection, diff_ops, matches, subset
from sidecar.service.codec import case_from, case_json
from sidecar.workflow import Derivation, PlanCase, State

T0 = datetime(2026, 12, 5, 1, 0, tzinfo=UTC)


def _plan(*ops: dict[str, Any]) -> Plan:
    return Plan.model_validate({"pva": "plan/v1", "title": "T", "scope": ["m"], "ops": list(ops)})


MKDIR = {"op": "mkdir", "path": "m/a"}
MOVE = {"op": "move", "src": "m/x.pdf", "dst": "m/a/x.pdf", "reason": "From: Alice"}
DELETE = {"op": "delete", "path": "m/notes.txt"}


def test_a_subset_keeps_the_other_ops_in_order_and_maps_diagnostics_back() -> None:
    """Without op 1 (0-based), the part has ops 0 and 2; a diagnostic of its op 1 is the original's op 2."""
    part = subset(_plan(MKDIR, MOVE, DELETE), [1])
    assert [op.op for op in part.plan.ops] == ["mkdir", "delete"]
    assert (part.kept, part.without) == ((0, 2), (1,))
    assert (part.plan.title, part.plan.scope) == ("T", ["m"])
    found = Diagnostic(code=Code.NOT_FOUND, op_index=1, path="m/notes.txt", message="gone")
    assert part.original(found).op_index == 2


@pytest.mark.parametrize(("without", "words"), [([], "no op"), ([0, 1, 2], "every op"), ([3], "no op 4")])
def test_a_selection_that_is_not_a_smaller_plan_is_refused(without: list[int], words: str) -> None:
    """Leaving out nothing, everything, or an op the plan lacks (named from 1) is BadSelection."""
    with pytest.raises(BadSelection, match=words):
        subset(_plan(MKDIR, MOVE, DELETE), without)


def test_the_difference_matches_ops_by_kind_and_paths() -> None:
    """A reworded move is changed (its reason), a new write added, the dropped delete removed."""
    write = {"op": "write", "path": "m/a/index.csv", "content": "x"}
    changes = diff_ops(_plan(MKDIR, MOVE, DELETE).ops, _plan(MKDIR, {**MOVE, "reason": "Alice"}, write).ops)
    assert [c.to_json() for c in changes] == [
        {"change": "changed", "op": 1, "previous_op": 1, "fields": ["reason"]},
        {"change": "added", "op": 2, "previous_op": None, "fields": []},
        {"change": "removed", "op": None, "previous_op": 2, "fields": []},
    ]


def test_repeated_ops_match_in_order_and_a_moved_op_is_a_change_of_position() -> None:
    """Two deletes of one path match first to first; an op moved among the others changed its position."""
    assert matches(_plan(DELETE, MKDIR, DELETE).ops, _plan(MKDIR, DELETE, DELETE).ops) == {0: 1, 1: 0, 2: 2}
    moved = diff_ops(_plan(MKDIR, MOVE, DELETE).ops, _plan(MOVE, DELETE, MKDIR).ops)
    assert [c.to_json() for c in moved] == [
        {"change": "changed", "op": 2, "previous_op": 0, "fields": ["position"]}  # the mkdir went last
    ]


def _case(**links: Any) -> PlanCase:
    return PlanCase(
        digest="a" * 64,
        state=State.SUPERSEDED,
        authors=("agent",),
        paths=("m",),
        fingerprint="f" * 64,
        decision=None,
        submitted=T0,
        **links,
    )


def test_the_codec_keeps_the_links_and_reads_cases_stored_before_them() -> None:
    """supersedes, superseded_by and derived round-trip; JSON without them (an old row) reads as None."""
    linked = _case(
        supersedes="b" * 64, superseded_by="c" * 64, derived=Derivation("d" * 64, "alice", (2, 6), T0)
    )
    assert case_from(case_json(linked)) == linked
    plain = _case()
    body = case_json(plain)
    assert not {"supersedes", "superseded_by", "derived"} & body.keys()  # old rows keep their bytes
    assert case_from(body) == plain
