"""Event payloads: what each event kind records, and the table rows derived from it. Pure.

The store writes a payload, then derives the projected rows from that payload
(never from the record directly), and ``verify`` derives them again the same
way: one function per projection, so writing and checking cannot drift.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, cast

from planner.core.entry import Entry
from planner.core.report import Diagnostic
from sidecar.audit.chain import iso, parse_iso
from sidecar.audit.records import ApplyRecord, ApplyStatus, Incident, OpRecord, TrashedFile

EventKind = Literal["plan_recorded", "apply", "incident", "approval", "workflow", "token"]
PENDING = "pending"
SYSTEM_ACTOR = "pva"  # the actor of events no person caused (incidents)

Row = dict[str, Any]


def plan_payload(title: str, *, author: str) -> dict[str, Any]:
    """'plan_recorded': the author and title; the body is committed to by the event's digest."""
    return {"author": author, "title": title, "status": PENDING}


def plan_row(digest: str, body: str, payload: dict[str, Any], time: datetime) -> Row:
    return {
        "digest": digest,
        "title": payload["title"],
        "author": payload["author"],
        "body": body,
        "created": time,
        "status": payload["status"],
    }


def scope_rows(digest: str, body: dict[str, Any]) -> list[Row]:
    return [{"digest": digest, "root": root} for root in sorted(body["scope"])]


def apply_payload(record: ApplyRecord) -> dict[str, Any]:
    """'apply': the whole terminal outcome, so ``outcome`` can rebuild the record from it alone."""
    return {
        "status": record.status,
        "started": iso(record.started),
        "finished": iso(record.finished),
        "message": record.message,
        "store": record.store,
        "recovered": record.recovered,
        "attempt": record.attempt,
        "inverse": record.inverse,
        "diagnostics": [d.model_dump(mode="json") for d in record.diagnostics],
        "ops": [_op_json(op) for op in record.ops],
        "trashed": [_trashed_json(t) for t in record.trashed],
    }


def apply_record(digest: str, actor: str, payload: dict[str, Any]) -> ApplyRecord:
    """The ApplyRecord an 'apply' payload holds."""
    return ApplyRecord(
        digest=digest,
        status=cast("ApplyStatus", payload["status"]),
        actor=actor,
        started=parse_iso(payload["started"]),
        finished=parse_iso(payload["finished"]),
        ops=tuple(_op_record(op) for op in payload["ops"]),
        trashed=tuple(
            TrashedFile(t["path"], t["trash"], t.get("sha256"), t.get("size")) for t in payload["trashed"]
        ),
        diagnostics=tuple(Diagnostic.model_validate(d) for d in payload["diagnostics"]),
        message=payload["message"],
        store=payload["store"],
        recovered=payload["recovered"],
        attempt=payload["attempt"],
        inverse=payload.get("inverse"),
    )


def took_effect(payload: dict[str, Any]) -> bool:
    """Only an applied apply changed the store; the others are rolled back and project no rows."""
    return bool(payload["status"] == "applied")


def op_rows(seq: int, digest: str, time: datetime, payload: dict[str, Any]) -> list[Row]:
    """The op_records rows of an 'apply' event."""
    if not took_effect(payload):
        return []
    return [_op_row(seq, ordinal, digest, time, op) for ordinal, op in enumerate(payload["ops"])]


def _op_row(seq: int, ordinal: int, digest: str, time: datetime, op: dict[str, Any]) -> Row:
    before, after = op.get("before") or {}, op.get("after") or {}
    return {
        "event_seq": seq,
        "ordinal": ordinal,
        "digest": digest,
        "time": time,
        "op_index": op["index"],
        "kind": op["kind"],
        "path": op["path"],
        "src": op.get("src"),
        "before_sha256": before.get("sha256"),
        "before_size": before.get("size"),
        "after_sha256": after.get("sha256"),
        "after_size": after.get("size"),
        "trash": op.get("trash"),
    }


def trashed_rows(seq: int, digest: str, payload: dict[str, Any]) -> list[Row]:
    """The trashed_files rows of an 'apply' event."""
    if not took_effect(payload):
        return []
    return [
        {
            "event_seq": seq,
            "ordinal": ordinal,
            "digest": digest,
            "path": t["path"],
            "trash": t["trash"],
            "sha256": t.get("sha256"),
            "size": t.get("size"),
        }
        for ordinal, t in enumerate(payload["trashed"])
    ]


def incident_payload(incident: Incident) -> dict[str, Any]:
    return {"message": incident.message, "paths": list(incident.paths)}


def approval_row(seq: int, digest: str, time: datetime, payload: dict[str, Any]) -> Row:
    """The approvals row of an 'approval' event (payload: approver, decision, comment, status)."""
    return {
        "event_seq": seq,
        "digest": digest,
        "approver": payload["approver"],
        "decision": payload["decision"],
        "comment": payload["comment"],
        "time": time,
    }


def _compact(body: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in body.items() if value is not None}


def _entry_json(entry: Entry | None) -> dict[str, Any] | None:
    if entry is None:
        return None
    return _compact(
        {
            "path": entry.path,
            "kind": entry.kind,
            "size": entry.size,
            "sha256": entry.sha256,
            "generation": entry.generation,
            "mtime": entry.mtime,
        }
    )


def _entry(body: dict[str, Any] | None) -> Entry | None:
    if body is None:
        return None
    return Entry(
        body["path"],
        body["kind"],
        body.get("size"),
        body.get("sha256"),
        body.get("generation"),
        body.get("mtime"),
    )


def _op_json(op: OpRecord) -> dict[str, Any]:
    return _compact(
        {
            "index": op.index,
            "kind": op.kind,
            "path": op.path,
            "src": op.src,
            "before": _entry_json(op.before),
            "after": _entry_json(op.after),
            "trash": op.trash,
        }
    )


def _op_record(body: dict[str, Any]) -> OpRecord:
    return OpRecord(
        index=body["index"],
        kind=body["kind"],
        path=body["path"],
        src=body.get("src"),
        before=_entry(body.get("before")),
        after=_entry(body.get("after")),
        trash=body.get("trash"),
    )


def _trashed_json(trashed: TrashedFile) -> dict[str, Any]:
    return _compact(
        {"path": trashed.path, "trash": trashed.trash, "sha256": trashed.sha256, "size": trashed.size}
    )


def workflow_payload(action: str, status: str, **facts: Any) -> dict[str, Any]:
    """'workflow': a plan changed state (submitted, decided by policy, expired, stale, reverted...)."""
    return {"action": action, "status": status} | {
        key: value for key, value in facts.items() if value is not None
    }


def approval_payload(approver: str, decision: str, comment: str, status: str) -> dict[str, Any]:
    """'approval': a person approved or rejected a plan; ``status`` is the plan's state afterwards."""
    return {"approver": approver, "decision": decision, "comment": comment, "status": status}
