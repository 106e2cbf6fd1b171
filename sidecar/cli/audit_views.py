"""Human views of the audit: plans, a plan's events, a document's history, the chain check."""

from __future__ import annotations

from typing import Any

from planner.cli.text import one_line
from sidecar.audit.chain import iso
from sidecar.audit.views import ChainReport, EventView, History, HistoryItem, PlanDetail, PlanSummary


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
    if not found.items:
        return f"no recorded history for {found.path}"
    lines = [f"history of {found.path}"]
    lines += [_item(item) for item in found.items]
    if found.origins:
        lines.append(f"earliest known name: {', '.join(found.origins)}")
    lines.append(
        f"now at: {', '.join(found.current) if found.current else '(nowhere: deleted or moved to trash)'}"
    )
    return "\n".join(lines)


def _item(item: HistoryItem) -> str:
    if item.name_before is None:
        what = f"{item.action} {item.name_after}"
    elif item.name_after is None:
        what = f"{item.action} {item.name_before}" + (f" (trash: {item.trash})" if item.trash else "")
    elif item.name_before == item.name_after:
        what = f"{item.action} {item.name_after}"
    else:
        what = f"{item.action} {item.name_before} -> {item.name_after}"
    approved = f", approved by {', '.join(item.approvers)}" if item.approvers else ""
    who = f"submitted by {item.author}, applied by {item.actor}{approved}"
    source = f"plan {item.digest[:12]} {item.title!r}"
    return f"  {iso(item.time)[:19]}  seq {item.seq}  {what}\n      {source}: {who}"


def chain(report: ChainReport) -> str:
    if report.broken is None:
        return (
            f"audit chain intact: {report.events} events\n"
            f"head: seq {report.head_seq}, hash {report.head_hash}"
        )
    return f"audit chain broken at {report.broken} (the {report.events} events before it are intact)"
