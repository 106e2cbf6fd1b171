"""Which change of a plan is told, and how a notice is signed and worded (pure)."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime

import pytest

from sidecar.notify.notices import Notice, checked_events, notice_kind, signature, text

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("before", "after", "told"),
    [
        (None, "pending", "plan.pending"),
        (None, "approved", "plan.approved"),
        (None, "rejected", "plan.rejected"),
        ("pending", "pending", None),  # one approval of two, or a second author
        ("pending", "approved", "plan.approved"),
        ("approved", "pending", "plan.pending"),  # approvals lapsed: approvers are needed again
        ("pending", "changes_requested", "plan.changes_requested"),
        ("approved", "applying", None),
        ("applying", "applied", "plan.applied"),
        ("applying", "failed", "plan.failed"),
        ("applying", "stale", "plan.stale"),
        ("applied", "reverted", None),
    ],
)
def test_only_entering_a_told_state_is_news(before: str | None, after: str, told: str | None) -> None:
    """A change is told as the state it enters; staying put, applying and reverted tell nobody."""
    assert notice_kind(before, after) == told


def test_the_signature_is_hmac_sha256_of_the_timestamp_a_dot_and_the_body() -> None:
    """v1= and the hex HMAC-SHA256 under the secret of b'<timestamp>.<body>'."""
    expected = hmac.new(b"whsec_k", b"1700000000.{}", hashlib.sha256).hexdigest()
    assert signature("whsec_k", 1700000000, b"{}") == f"v1={expected}"
    assert signature("whsec_k", 1700000001, b"{}") != f"v1={expected}"


def test_a_request_for_changes_reads_with_its_actor_and_comment() -> None:
    """The words name the plan, who asked for changes and why, the ops and the link."""
    told = Notice(
        "plan.changes_requested",
        T0,
        "ab" * 32,
        "File it",
        "bot",
        "changes_requested",
        "alice",
        "split it",
        (("move", 2),),
        (),
    )
    assert text(told, "https://pva.example/plans/x") == (
        f"Plan {'ab' * 6} “File it” by bot needs changes, says alice.\n"
        "Ops: 2 move\nComment: split it\nhttps://pva.example/plans/x"
    )
    assert Notice.from_json(told.to_json()) == told


def test_events_named_are_checked_and_none_means_all() -> None:
    """Unknown event kinds are refused; no kind given is every kind."""
    assert checked_events(["plan.failed", "plan.failed"]) == ("plan.failed",)
    assert len(checked_events([])) == 7
    with pytest.raises(ValueError, match="unknown event"):
        checked_events(["plan.deleted"])
