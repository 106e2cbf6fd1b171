"""The workflow's values as JSON, for the ``plan_cases`` table and the API. Pure.

``case_json`` and ``case_from`` are exact inverses (a property test holds
them so); times are ISO 8601 in UTC.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from planner.entry import Entry
from planner.report import Diagnostic
from planner.tree import Tree, tree_of
from sidecar.apply.outcome import entry_from, entry_json
from sidecar.audit.chain import iso, parse_iso
from sidecar.policy import Decision
from sidecar.workflow import Approval, PlanCase, Rejection, State


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
    }


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
    )


def _approval_json(approval: Approval) -> dict[str, Any]:
    return {
        "approver": approval.approver,
        "digest": approval.digest,
        "fingerprint": approval.fingerprint,
        "time": iso(approval.time),
        "comment": approval.comment,
    }


def _approval(body: dict[str, Any]) -> Approval:
    return Approval(
        body["approver"], body["digest"], body["fingerprint"], parse_iso(body["time"]), body["comment"]
    )


def _rejection_json(rejection: Rejection) -> dict[str, Any]:
    return {"actor": rejection.actor, "time": iso(rejection.time), "comment": rejection.comment}


def _rejection(body: dict[str, Any]) -> Rejection:
    return Rejection(body["actor"], parse_iso(body["time"]), body["comment"])


def base_json(tree: Tree) -> list[dict[str, Any]]:
    """The entries a plan was verified against, parents first (what ``_drift`` compares at apply)."""
    return [body for body in (entry_json(entry) for entry in tree.walk()) if body is not None]


def base_from(rows: list[dict[str, Any]]) -> Tree:
    return tree_of(entry for entry in (entry_from(row) for row in rows) if entry is not None)


def time_json(time: datetime | None) -> str | None:
    return None if time is None else iso(time)


def entries(rows: list[dict[str, Any]]) -> list[Entry]:
    return [entry for entry in (entry_from(row) for row in rows) if entry is not None]
