"""Event payloads: what each event kind records, typed and frozen, and the table rows derived from them. Pure.

One model per event kind, each with exactly one JSON form (``encode``; ``decode``
reads it back given the event's kind)::

    PlanRecorded  'plan_recorded'  the author and title; the body is committed to by the event's digest
    ApplyOutcome  'apply'          the whole terminal outcome of one apply
    IncidentNote  'incident'       something an operator must look at
    Approval      'approval'       a person approved or rejected a plan
    Workflow      'workflow'       a plan changed state (submitted, expired, reverted...)
    TokenChange   'token'          an API token was made or revoked
    OutsideChange 'outside_change' the store changed behind pva's back (``pva watch`` noticed)
    DocumentRead  'read'           someone read a document through the sidecar (PVA_AUDIT_READS)
    HoldPlaced    'hold_placed'    counsel placed a legal hold on paths, for a matter
    HoldReleased  'hold_released'  counsel released a legal hold

The encoded payload is hashed into the chain (``chain.make_link``), so its
bytes are frozen: a change to ``encode`` would stop every existing audit from
verifying (``tests/audit/test_payload_golden.py`` pins them). The store writes
a payload, then derives the projected rows from that payload (never from the
record directly), and ``verify`` decodes the stored payload and derives them
again the same way: one function per projection, so writing and checking
cannot drift.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, assert_never, cast

from planner.core.entry import Entry
from planner.core.report import Diagnostic
from sidecar.audit.chain import iso, parse_iso
from sidecar.audit.records import ApplyRecord, ApplyStatus, Incident, OpRecord, TrashedFile, trashed_from

EventKind = Literal[
    "plan_recorded",
    "apply",
    "incident",
    "approval",
    "workflow",
    "token",
    "outside_change",
    "read",
    "hold_placed",
    "hold_released",
]
PENDING = "pending"
SYSTEM_ACTOR = "pva"  # the actor of events no person caused (incidents)

Row = dict[str, Any]


@dataclass(frozen=True)
class PlanRecorded:
    """'plan_recorded': the author and title; the body is committed to by the event's digest."""

    author: str
    title: str
    status: str = PENDING


@dataclass(frozen=True)
class ApplyOutcome:
    """'apply': the whole terminal outcome, so ``record`` can rebuild the ApplyRecord from it alone."""

    status: ApplyStatus
    started: datetime
    finished: datetime
    message: str
    store: str
    recovered: bool
    attempt: str
    inverse: dict[str, Any] | None  # a plan document's JSON
    diagnostics: tuple[Diagnostic, ...]
    ops: tuple[OpRecord, ...]
    trashed: tuple[TrashedFile, ...]

    @classmethod
    def of(cls, record: ApplyRecord) -> ApplyOutcome:
        """The payload of an apply's record (its digest and actor are the event's own fields)."""
        return cls(
            record.status,
            record.started,
            record.finished,
            record.message,
            record.store,
            record.recovered,
            record.attempt,
            record.inverse,
            record.diagnostics,
            record.ops,
            record.trashed,
        )

    def record(self, digest: str, actor: str) -> ApplyRecord:
        """The ApplyRecord this payload holds."""
        return ApplyRecord(
            digest=digest,
            status=self.status,
            actor=actor,
            started=self.started,
            finished=self.finished,
            ops=self.ops,
            trashed=self.trashed,
            diagnostics=self.diagnostics,
            message=self.message,
            store=self.store,
            recovered=self.recovered,
            attempt=self.attempt,
            inverse=self.inverse,
        )

    @property
    def took_effect(self) -> bool:
        """Only an applied apply changed the store; the others are rolled back and project no rows."""
        return self.status == "applied"


@dataclass(frozen=True)
class IncidentNote:
    """'incident': what an operator must look at, and the paths concerned."""

    message: str
    paths: tuple[str, ...]


@dataclass(frozen=True)
class Approval:
    """'approval': a person approved or rejected a plan; ``status`` is the plan's state afterwards."""

    approver: str
    decision: str
    comment: str
    status: str


