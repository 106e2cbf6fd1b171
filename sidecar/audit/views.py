"""What the audit's query side returns: plain, immutable values with a JSON form each."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sidecar.audit.chain import Break, iso


@dataclass(frozen=True)
class PlanSummary:
    """A recorded plan, as listed."""

    digest: str
    title: str
    author: str
    status: str
    created: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "digest": self.digest,
            "title": self.title,
            "author": self.author,
            "status": self.status,
            "created": iso(self.created),
        }


@dataclass(frozen=True)
class EventView:
    """One event of the chain, its payload parsed.

    ``payload`` is the stored JSON as is, not ``payloads.decode``'s model: a view
    shows what was hashed, including an event verify would call malformed.
    """

    seq: int
    time: datetime
    kind: str
    digest: str | None
    actor: str
    payload: dict[str, Any]
    prev_hash: str
    hash: str

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "time": iso(self.time),
            "kind": self.kind,
            "digest": self.digest,
            "actor": self.actor,
            "payload": self.payload,
            "prev_hash": self.prev_hash,
            "hash": self.hash,
        }


@dataclass(frozen=True)
class Approval:
    """A decision on a plan."""

    approver: str
    decision: str
    comment: str
    time: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "approver": self.approver,
            "decision": self.decision,
            "comment": self.comment,
            "time": iso(self.time),
        }


@dataclass(frozen=True)
class PlanDetail:
    """A plan with its body, every event about it and its approvals."""

    plan: PlanSummary
    body: dict[str, Any]
    events: tuple[EventView, ...]
    approvals: tuple[Approval, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "version": "audit-plan/v1",
            **self.plan.to_json(),
            "body": self.body,
            "events": [event.to_json() for event in self.events],
            "approvals": [approval.to_json() for approval in self.approvals],
        }


@dataclass(frozen=True)
class OpView:
    """One op of an apply that took effect, as indexed in op_records."""

    seq: int
    ordinal: int
    time: datetime
    digest: str
    op_index: int
    kind: str
    path: str
    src: str | None
    before_sha256: str | None
    before_size: int | None
    after_sha256: str | None
    after_size: int | None
    trash: str | None

    @property
    def position(self) -> tuple[int, int]:
        """Where the op stands in the audit's total order."""
        return (self.seq, self.ordinal)


# The op_records columns that make an OpView, in its field order.
OP_VIEW_COLUMNS = (
    "event_seq",
    "ordinal",
    "time",
    "digest",
    "op_index",
    "kind",
    "path",
    "src",
    "before_sha256",
    "before_size",
    "after_sha256",
    "after_size",
    "trash",
)


@dataclass(frozen=True)
class HistoryItem:
    """One thing that happened to a document: an op, and the document's name before and after it.

    ``action`` is one of: created, written, overwritten, moved, renamed,
    folder moved, copied from, copied to, deleted, replaced. ``name_before``
    is None when the op created the document; ``name_after`` is None when it
    went to the trash (``trash`` says where).
    """

    seq: int
    ordinal: int
    time: datetime
    action: str
    name_before: str | None
    name_after: str | None
    kind: str  # the op's kind
    op_index: int
    op_path: str
    op_src: str | None
    sha256: str | None
    size: int | None
    trash: str | None
    digest: str
    title: str
    author: str  # who submitted the plan
    actor: str  # who applied it
    approvers: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "time": iso(self.time),
            "action": self.action,
            "name_before": self.name_before,
            "name_after": self.name_after,
            "op": {"index": self.op_index, "kind": self.kind, "path": self.op_path, "src": self.op_src},
            "sha256": self.sha256,
            "size": self.size,
            "trash": self.trash,
            "plan": {"digest": self.digest, "title": self.title},
            "submitted_by": self.author,
            "applied_by": self.actor,
            "approved_by": list(self.approvers),
        }


@dataclass(frozen=True)
class History:
    """A document's chain of custody, oldest first, from the path asked about."""

    path: str
    items: tuple[HistoryItem, ...]
    origins: tuple[str, ...] = ()  # the earliest names found, walking back
    current: tuple[str, ...] = ()  # where the document (or its copies' originals) is now

    def to_json(self) -> dict[str, Any]:
        return {
            "version": "history/v1",
            "path": self.path,
            "origins": list(self.origins),
            "current": list(self.current),
            "items": [item.to_json() for item in self.items],
        }


@dataclass(frozen=True)
class ChainReport:
    """The result of checking the whole audit: how many events, the head, and the first break."""

    events: int
    head_seq: int
    head_hash: str
    broken: Break | None = field(default=None)

    def to_json(self) -> dict[str, Any]:
        broken = None if self.broken is None else {"seq": self.broken.seq, "problem": self.broken.problem}
        return {
            "version": "audit-verify/v1",
            "intact": self.broken is None,
            "events": self.events,
            "head": {"seq": self.head_seq, "hash": self.head_hash},
            "broken": broken,
        }


def parse_payload(text: str) -> dict[str, Any]:
    value = json.loads(text)
    if not isinstance(value, dict):
        raise TypeError("an event payload is a JSON object")
    return value
