"""The workflow's values as JSON, for the ``plan_cases`` table and the API. Pure.

``case_json`` and ``case_from`` are exact inverses (a property test holds
them so); times are ISO 8601 in UTC. The versions' links (``supersedes``,
``superseded_by``, ``derived``) are written only when set, so a case stored
before they existed reads as it was written.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, assert_never

from planner.core.entry import Blob, Entry
from planner.core.ops import Change, CopyEntry, MakeDirs, MoveEntry, TrashEntry, WriteFile
from planner.core.report import Diagnostic
from planner.core.tree import Tree, tree_of
from sidecar.audit.chain import iso, parse_iso
from sidecar.audit.records import entry_from, entry_json
from sidecar.policy import Decision
from sidecar.workflow import Approval, Derivation, OpComment, PlanCase, Rejection, State


def case_json(case: PlanCase) -> dict[str, Any]:
    return {
        "digest": case.digest,
        "state": case.state.value,
        "authors": list(case.authors),
        "paths": list(case.paths),
        "fingerprint": case.fingerprint,
        "decision": None if case.decision is None else case.decision.model_dump(mode="json"),
        "submitted": iso(case.submitted),
        "diagnostics": [d.model_dump(mode="json") for d in case.diagnostics],
        "approvals": [_approval_json(a) for a in case.approvals],
        "rejection": None if case.rejection is None else _rejection_json(case.rejection),
        "inverse_digest": case.inverse_digest,
    } | _versions_json(case)


def _versions_json(case: PlanCase) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if case.supersedes is not None:
        body["supersedes"] = case.supersedes
    if case.superseded_by is not None:
        body["superseded_by"] = case.superseded_by
    if case.derived is not None:
        body["derived"] = derivation_json(case.derived)
    return body


def derivation_json(derived: Derivation) -> dict[str, Any]:
    """How a part was derived, as JSON (``without``: 0-based op indexes of the original)."""
    return {
        "original": derived.original,
        "approver": derived.approver,
        "without": list(derived.without),
        "time": iso(derived.time),
    }


def _derivation(body: dict[str, Any] | None) -> Derivation | None:
    if body is None:
        return None
    return Derivation(body["original"], body["approver"], tuple(body["without"]), parse_iso(body["time"]))


def case_from(body: dict[str, Any]) -> PlanCase:
    decision, rejection = body["decision"], body["rejection"]
    return PlanCase(
        digest=body["digest"],
        state=State(body["state"]),
        authors=tuple(body["authors"]),
        paths=tuple(body["paths"]),
        fingerprint=body["fingerprint"],
        decision=None if decision is None else Decision.model_validate(decision),
        submitted=parse_iso(body["submitted"]),
        diagnostics=tuple(Diagnostic.model_validate(d) for d in body["diagnostics"]),
        approvals=tuple(_approval(a) for a in body["approvals"]),
        rejection=None if rejection is None else _rejection(rejection),
        inverse_digest=body["inverse_digest"],
        supersedes=body.get("supersedes"),
        superseded_by=body.get("superseded_by"),
        derived=_derivation(body.get("derived")),
    )


def _approval_json(approval: Approval) -> dict[str, Any]:
    body: dict[str, Any] = {
        "approver": approval.approver,
        "digest": approval.digest,
        "fingerprint": approval.fingerprint,
        "time": iso(approval.time),
        "comment": approval.comment,
    }
    if approval.groups:  # an approval without groups keeps the JSON it had before groups existed
        body["groups"] = list(approval.groups)
    return body


def _approval(body: dict[str, Any]) -> Approval:
    return Approval(
        body["approver"],
        body["digest"],
        body["fingerprint"],
        parse_iso(body["time"]),
        body["comment"],
        tuple(body.get("groups", ())),
    )


def _rejection_json(rejection: Rejection) -> dict[str, Any]:
    body: dict[str, Any] = {
        "actor": rejection.actor,
        "time": iso(rejection.time),
        "comment": rejection.comment,
    }
    if rejection.ops:  # only a request for changes has them; a rejection's JSON stays as it was
        body["ops"] = [{"op": c.op, "comment": c.comment} for c in rejection.ops]
    return body


def _rejection(body: dict[str, Any]) -> Rejection:
    ops = tuple(OpComment(int(c["op"]), c["comment"]) for c in body.get("ops", ()))
    return Rejection(body["actor"], parse_iso(body["time"]), body["comment"], ops)


def base_json(tree: Tree, changes: Sequence[Change] | None = None) -> dict[str, Any]:
    """What a verification read (its footprint, parents first) and the changes it resolved over it.

    The apply compares the ``pinned`` part of ``entries`` with the live store;
    the trees a person reviews replay ``changes`` over ``entries``.
    """
    entries = [body for body in (entry_json(entry) for entry in tree.walk()) if body is not None]
    return {"entries": entries, "changes": None if changes is None else [change_json(c) for c in changes]}


def base_from(body: dict[str, Any] | list[dict[str, Any]]) -> Tree:
    """The footprint of a stored base (a list: a base stored before changes were kept)."""
    rows = body if isinstance(body, list) else body.get("entries", [])
    return tree_of(entry for entry in (entry_from(row) for row in rows) if entry is not None)


def base_changes(body: dict[str, Any] | list[dict[str, Any]]) -> list[Change] | None:
    """The resolved changes of a stored base; None for a base stored before they were kept."""
    if isinstance(body, list) or body.get("changes") is None:
        return None
    return [change_from(change) for change in body["changes"]]


def change_json(change: Change) -> dict[str, Any]:
    """One resolved change as JSON (a write's inline bytes are left out: the plan holds them)."""
    match change:
        case MakeDirs(index=index, paths=paths):
            return {"change": "mkdirs", "index": index, "paths": list(paths)}
        case MoveEntry():
            return {
                "change": "move",
                "index": change.index,
                "src": change.src,
                "dst": change.dst,
                "entry": entry_json(change.entry),
                "replaced": entry_json(change.replaced),
                "rename": change.rename,
            }
        case WriteFile(index=index, path=path, blob=blob, replaced=replaced):
            body = {"sha256": blob.sha256, "size": blob.size}
            return {
                "change": "write",
                "index": index,
                "path": path,
                "blob": body,
                "replaced": entry_json(replaced),
            }
        case CopyEntry(index=index, src=src, dst=dst, entries=copied):
            return {
                "change": "copy",
                "index": index,
                "src": src,
                "dst": dst,
                "entries": _entries_json(copied),
            }
        case TrashEntry(index=index, path=path, removed=removed):
            return {"change": "trash", "index": index, "path": path, "removed": _entries_json(removed)}
        case _:
            assert_never(change)


def change_from(body: dict[str, Any]) -> Change:
    """The inverse of ``change_json``."""
    index = body["index"]
    match body["change"]:
        case "mkdirs":
            return MakeDirs(index, tuple(body["paths"]))
        case "move":
            entry = entry_from(body["entry"])
            assert entry is not None  # change_json always writes it
            return MoveEntry(
                index, body["src"], body["dst"], entry, entry_from(body["replaced"]), body["rename"]
            )
        case "write":
            blob = Blob(body["blob"]["sha256"], body["blob"]["size"])
            return WriteFile(index, body["path"], blob, entry_from(body["replaced"]))
        case "copy":
            return CopyEntry(index, body["src"], body["dst"], tuple(entries(body["entries"])))
        case "trash":
            return TrashEntry(index, body["path"], tuple(entries(body["removed"])))
    raise ValueError(f"unknown change kind {body['change']!r}")


def _entries_json(found: Sequence[Entry]) -> list[dict[str, Any]]:
    return [body for body in (entry_json(entry) for entry in found) if body is not None]


def time_json(time: datetime | None) -> str | None:
    return None if time is None else iso(time)


def entries(rows: list[dict[str, Any]]) -> list[Entry]:
    return [entry for entry in (entry_from(row) for row in rows) if entry is not None]