@dataclass(frozen=True)
class Workflow:
    """'workflow': a plan changed state; ``facts`` are what the action adds (never a None value)."""

    action: str
    status: str
    facts: Mapping[str, Any]  # errors, fingerprint, rule, reason, message, inverse...


@dataclass(frozen=True)
class SecretBinding:
    """What a token's row may hold, bound in the chain: a hash of its secret's hash, and its expiry."""

    secret_check: str
    expires: str | None  # ISO 8601 as ``chain.iso`` writes it


@dataclass(frozen=True)
class TokenChange:
    """'token': who made or revoked which token (never its secret).

    ``scopes`` and ``binding`` are None in events written before they were recorded.
    """

    action: str  # created, revoked
    token: str
    name: str
    role: str
    scopes: tuple[str, ...] | None = None
    binding: SecretBinding | None = None
    read_only: bool = False  # recorded only when True, so earlier events keep their bytes


OutsideKind = Literal["edited", "deleted", "added", "moved"]


@dataclass(frozen=True)
class OutsideChange:
    """'outside_change': one difference between the store and what the audit expects, made outside pva.

    ``path`` is where the document is now (``deleted``: where it was); ``src``
    where it was before a ``moved`` (None otherwise). ``before`` is what the
    audit expected there (None for ``added``), ``after`` what the store holds
    (None for ``deleted``): size, sha256 and, on GCS, generation. ``noticed``
    is when the watch saw it, not when it happened (the store does not say).
    """

    change: OutsideKind
    path: str
    src: str | None
    before: Entry | None
    after: Entry | None
    noticed: datetime
    store: str

    @property
    def paths(self) -> tuple[str, ...]:
        """Every store path the change names."""
        return (self.path,) if self.src is None else (self.src, self.path)


@dataclass(frozen=True)
class DocumentRead:
    """'read': who read which version of a document, and how much of it (custody: who saw what, when)."""

    path: str
    version: str  # the sha256 of the content, or "generation:N" on a bucket
    size: int  # bytes served
    part: str | None = None  # "bytes=START-END" for a range; None: the whole file


@dataclass(frozen=True)
class HoldPlaced:
    """'hold_placed': a legal hold on ``paths`` for ``matter``; the actor is who placed it."""

    hold: str  # its id, "hold_" and 12 hex digits
    matter: str
    reason: str
    paths: tuple[str, ...]  # sorted, none inside another


@dataclass(frozen=True)
class HoldReleased:
    """'hold_released': a legal hold ends; the actor is who released it."""

    hold: str
    reason: str


Payload = (
    PlanRecorded
    | ApplyOutcome
    | IncidentNote
    | Approval
    | Workflow
    | TokenChange
    | OutsideChange
    | DocumentRead
    | HoldPlaced
    | HoldReleased
)


def encode(payload: Payload) -> dict[str, Any]:  # noqa: C901, PLR0911  # one case a kind
    """The payload's one JSON form: the object an event hashes (canonically) and stores."""
    match payload:
        case PlanRecorded(author=author, title=title, status=status):
            return {"author": author, "title": title, "status": status}
        case ApplyOutcome():
            return _outcome_json(payload)
        case IncidentNote(message=message, paths=paths):
            return {"message": message, "paths": list(paths)}
        case Approval(approver=approver, decision=decision, comment=comment, status=status):
            return {"approver": approver, "decision": decision, "comment": comment, "status": status}
        case Workflow(action=action, status=status, facts=facts):
            return {"action": action, "status": status} | {k: v for k, v in facts.items() if v is not None}
        case TokenChange():
            return _token_json(payload)
        case OutsideChange():
            return _outside_json(payload)
        case DocumentRead(path=path, version=version, size=size, part=part):
            return {"path": path, "version": version, "size": size} | _compact({"part": part})
        case HoldPlaced(hold=hold, matter=matter, reason=reason, paths=paths):
            return {"hold": hold, "matter": matter, "reason": reason, "paths": list(paths)}
        case HoldReleased(hold=hold, reason=reason):
            return {"hold": hold, "reason": reason}
        case _:
            assert_never(payload)


