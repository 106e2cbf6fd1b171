"""Views of an apply's outcome: a human summary and a versioned JSON form."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any

from planner.core.parse import plan_from_document
from planner.core.plan import Plan
from planner.core.report import Code
from sidecar.audit.log import AuditLog
from sidecar.audit.records import ApplyRecord, ops_json, trashed_json


def _utc(moment: datetime) -> str:
    """ISO 8601 in UTC with a Z, as the audit views write times."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def render_outcome(title: str, record: ApplyRecord, *, again: bool = False) -> str:
    """What happened, in a few lines a person can act on.

    ``again``: this apply found the plan applied already and changed nothing
    (a plan applies once, by digest); the summary is then the earlier one's.
    """
    head = f"{record.status.capitalize()}: {title!r} ({record.digest[:12]})"
    if again:
        when = f"on {_utc(record.finished)} by {record.actor}"
        then = render_outcome(title, record).split("\n", 1)[1].strip()
        head = f"Already applied: {title!r} ({record.digest[:12]}) {when}; nothing changed now."
        return f"{head}\n  then: {then}"
    if record.status == "applied":
        counts = Counter(op.kind for op in record.ops)
        done = ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items())) or "no ops"
        trashed = f"; {len(record.trashed)} files kept in trash" if record.trashed else ""
        recovered = " (finished by recovery)" if record.recovered else ""
        return "\n".join(
            [f"{head}{recovered}", f"  {done}{trashed}", *partial_inverse(record), *_incidents(record)]
        )
    lines = [head, f"  {record.message}", "  Nothing changed."]
    lines.extend(f"  {d}" for d in record.diagnostics if d.severity == "error")
    return "\n".join([*lines, *_incidents(record)])


def render_apply(audit: AuditLog, plan: Plan, record: ApplyRecord, earlier: ApplyRecord | None) -> str:
    """The human view of an apply; ``earlier`` is the plan's outcome read before it.

    A plan applied already is not applied again: say so, and say whether its
    inverse has undone it since, instead of repeating the first summary.
    """
    again = earlier is not None and earlier.status == "applied" and earlier.attempt == record.attempt
    if not again:
        return render_outcome(plan.title, record)
    text = render_outcome(plan.title, record, again=True)
    undo = None if record.inverse is None else audit.outcome(plan_from_document(record.inverse).digest())
    return f"{text}\n{render_reverted(undo)}" if undo is not None and undo.status == "applied" else text


def render_reverted(inverse: ApplyRecord) -> str:
    """The line that says an applied plan was undone since, by its inverse plan."""
    return (
        f"  Since then it was reverted by plan {inverse.digest[:12]} ({_utc(inverse.finished)}): "
        "its changes are undone in the store.\n"
        "  A plan applies once: to make these changes again, submit them as a new plan (a new title will do)."
    )


def partial_inverse(record: ApplyRecord) -> list[str]:
    """Lines saying what the inverse of an applied plan cannot restore (none when it is whole)."""
    missing = [d.path or "?" for d in record.diagnostics if d.code == Code.NO_INVERSE]
    if not missing:
        return []
    shown = ", ".join(repr(path) for path in missing[:10]) + (" ..." if len(missing) > 10 else "")
    files = f"{len(missing)} file{'s' * (len(missing) != 1)}"
    return [f"  Partly revertible: the inverse plan cannot restore {files} (sha256 not known): {shown}"]


def _incidents(record: ApplyRecord) -> list[str]:
    """Incidents are shown where the person applying reads, not only in the audit."""
    note = "(recorded in the audit; see docs/operations.md#incidents)"
    return [f"  INCIDENT: {message} {note}" for message in record.incidents]


def outcome_json(record: ApplyRecord) -> dict[str, Any]:
    """The outcome as JSON (``version`` "outcome/v1")."""
    return {
        "version": "outcome/v1",
        "digest": record.digest,
        "status": record.status,
        "actor": record.actor,
        "started": _utc(record.started),
        "finished": _utc(record.finished),
        "message": record.message,
        "recovered": record.recovered,
        "ops": ops_json(record.ops),
        "trashed": trashed_json(record.trashed),
        "diagnostics": [d.model_dump(mode="json") for d in record.diagnostics],
        "incidents": list(record.incidents),
    }
