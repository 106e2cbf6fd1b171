"""Human views of the audit: plans, a plan's events, a document's history, the chain check."""

from __future__ import annotations

from typing import Any

from planner.cli.status_views import history_view
from planner.cli.text import one_line
from sidecar.audit.chain import iso
from sidecar.audit.views import ChainReport, EventView, History, PlanDetail, PlanSummary


def plans(found: list[PlanSummary]) -> str:
    if not found:
        return "no plans"
    lines = [f"{'created':20}  {'status':8}  {'author':16}  {'digest':12}  title"]
    lines += [
        f"{iso(p.created)[:19]:20}  {p.status:8}  {one_line(p.author[:16]):16}  {p.digest[:12]}  "
        + one_line(p.title)
        for p in found
    ]
    return "\n".join(lines)


def plan(detail: PlanDetail) -> str:
    p = detail.plan
    lines = [
        f"plan {p.digest}",
        f"  title:   {one_line(p.title)}",
        f"  author:  {one_line(p.author)}",
        f"  status:  {p.status}",
        f"  created: {iso(p.created)}",
        f"  scope:   {one_line(', '.join(detail.body.get('scope', [])))}",
        f"  ops:     {len(detail.body.get('ops', []))}",
        "events:",
    ]
    lines += [f"  {_event(event)}" for event in detail.events]
    if detail.approvals:
        lines.append("approvals:")
        lines += [
            f"  {iso(a.time)}  {a.decision} by {one_line(a.approver)}: {one_line(a.comment)}"
            for a in detail.approvals
        ]
    return "\n".join(lines)


def _event(event: EventView) -> str:
    summary = one_line(_summary(event.payload))
    return f"seq {event.seq}  {iso(event.time)}  {event.kind:13}  by {one_line(event.actor)}  {summary}"


def _summary(payload: dict[str, Any]) -> str:
    if "ops" in payload:
        recovered = ", settled by recovery" if payload.get("recovered") else ""
        return (
            f"{payload['status']}: {len(payload['ops'])} ops{recovered} {payload.get('message', '')}".rstrip()
        )
    if "message" in payload:
        return str(payload["message"])
    return str(payload.get("status", ""))


def history(found: History) -> str:
    """The history as ``pva audit history --server`` shows it: one view of a document's custody."""
    return history_view(found.to_json())


def chain(report: ChainReport) -> str:
    if report.broken is None:
        return (
            f"audit chain intact: {report.events} events\n"
            f"head: seq {report.head_seq}, hash {report.head_hash}"
        )
    return f"audit chain broken at {report.broken} (the {report.events} events before it are intact)"