def decode(kind: str, body: Mapping[str, Any]) -> Payload:  # noqa: C901, PLR0911  # one case a kind
    """The payload an event of ``kind`` holds; KeyError, TypeError or ValueError if pva never writes it."""
    match kind:
        case "plan_recorded":
            return PlanRecorded(_text(body["author"]), _text(body["title"]), _text(body["status"]))
        case "apply":
            return apply_outcome(body)
        case "incident":
            return IncidentNote(_text(body["message"]), tuple(_text(path) for path in body["paths"]))
        case "approval":
            return decode_approval(body)
        case "workflow":
            facts = {key: value for key, value in body.items() if key not in ("action", "status")}
            return Workflow(_text(body["action"]), _text(body["status"]), facts)
        case "token":
            return decode_token(body)
        case "outside_change":
            return decode_outside(body)
        case "read":
            part = body.get("part")
            return DocumentRead(
                _text(body["path"]),
                _text(body["version"]),
                _count(body["size"]),
                None if part is None else _text(part),
            )
        case "hold_placed":
            return decode_hold_placed(body)
        case "hold_released":
            return HoldReleased(_text(body["hold"]), _text(body["reason"]))
    raise ValueError(f"no event kind {kind!r}")


def decode_approval(body: Mapping[str, Any]) -> Approval:
    """The Approval an 'approval' payload holds."""
    return Approval(
        _text(body["approver"]), _text(body["decision"]), _text(body["comment"]), _text(body["status"])
    )


def decode_hold_placed(body: Mapping[str, Any]) -> HoldPlaced:
    """The HoldPlaced a 'hold_placed' payload holds."""
    paths = tuple(_text(path) for path in body["paths"])
    return HoldPlaced(_text(body["hold"]), _text(body["matter"]), _text(body["reason"]), paths)


def kind_of(payload: Payload) -> EventKind:  # noqa: C901, PLR0911  # one case a kind
    """The kind of event that carries ``payload``."""
    match payload:
        case PlanRecorded():
            return "plan_recorded"
        case ApplyOutcome():
            return "apply"
        case IncidentNote():
            return "incident"
        case Approval():
            return "approval"
        case Workflow():
            return "workflow"
        case TokenChange():
            return "token"
        case OutsideChange():
            return "outside_change"
        case DocumentRead():
            return "read"
        case HoldPlaced():
            return "hold_placed"
        case HoldReleased():
            return "hold_released"
        case _:
            assert_never(payload)


def status_of(payload: Payload) -> str | None:
    """The plan state an event leaves its plan in, if it says (incidents and tokens do not)."""
    match payload:
        case PlanRecorded() | ApplyOutcome() | Approval() | Workflow():
            return payload.status
        case (
            IncidentNote() | TokenChange() | OutsideChange() | DocumentRead() | HoldPlaced() | HoldReleased()
        ):
            return None
        case _:
            assert_never(payload)


# -- building payloads ------------------------------------------------------


def plan_payload(title: str, *, author: str) -> PlanRecorded:
    """'plan_recorded': the author and title of a plan just recorded."""
    return PlanRecorded(author, title)


def apply_payload(record: ApplyRecord) -> ApplyOutcome:
    """'apply': the whole terminal outcome of ``record``."""
    return ApplyOutcome.of(record)


def incident_payload(incident: Incident) -> IncidentNote:
    """'incident': the incident's message and paths (its digest is the event's)."""
    return IncidentNote(incident.message, incident.paths)


def workflow_payload(action: str, status: str, **facts: Any) -> dict[str, Any]:
    """A 'workflow' payload's JSON: a plan changed state (submitted, decided by policy, expired, stale...)."""
    return encode(Workflow(action, status, facts))


def approval_payload(approver: str, decision: str, comment: str, status: str) -> dict[str, Any]:
    """An 'approval' payload's JSON: a person approved or rejected a plan."""
    return encode(Approval(approver, decision, comment, status))


