"""What the pages show: risk flags, ops with preconditions, pages, sizes, audit lines and date windows."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from planner import Entry, PlanBuilder, tree_of, verify
from sidecar.audit.payloads import HoldPlaced, HoldReleased, approval_payload, encode
from sidecar.audit.views import EventView
from sidecar.policy import Decision
from sidecar.risks import flags, size_text
from sidecar.web.trail import BadDate, day_window, event_text
from sidecar.web.views import op_row, page

STORE = tree_of([Entry("m/a.pdf", "file", 3, "a" * 64), Entry("m/b.csv", "file", 4, "b" * 64)])


def test_flags_name_deletes_overwrites_and_the_rule_that_needs_a_person() -> None:
    """A plan that deletes and overwrites is flagged for both, and for the rule that requires approvals."""
    plan = (
        PlanBuilder("Risky", scope=["m"])
        .delete("m/a.pdf")
        .write("m/b.csv", "x", overwrite=True, expect={"sha256": "b" * 64})
        .build()
    )
    decision = Decision(outcome="require_approvals", approvals_needed=2, rule_name="deletes", reason="r")
    found = flags(verify(plan, STORE), decision, len(plan.ops))
    assert [(flag.kind, flag.text) for flag in found] == [
        ("delete", "deletes 1 path (1 file)"),
        ("overwrite", "overwrites 1 file"),
        ("rule", "rule 'deletes' requires 2 approvals"),
    ]


def test_flags_mark_long_plans_and_verification_errors() -> None:
    """A plan of many ops is flagged 'many changes'; one that cannot apply leads with its errors."""
    builder = PlanBuilder("Long", scope=["m"])
    for index in range(120):
        builder.mkdir(f"m/d{index}")
    builder.delete("m/missing.pdf")
    plan = builder.build()
    kinds = [flag.kind for flag in flags(verify(plan, STORE), None, len(plan.ops))]
    assert kinds == ["errors", "many"]


def test_an_op_row_lists_its_preconditions_and_reason() -> None:
    """Each op's expect is written out in words, for its source and its destination."""
    plan = (
        PlanBuilder("Move", scope=["m"])
        .move("m/a.pdf", "m/b.csv", overwrite=True, expect={"size": 3}, expect_dst={"sha256": "b" * 64})
        .delete("m/x", expect={"absent": True}, reason="why not")
        .build()
    )
    move, delete = (op_row(index, op) for index, op in enumerate(plan.ops))
    assert move.target == "m/a.pdf → m/b.csv"
    assert move.overwrite
    assert move.preconditions == ("m/a.pdf has size 3 bytes", f"m/b.csv has sha256 {'b' * 12}…")
    assert delete.preconditions == ("m/x must not exist",)
    assert delete.reason == "why not"


def test_pages_are_clamped_and_say_which_items_they_hold() -> None:
    """Page numbers past the end show the last page; an empty list has one empty page."""
    items = list(range(250))
    last = page(items, 99, 100)
    assert (last.number, last.pages, last.first, last.last, len(last.items)) == (3, 3, 201, 250, 50)
    assert page(items, 0, 100).items[0] == 0
    empty = page(list[int](), 1, 100)
    assert (empty.pages, empty.first, empty.last) == (1, 0, 0)


def test_sizes_read_as_people_write_them() -> None:
    """Byte counts show as bytes under 1 KB and in KB, MB, GB above."""
    assert size_text(None) == ""
    assert size_text(900) == "900 bytes"
    assert size_text(1536) == "1.5 KB"
    assert size_text(5 * 1024**3) == "5.0 GB"


def test_a_day_window_covers_whole_days_in_utc() -> None:
    """'From' starts at midnight UTC, 'to' ends at the next midnight; bad or reversed dates are refused."""
    window = day_window("2026-03-02", "2026-03-02")
    assert window.since == datetime(2026, 3, 2, tzinfo=UTC)
    assert window.until == datetime(2026, 3, 3, tzinfo=UTC)
    assert day_window("", " ").since is None
    with pytest.raises(BadDate):
        day_window("yesterday", "")
    with pytest.raises(BadDate):
        day_window("2026-03-03", "2026-03-02")


def test_an_approval_event_reads_as_who_decided_and_why() -> None:
    """An approval event becomes one line with the approver, the decision, the comment and the new state."""
    event = EventView(
        seq=7,
        time=datetime(2026, 3, 2, tzinfo=UTC),
        kind="approval",
        digest="d" * 64,
        actor="alice",
        payload={"approver": "alice", "decision": "reject", "comment": "wrong folder", "status": "rejected"},
        prev_hash="",
        hash="",
    )
    assert event_text(event) == "alice rejected: “wrong folder” (now rejected)"


def test_an_approval_as_recorded_reads_as_approved() -> None:
    """The approval event the service records (decision "approved") reads "approved", never "rejected"."""
    event = EventView(
        seq=8,
        time=datetime(2026, 3, 2, tzinfo=UTC),
        kind="approval",
        digest="d" * 64,
        actor="alice",
        payload=approval_payload("alice", "approved", "checked", "approved"),
        prev_hash="",
        hash="",
    )
    assert event_text(event) == "alice approved: “checked” (now approved)"


def test_hold_events_read_as_what_they_record() -> None:
    """A 'hold_placed' event names the hold, its paths, matter and reason; 'hold_released' its reason."""
    placed = encode(HoldPlaced("hold_0123456789ab", "Acme v. Doe", "preserve", ("m/inbox",)))
    released = encode(HoldReleased("hold_0123456789ab", "settled"))
    views = [
        EventView(seq, datetime(2026, 3, 2, tzinfo=UTC), kind, None, "lee", payload, "", "")
        for seq, kind, payload in ((1, "hold_placed", placed), (2, "hold_released", released))
    ]
    assert [event_text(view) for view in views] == [
        "legal hold hold_0123456789ab placed on m/inbox for Acme v. Doe: “preserve”",
        "legal hold hold_0123456789ab released: “settled”",
    ]
