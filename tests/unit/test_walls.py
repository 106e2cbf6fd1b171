"""The ethical wall's rule (sidecar.walls), alone: which plans, events and history items a reader sees."""

from __future__ import annotations

from datetime import UTC, datetime

from sidecar.audit.views import EventView, History, HistoryItem
from sidecar.tokens import Principal, Role
from sidecar.walls import HoldSight, hold_sight, sees_event, sees_plan, walled_history

T = datetime(2026, 3, 2, tzinfo=UTC)
ACME_APPROVER = Principal("tok_1", "ann", Role.APPROVER, ("matters/acme",))
ACME_AGENT = Principal("tok_2", "bot", Role.AGENT, ("matters/acme",))
WHOLE_AUDITOR = Principal("tok_3", "aud", Role.AUDITOR, ("*",))


def _event(digest: str | None) -> EventView:
    return EventView(1, T, "apply", digest, "x", {}, "0" * 64, "1" * 64)


def _item(digest: str) -> HistoryItem:
    return HistoryItem(
        1, 0, T, "moved", "a", "b", "move", 0, "b", "a", None, None, None, digest, "title", "author", "actor"
    )


def test_a_plan_is_seen_only_when_every_path_is_inside_the_scope_segment_by_segment() -> None:
    """One path outside the scope hides the plan, and a sibling spelled like the scope is outside it."""
    assert sees_plan(ACME_APPROVER, authors=("bot",), paths=("matters/acme/a", "matters/acme/b"))
    assert not sees_plan(ACME_APPROVER, authors=("bot",), paths=("matters/acme/a", "matters/beta/b"))
    assert not sees_plan(ACME_APPROVER, authors=("bot",), paths=("matters/acme-evil/a",))


def test_an_agent_sees_only_the_plans_it_submitted() -> None:
    """An agent sees a plan in its scope only if it is among the plan's authors."""
    assert sees_plan(ACME_AGENT, authors=("other", "bot"), paths=("matters/acme/a",))
    assert not sees_plan(ACME_AGENT, authors=("other",), paths=("matters/acme/a",))


def test_events_without_a_plan_are_for_whole_store_readers() -> None:
    """An event naming no plan (a token's, an incident's) shows to whole-store readers only."""
    assert not sees_event(ACME_APPROVER, _event(None), lambda _: True)
    assert sees_event(WHOLE_AUDITOR, _event(None), lambda _: False)
    assert sees_event(ACME_APPROVER, _event("d1"), lambda digest: digest == "d1")
    assert not sees_event(ACME_APPROVER, _event("d2"), lambda digest: digest == "d1")


def test_a_history_keeps_only_visible_plans_and_names_in_scope() -> None:
    """Items of hidden plans and origins or current names outside the scope are left out."""
    history = History(
        "matters/acme/x",
        (_item("seen"), _item("hidden")),
        origins=("matters/beta/x",),
        current=("matters/acme/x",),
    )
    walled = walled_history(ACME_APPROVER, history, lambda digest: digest == "seen")
    assert [item.digest for item in walled.items] == ["seen"]
    assert walled.origins == ()
    assert walled.current == ("matters/acme/x",)


def test_a_hold_is_seen_whole_redacted_or_not_at_all() -> None:
    """Whole inside the scope; redacted to the in-scope part when it reaches in; absent when it does not."""
    assert hold_sight(ACME_AGENT, ["matters/acme/inbox"]) == HoldSight(("matters/acme/inbox",), whole=True)
    mixed = hold_sight(ACME_AGENT, ["matters/acme/inbox", "matters/beta"])
    assert mixed == HoldSight(("matters/acme/inbox",), whole=False)
    assert hold_sight(ACME_AGENT, ["matters"]) == HoldSight(("matters/acme",), whole=False)
    assert hold_sight(ACME_AGENT, ["matters/acme-evil"]) is None
    assert hold_sight(WHOLE_AUDITOR, ["matters/beta"]) == HoldSight(("matters/beta",), whole=True)