def apply_outcome(body: Mapping[str, Any]) -> ApplyOutcome:
    """The ApplyOutcome a stored 'apply' payload holds."""
    return _outcome_from(body)


def apply_record(digest: str, actor: str, body: Mapping[str, Any]) -> ApplyRecord:
    """The ApplyRecord a stored 'apply' payload holds."""
    return _outcome_from(body).record(digest, actor)


# -- the rows each payload projects -----------------------------------------


def plan_row(digest: str, body: str, payload: PlanRecorded, time: datetime) -> Row:
    return {
        "digest": digest,
        "title": payload.title,
        "author": payload.author,
        "body": body,
        "created": time,
        "status": payload.status,
    }


def scope_rows(digest: str, scope: Iterable[str]) -> list[Row]:
    """The plan_scopes rows of a plan whose scope lists these roots."""
    return [{"digest": digest, "root": root} for root in sorted(scope)]


def op_rows(seq: int, digest: str, time: datetime, payload: ApplyOutcome) -> list[Row]:
    """The op_records rows of an 'apply' event."""
    if not payload.took_effect:
        return []
    return [_op_row(seq, ordinal, digest, time, op) for ordinal, op in enumerate(payload.ops)]


def _op_row(seq: int, ordinal: int, digest: str, time: datetime, op: OpRecord) -> Row:
    return {
        "event_seq": seq,
        "ordinal": ordinal,
        "digest": digest,
        "time": time,
        "op_index": op.index,
        "kind": op.kind,
        "path": op.path,
        "src": op.src,
        "before_sha256": None if op.before is None else op.before.sha256,
        "before_size": None if op.before is None else op.before.size,
        "after_sha256": None if op.after is None else op.after.sha256,
        "after_size": None if op.after is None else op.after.size,
        "trash": op.trash,
    }


def trashed_rows(seq: int, digest: str, payload: ApplyOutcome) -> list[Row]:
    """The trashed_files rows of an 'apply' event."""
    if not payload.took_effect:
        return []
    return [
        {
            "event_seq": seq,
            "ordinal": ordinal,
            "digest": digest,
            "path": t.path,
            "trash": t.trash,
            "sha256": t.sha256,
            "size": t.size,
        }
        for ordinal, t in enumerate(payload.trashed)
    ]


def approval_row(seq: int, digest: str, time: datetime, payload: Approval | Mapping[str, Any]) -> Row:
    """The approvals row of an 'approval' event (given typed, or as its JSON)."""
    approval = payload if isinstance(payload, Approval) else decode_approval(payload)
    return {
        "event_seq": seq,
        "digest": digest,
        "approver": approval.approver,
        "decision": approval.decision,
        "comment": approval.comment,
        "time": time,
    }


# -- the JSON form of each part ----------------------------------------------


def _outcome_json(outcome: ApplyOutcome) -> dict[str, Any]:
    return {
        "status": outcome.status,
        "started": iso(outcome.started),
        "finished": iso(outcome.finished),
        "message": outcome.message,
        "store": outcome.store,
        "recovered": outcome.recovered,
        "attempt": outcome.attempt,
        "inverse": outcome.inverse,
        "diagnostics": [d.model_dump(mode="json") for d in outcome.diagnostics],
        "ops": [compact_op_json(op) for op in outcome.ops],
        "trashed": [_compact_trashed_json(t) for t in outcome.trashed],
    }


def _outcome_from(body: Mapping[str, Any]) -> ApplyOutcome:
    return ApplyOutcome(
        status=cast("ApplyStatus", _text(body["status"])),
        started=parse_iso(body["started"]),
        finished=parse_iso(body["finished"]),
        message=_text(body["message"]),
        store=_text(body["store"]),
        recovered=bool(body["recovered"]),
        attempt=_text(body.get("attempt", "")),  # absent from the earliest events
        inverse=body.get("inverse"),
        diagnostics=tuple(Diagnostic.model_validate(d) for d in body["diagnostics"]),
        ops=tuple(compact_op_from(op) for op in body["ops"]),
        trashed=tuple(trashed_from(body["trashed"])),  # reads both forms: absent is null
    )


