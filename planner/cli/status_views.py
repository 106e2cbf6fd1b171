"""Human views of what the sidecar says: a plan's status, a list of plans, audit events, a history."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from planner.cli.text import one_line
from planner.cli.views import render_report
from planner.client.http_client import plan_of
from planner.client.models import Need, PlanStatus, PlanSummary
from planner.core.preview import preview_from_json, terminal_safe
from planner.core.states import PlanState
from planner.core.treeview import TreeRow, changed_only, trees_from

_SAYS = {
    PlanState.PENDING: "pending, waiting for approval",
    PlanState.APPROVED: "approved, to be applied",
    PlanState.APPLYING: "applying",
    PlanState.APPLIED: "applied",
    PlanState.REJECTED: "rejected, nothing changed",
    PlanState.FAILED: "failed, nothing changed",
    PlanState.STALE: "stale (the store changed under it), nothing changed",
    PlanState.REVERTED: "applied, then reverted",
    PlanState.CHANGES_REQUESTED: "changes requested, nothing changed",
    PlanState.SUPERSEDED: "superseded by another version, nothing changed",
}


def utc(moment: datetime) -> str:
    """ISO 8601 in UTC with a Z, to the second."""
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="seconds") + "Z"  # year 1: "0001"


def headline(status: PlanStatus) -> str:
    """``Plan 'title' (digest12): pending, waiting for approval (0 of 1)``, then why if it was refused."""
    lines = [f"Plan {status.title!r} ({status.id[:12]}): {_where(status)}"]
    if status.rejection is not None:
        asked = status.state is PlanState.CHANGES_REQUESTED
        verb = "changes requested by" if asked else "rejected by"
        lines.append(f"  {verb} {status.rejection.actor}: {status.rejection.comment}")
        lines.extend(f"    op {c.op + 1}: {c.comment}" for c in status.rejection.ops)  # people count from 1
    elif status.state is PlanState.REJECTED and status.decision is not None and not status.errors:
        lines.append(f"  by policy: {status.decision.reason}")
    lines += versions_lines(status)
    lines.extend(f"  {d}" for d in status.diagnostics)
    return "\n".join(lines)


def versions_lines(status: PlanStatus) -> list[str]:
    """The plan's other versions in words: what it replaced or what replaced it (ops numbered from 1)."""
    lines = []
    if status.derived is not None:
        left_out = ", ".join(str(index + 1) for index in status.derived.without)
        lines.append(
            f"  the part of plan {status.derived.original[:12]} that {status.derived.approver} approved, "
            f"without op{'s' if len(status.derived.without) > 1 else ''} {left_out}"
        )
    elif status.supersedes is not None:
        counts = {kind: sum(c.change == kind for c in status.changes or ()) for kind in ("added", "removed")}
        changed = sum(c.change == "changed" for c in status.changes or ())
        lines.append(
            f"  revises plan {status.supersedes[:12]}: {counts['added']} op(s) added, "
            f"{counts['removed']} removed, {changed} changed"
        )
    if status.superseded_by is not None:
        lines.append(f"  superseded by plan {status.superseded_by[:12]}")
    return lines


def _where(status: PlanStatus) -> str:
    where = _SAYS[status.state]
    if status.state is PlanState.PENDING:
        counted = len({a.approver for a in status.approvals if a.counts})  # people, not approvals
        where += f" ({counted} of {status.approvals_needed})"
    return where


def status_view(status: PlanStatus) -> str:
    """Everything ``pva plans show`` says: where the plan stands, who decided, and its report."""
    lines = [
        f"plan {status.id}",
        f"  title:     {one_line(status.title)}",
        f"  state:     {_where(status)}",
        f"  author:    {', '.join(status.authors) or status.author}",
        f"  submitted: {utc(status.submitted)}",
        f"  updated:   {utc(status.updated)}",
    ]
    if status.progress is not None:
        lines.append(f"  progress:  {status.progress}")
    if status.decision is not None:
        rule = f"rule {status.decision.rule_name!r}" if status.decision.rule_name else "default"
        outcome = status.decision.outcome.replace("_", " ")  # require_approvals: words, not a code
        lines.append(f"  policy:    {outcome} ({rule}): {status.decision.reason}")
        lines += [f"  advice:    {advice} (decides nothing)" for advice in status.decision.advice]
        if status.decision.overridable:
            lines.append("  override:  an admin may override this rule: pva approve ID --override -m REASON")
    lines += [f"  needs:     {need_words(need)}" for need in status.needs]
    lines += [
        f"  approval:  {a.approver}{_groups(a.groups)} at {utc(a.time)}"
        f"{'' if a.counts else ' (no longer counts)'}: {one_line(a.comment)}"
        for a in status.approvals
    ]
    if status.rejection is not None:
        lines.append(
            f"  rejected:  by {status.rejection.actor} at {utc(status.rejection.time)}: "
            f"{one_line(status.rejection.comment)}"
        )
    lines += [f"  incident:  {i['time']}: {one_line(i['message'])}" for i in status.incidents or ()]
    for label, other in (
        ("revert of", status.revert_of),
        ("inverse", status.inverse_id),
        ("supersedes", status.supersedes),
        ("superseded", status.superseded_by),
    ):
        if other:
            lines.append(f"  {label + ':':10} {other}")
    plan = plan_of(status)
    if plan is not None and status.report is not None:
        contents = {p.index: p for p in map(preview_from_json, status.contents or ())}
        lines += ["", render_report(plan, status.report, limit=None, reasons=True, contents=contents)]
        if status.trees is not None:
            lines += trees_view(status.trees)
    else:
        lines.extend(f"  {d}" for d in status.diagnostics)
    # Titles and comments are an agent's or a person's text, names the store's: each went through
    # one_line above (a newline in one forges no line). Every line escaped once more besides.
    return "\n".join(terminal_safe(line) for line in "\n".join(lines).split("\n"))


