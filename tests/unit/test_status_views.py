"""The CLI's human views of a plan's status: what ``pva plans show`` and ``pva approve`` print."""

from __future__ import annotations

from datetime import UTC, datetime

from planner.cli.status_views import headline, status_view
from planner.client.models import PlanStatus

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _status(**changes: object) -> PlanStatus:
    body: dict[str, object] = {
        "id": "a" * 64,
        "title": "Delete a duplicate",
        "state": "pending",
        "author": "agent-7",
        "submitted": T0,
        "updated": T0,
        "approvals_needed": 2,
    }
    return PlanStatus.model_validate(body | changes)


def test_the_count_of_approvals_counts_people_not_approvals() -> None:
    """Two approvals recorded by one person read "1 of 2", never "2 of 2" while the plan still waits."""
    twice = [{"approver": "alice", "time": T0, "comment": "ok", "counts": True}] * 2
    assert headline(_status(approvals=twice)).endswith("pending, waiting for approval (1 of 2)")


def test_the_incidents_of_an_apply_are_printed_escaped() -> None:
    """pva plans show prints each incident recorded while the plan applied, control characters escaped."""
    incident = {"time": "2026-03-02T09:01:00Z", "message": "trash copy was altered\x1b[2J", "paths": ["x"]}
    shown = status_view(_status(state="failed", incidents=[incident]))
    assert "  incident:  2026-03-02T09:01:00Z: trash copy was altered\\x1b[2J" in shown.splitlines()


def test_a_part_and_a_revision_say_where_they_come_from_with_ops_numbered_from_one() -> None:
    """An approved part names its original and the ops left out (from 1); a revision counts its changes."""
    derived = {"original": "b" * 64, "approver": "alice", "without": [2, 6], "time": T0}
    part = headline(_status(state="applied", supersedes="b" * 64, derived=derived))
    assert "the part of plan bbbbbbbbbbbb that alice approved, without ops 3, 7" in part
    changes = [
        {"change": "added", "op": 0, "previous_op": None},
        {"change": "changed", "op": 1, "previous_op": 0, "fields": ["reason"]},
    ]
    revision = headline(_status(supersedes="b" * 64, changes=changes))
    assert "revises plan bbbbbbbbbbbb: 1 op(s) added, 0 removed, 1 changed" in revision
    old = status_view(_status(state="superseded", superseded_by="c" * 64))
    assert f"  superseded: {'c' * 64}" in old.splitlines()
    assert "superseded by another version, nothing changed" in old
