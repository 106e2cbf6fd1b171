"""What the history and audit pages show: who decided a plan, one line per audit event, dates. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from planner.core.errors import PvaError
from sidecar.audit.views import EventView
from sidecar.workflow import PlanCase, State

MAX_QUOTE = 200  # characters of a comment quoted in an event line


class BadDate(PvaError):
    """A date in a search form that is not YYYY-MM-DD (HTTP 422)."""

    exit_code = 2


@dataclass(frozen=True)
class Window:
    """The times an audit search covers: from the start of one day to the end of another (UTC)."""

    since: datetime | None
    until: datetime | None


def day_window(since: str, until: str) -> Window:
    """The window of two form dates (YYYY-MM-DD, either empty), ``until`` included; BadDate if not dates."""
    start, end = _day(since, "from"), _day(until, "to")
    if start is not None and end is not None and end < start:
        raise BadDate(f"the search ends ({end}) before it starts ({start})")
    # The last day of the calendar has no next day: searching to it is searching to the end.
    return Window(
        None if start is None else datetime.combine(start, time(), UTC),
        None if end is None or end == date.max else datetime.combine(end + timedelta(days=1), time(), UTC),
    )


def _day(text: str, which: str) -> date | None:
    text = text.strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise BadDate(f"the '{which}' date {text[:40]!r} is not a date like 2026-03-02") from None


def decided_by(case: PlanCase) -> str:
    """Who decided the plan, in words: the people who approved or rejected it, or the policy."""
    if case.rejection is not None:
        asked = case.state is State.CHANGES_REQUESTED
        return f"{'changes requested' if asked else 'rejected'} by {case.rejection.actor}"
    if case.decision is None:
        return "rejected by verification" if case.state is State.REJECTED else ""
    rule = f"rule '{case.decision.rule_name}'" if case.decision.rule_name else "the default policy"
    if case.decision.outcome == "deny":
        return f"denied by {rule}"
    if case.decision.outcome == "auto_approve":
        return f"approved by {rule}"
    approvers = list(dict.fromkeys(approval.approver for approval in case.approvals))
    return f"approved by {', '.join(approvers)}" if approvers else "awaiting approval"


def event_text(event: EventView) -> str:  # noqa: PLR0911  # one return per event kind
    """One line saying what an audit event records."""
    payload = event.payload
    status = payload.get("status", "")
    match event.kind:
        case "plan_recorded":
            return f"plan recorded: {payload.get('title', '')}"
        case "approval":
            verb = "approved" if payload.get("decision") in ("approve", "approved") else "rejected"
            who, comment = payload.get("approver", event.actor), _quote(payload.get("comment", ""))
            return f"{who} {verb}: “{comment}” (now {status})"
        case "apply":
            ops = len(payload.get("ops", ()))
            message = payload.get("message") or ""
            return f"apply {status}: {ops} op{'s' if ops != 1 else ''}" + (f"; {message}" if message else "")
        case "workflow":
            return f"{str(payload.get('action', '')).replace('_', ' ')} (now {status})"
        case "outside_change":
            moved = f"{payload.get('src')} -> " if payload.get("src") else ""
            return f"{payload.get('change', 'changed')} outside pva: {moved}{payload.get('path', '')}"
        case "hold_placed":
            paths = ", ".join(str(path) for path in payload.get("paths", ()))
            matter, reason = _quote(payload.get("matter", "")), _quote(payload.get("reason", ""))
            return f"legal hold {payload.get('hold', '')} placed on {paths} for {matter}: “{reason}”"
        case "hold_released":
            return f"legal hold {payload.get('hold', '')} released: “{_quote(payload.get('reason', ''))}”"
        case _:
            return str(payload.get("message") or event.kind)


def _quote(text: object) -> str:
    shown = str(text)
    return shown if len(shown) <= MAX_QUOTE else shown[: MAX_QUOTE - 1] + "…"
