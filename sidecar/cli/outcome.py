"""Views of an apply's outcome: a human summary and a versioned JSON form."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any

from sidecar.apply.outcome import ops_json, trashed_json
from sidecar.audit.records import ApplyRecord


def _utc(moment: datetime) -> str:
    """ISO 8601 in UTC with a Z, as the audit views write times."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def render_outcome(title: str, record: ApplyRecord) -> str:
    """What happened, in a few lines a person can act on."""
    head = f"{record.status.capitalize()}: {title!r} ({record.digest[:12]})"
    if record.status == "applied":
        counts = Counter(op.kind for op in record.ops)
        done = ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items())) or "no ops"
        trashed = f"; {len(record.trashed)} files kept in trash" if record.trashed else ""
        recovered = " (finished by recovery)" if record.recovered else ""
        return "\n".join([f"{head}{recovered}", f"  {done}{trashed}", *_incidents(record)])
    lines = [head, f"  {record.message}", "  Nothing changed."]
    lines.extend(f"  {d}" for d in record.diagnostics if d.severity == "error")
    return "\n".join([*lines, *_incidents(record)])


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
