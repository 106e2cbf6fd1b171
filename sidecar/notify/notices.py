"""What people are told of a plan: the events, the notice each carries, its signature and its words. Pure.

A notice follows a change of a plan's state (``notice_kind``): it names the
plan (id, title, author, state), who moved it and their comment, the effect's
counts and the risks (``sidecar.risks``). It never carries file contents,
paths or tokens. A webhook's body is the notice with its delivery's id; it is
signed with HMAC-SHA256 over ``timestamp.body`` (``signature``), so a
receiver checks both that pva sent it and that it is recent.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, get_args

from planner.core.preview import terminal_safe
from planner.core.report import Report
from planner.core.states import PlanState
from sidecar.policy import Decision
from sidecar.risks import flags

NoticeKind = Literal[
    "plan.pending",
    "plan.approved",
    "plan.rejected",
    "plan.changes_requested",
    "plan.applied",
    "plan.failed",
    "plan.stale",
]
KINDS: tuple[NoticeKind, ...] = get_args(NoticeKind)
VERSION = "event/v1"
SIGNATURE_VERSION = "v1"

# The state a change enters, and the event it is told as; entering any other state tells nobody.
_TOLD: dict[str, NoticeKind] = {
    PlanState.PENDING.value: "plan.pending",
    PlanState.APPROVED.value: "plan.approved",
    PlanState.REJECTED.value: "plan.rejected",
    "changes_requested": "plan.changes_requested",
    PlanState.APPLIED.value: "plan.applied",
    PlanState.FAILED.value: "plan.failed",
    PlanState.STALE.value: "plan.stale",
}


def notice_kind(before: str | None, after: str) -> NoticeKind | None:
    """The event a change from state ``before`` (None: a new plan) to ``after`` is told as; None: not told.

    Only entering a state is news: an approval that leaves a plan pending (one
    of two), or a second author submitting it, tells nobody.
    """
    return None if before == after else _TOLD.get(after)


@dataclass(frozen=True)
class Notice:
    """One event about one plan, as every channel tells it."""

    kind: NoticeKind
    time: datetime
    digest: str
    title: str
    author: str
    state: str
    actor: str  # who moved the plan (``pva`` for the sidecar itself)
    comment: str  # the approver's, for approvals and rejections
    counts: tuple[tuple[str, int], ...]  # ops by kind, those with at least one
    risks: tuple[str, ...]  # sidecar.risks, in words

    def to_json(self) -> dict[str, Any]:
        return {
            "event": self.kind,
            "time": _iso(self.time),
            "plan": {
                "id": self.digest,
                "title": self.title,
                "author": self.author,
                "state": self.state,
                "counts": dict(self.counts),
                "risks": list(self.risks),
            },
            "actor": self.actor,
            "comment": self.comment,
        }

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> Notice:
        plan = body["plan"]
        return cls(
            kind=body["event"],
            time=datetime.fromisoformat(body["time"]),
            digest=plan["id"],
            title=plan["title"],
            author=plan["author"],
            state=plan["state"],
            actor=body["actor"],
            comment=body["comment"],
            counts=tuple((kind, int(n)) for kind, n in plan["counts"].items()),
            risks=tuple(plan["risks"]),
        )


def notice(
    kind: NoticeKind,
    *,
    digest: str,
    time: datetime,
    title: str,
    author: str,
    state: str,
    actor: str,
    comment: str,
    report: Report | None,
    decision: Decision | None,
) -> Notice:
    """The notice of ``kind`` about a plan verified as ``report`` and decided as ``decision``.

    Without a report (none stored that reads as one) it names no counts and no risks.
    """
    counts = () if report is None else tuple((op, n) for op, n in report.effect.counts.items() if n)
    ops = sum(n for _, n in counts)
    risks = () if report is None else tuple(flag.text for flag in flags(report, decision, ops))
    return Notice(
        kind=kind,
        time=time,
        digest=digest,
        title=title,
        author=author,
        state=state,
        actor=actor,
        comment=comment,
        counts=counts,
        risks=risks,
    )


def plan_link(public_url: str | None, digest: str) -> str | None:
    """The plan page's address under ``public_url`` (PVA_PUBLIC_URL); None when it is not set."""
    return None if not public_url else f"{public_url.rstrip('/')}/plans/{digest}"


def webhook_body(notice: Notice, *, event_id: int, delivery: str, link: str | None) -> dict[str, Any]:
    """What a webhook receives: the notice, its event's and delivery's ids, and the plan page's link."""
    body = {"version": VERSION, "id": delivery, "event_id": event_id, **notice.to_json()}
    body["plan"] = body["plan"] | {"url": link}
    return body


def slack_body(notice: Notice, link: str | None) -> dict[str, Any]:
    """A Slack-compatible body: one ``text`` in its mrkdwn (Mattermost and others take it too)."""
    return {"text": text(notice, link)}


def text(notice: Notice, link: str | None) -> str:
    """The notice in a few lines of plain words (a chat message; each plan of a mail)."""
    what = {
        "plan.pending": "waits for approval",
        "plan.approved": f"was approved by {notice.actor}",
        "plan.rejected": f"was rejected by {notice.actor}",
        "plan.changes_requested": f"needs changes, says {notice.actor}",
        "plan.applied": "was applied",
        "plan.failed": "failed to apply; nothing changed",
        "plan.stale": "is stale: the store changed under it",
    }[notice.kind]
    # The title is an agent's text and the comment a person's: each on one line, controls escaped, so
    # neither can add a line (a forged link, an instruction) to what an approver reads.
    lines = [f"Plan {notice.digest[:12]} “{terminal_safe(notice.title)}” by {notice.author} {what}."]
    if notice.counts:
        lines.append("Ops: " + ", ".join(f"{n} {op}" for op, n in notice.counts))
    if notice.risks:
        lines.append("Risks: " + "; ".join(notice.risks))
    if notice.comment:
        lines.append(f"Comment: {terminal_safe(notice.comment)}")
    if link is not None:
        lines.append(link)
    return "\n".join(lines)


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The ``X-Pva-Signature`` of ``body`` sent at ``timestamp``: ``v1=`` and HMAC-SHA256 in hex."""
    signed = str(timestamp).encode("ascii") + b"." + body
    return f"{SIGNATURE_VERSION}=" + hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()


def checked_events(events: Iterable[str]) -> tuple[NoticeKind, ...]:
    """The event kinds named, in their order, once each; ValueError naming one that is not an event."""
    found: list[NoticeKind] = []
    for event in events:
        kind = next((k for k in KINDS if k == event), None)
        if kind is None:
            raise ValueError(f"unknown event {event!r}: {', '.join(KINDS)}")
        if kind not in found:
            found.append(kind)
    return tuple(found) or KINDS


def _iso(time: datetime) -> str:
    return time.isoformat().replace("+00:00", "Z")
