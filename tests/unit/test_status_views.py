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