def compact_op_json(op: OpRecord) -> dict[str, Any]:
    """An op as an 'apply' payload holds it: its fields, entries with their mtime, nulls left out.

    Not ``records.ops_json`` (the journal's and the CLI's form, which keeps
    nulls and drops mtime): these bytes are hashed into the chain, so they
    stay as the first audits wrote them. ``compact_op_from`` reads them.
    """
    return _compact(
        {
            "index": op.index,
            "kind": op.kind,
            "path": op.path,
            "src": op.src,
            "before": _compact_entry_json(op.before),
            "after": _compact_entry_json(op.after),
            "trash": op.trash,
        }
    )


def compact_op_from(body: Mapping[str, Any]) -> OpRecord:
    """The op ``compact_op_json`` wrote."""
    return OpRecord(
        index=body["index"],
        kind=body["kind"],
        path=body["path"],
        src=body.get("src"),
        before=_compact_entry_from(body.get("before")),
        after=_compact_entry_from(body.get("after")),
        trash=body.get("trash"),
    )


def _compact_trashed_json(trashed: TrashedFile) -> dict[str, Any]:
    """A trashed file as an 'apply' payload holds it, nulls left out (read by ``records.trashed_from``)."""
    return _compact(
        {"path": trashed.path, "trash": trashed.trash, "sha256": trashed.sha256, "size": trashed.size}
    )


def _compact_entry_json(entry: Entry | None) -> dict[str, Any] | None:
    if entry is None:
        return None
    known = {"size": entry.size, "sha256": entry.sha256, "generation": entry.generation, "mtime": entry.mtime}
    return {"path": entry.path, "kind": entry.kind} | _compact(known)


def _compact_entry_from(body: Mapping[str, Any] | None) -> Entry | None:
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


def _token_json(change: TokenChange) -> dict[str, Any]:
    body: dict[str, Any] = {
        "action": change.action,
        "token": change.token,
        "name": change.name,
        "role": change.role,
    }
    if change.scopes is not None:
        body["scopes"] = list(change.scopes)
    if change.binding is not None:
        body["secret_check"] = change.binding.secret_check
        body["expires"] = change.binding.expires
    if change.read_only:
        body["read_only"] = True
    return body


def decode_token(body: Mapping[str, Any]) -> TokenChange:
    """The TokenChange a 'token' payload holds."""
    scopes = body.get("scopes")
    binding = None
    if "secret_check" in body:
        expires = body["expires"]
        binding = SecretBinding(_text(body["secret_check"]), None if expires is None else _text(expires))
    return TokenChange(
        _text(body["action"]),
        _text(body["token"]),
        _text(body["name"]),
        _text(body["role"]),
        None if scopes is None else tuple(_text(scope) for scope in scopes),
        binding,
        body.get("read_only") is True,
    )


def _outside_json(change: OutsideChange) -> dict[str, Any]:
    body = {
        "change": change.change,
        "path": change.path,
        "src": change.src,
        "before": _compact_entry_json(change.before),
        "after": _compact_entry_json(change.after),
        "noticed": iso(change.noticed),
        "store": change.store,
    }
    return {key: value for key, value in body.items() if key != "src" or value is not None}


def decode_outside(body: Mapping[str, Any]) -> OutsideChange:
    """The OutsideChange an 'outside_change' payload holds."""
    change = _text(body["change"])
    if change not in ("edited", "deleted", "added", "moved"):
        raise ValueError(f"no outside change {change!r}")
    src = body.get("src")
    return OutsideChange(
        cast("OutsideKind", change),
        _text(body["path"]),
        None if src is None else _text(src),
        _compact_entry_from(body["before"]),
        _compact_entry_from(body["after"]),
        parse_iso(_text(body["noticed"])),
        _text(body["store"]),
    )


def _compact(body: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in body.items() if value is not None}


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {type(value).__name__}")
    return value


def _count(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise TypeError(f"expected a count, got {value!r}")
    return value