def need_words(need: Need) -> str:
    """``1 more of records for ops 2, 3``: ops numbered from 1, as people see them."""
    where = "the plan" if need.ops is None else "ops " + ", ".join(str(op + 1) for op in need.ops)
    return f"{need.more} more of {need.group} for {where}"


def _groups(groups: list[str]) -> str:
    return f" ({', '.join(groups)})" if groups else ""


def trees_view(body: dict[str, Any]) -> list[str]:
    """The before and after trees the approval page shows, only the rows that change and their folders."""
    shown = trees_from(body)
    lines: list[str] = []
    for label, rows in (("Before", shown.before), ("After", shown.after)):
        changed = changed_only(rows)
        lines += ["", f"{label} (only what changes):"]
        lines += [_tree_line(row) for row in changed] or ["  nothing"]
    return lines


def _tree_line(row: TreeRow) -> str:
    """``    0001.pdf  [MOVES to matters/acme/alice/0001.pdf]``: indented by depth, marks in words."""
    name = one_line(row.name) + ("/" if row.is_dir else "")  # a store's name, any name
    marks = [f"[{m.label.upper()}{' ' + one_line(m.detail) if m.detail else ''}]" for m in row.marks]
    if not marks and row.within:
        marks = [f"({one_line(row.within)})"]
    return "  " + "  " * row.depth + "  ".join([name, *marks])


def summaries_view(plans: list[PlanSummary]) -> str:
    if not plans:
        return "no plans"
    lines = [f"{'submitted':20}  {'state':8}  {'author':16}  {'id':12}  title"]
    lines += [
        f"{utc(p.submitted):20}  {p.state:8}  {p.author[:16]:16}  {p.id[:12]}  {one_line(p.title)}"
        for p in plans
    ]
    return "\n".join(lines)


def events_view(events: list[dict[str, Any]]) -> str:
    if not events:
        return "no events"
    lines = []
    for event in events:
        digest = (event.get("digest") or "")[:12]
        payload = event.get("payload") or {}
        action = payload.get("action") or payload.get("decision")
        status = str(payload.get("status", ""))
        summary = f"{action} -> {status}" if action else status
        lines.append(
            f"seq {event['seq']}  {event['time'][:19]}  {event['kind']:13}  {digest:12}  "
            f"by {event['actor']}  {summary}".rstrip()
        )
    return "\n".join(lines)


def history_view(history: dict[str, Any]) -> str:
    """A document's chain of custody (history/v1), as ``pva audit history`` shows it, local or remote.

    Each name goes through one_line: names are the store's (a folder moved
    carries every name below it), and a newline in one forges no line.
    """
    if not history.get("items"):
        return f"no recorded history for {one_line(history.get('path'))}"
    lines = [f"history of {one_line(history['path'])}"]
    lines += [_item(item) for item in history["items"]]
    if history.get("origins"):
        lines.append(f"earliest known name: {', '.join(map(one_line, history['origins']))}")
    current = history.get("current")
    now = ", ".join(map(one_line, current)) if current else "(nowhere: deleted or moved to trash)"
    lines.append(f"now at: {now}")
    return "\n".join(lines)


def _item(item: dict[str, Any]) -> str:
    before, after, action = item.get("name_before"), item.get("name_after"), item.get("action")
    if before is None or before == after:
        what = f"{action} {one_line(after)}"
    elif after is None:
        trash = f" (trash: {one_line(item['trash'])})" if item.get("trash") else ""
        what = f"{action} {one_line(before)}{trash}"
    else:
        what = f"{action} {one_line(before)} -> {one_line(after)}"
    approvers = item.get("approved_by") or []
    approved = f", approved by {', '.join(approvers)}" if approvers else ""
    who = f"submitted by {item.get('submitted_by')}, applied by {item.get('applied_by')}{approved}"
    plan = item.get("plan") or {}
    source = f"plan {str(plan.get('digest', ''))[:12]} {plan.get('title')!r}"
    return f"  {str(item.get('time', ''))[:19]}  seq {item.get('seq')}  {what}\n      {source}: {who}"
