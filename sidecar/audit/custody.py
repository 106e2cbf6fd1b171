"""Custody reports: the events that touched some documents, rows for people, proofs, a signature. Pure.

A report (``custody-report/v1``, a JSON object) carries each event as the
chain stored it (the hashed fields and the hash), an RFC 6962 inclusion proof
of each against a signed checkpoint (a C2SP signed note), and rows derived
from those events alone (``rows_of``). The whole is signed by the checkpoint
key over its canonical JSON. So ``check``, given only the report and the
verifier key, can confirm with no database: the signature; the checkpoint's
signature; each event's hash from its fields; each event's inclusion in the
signed tree; and that the rows are exactly what the events say.

Rows: each event kind derives its rows in one function of ``ROWS``; a kind
without one (a kind added later, such as holds) still shows, as one row
naming its kind and actor, until it gets its own. ``Subject.names`` are the
store paths the report is about (a document's every name, or a matter's
folder): an apply shows only its ops that touch one of them.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from planner.core.entry import Entry
from planner.core.paths import contains
from sidecar.audit import merkle, payloads
from sidecar.audit.chain import Link, canonical, iso, parse_iso
from sidecar.audit.checkpoints import DASH, CheckpointRefused, Signer, Verifier, open_checkpoint
from sidecar.audit.records import OpRecord
from sidecar.audit.views import Approval

VERSION = "custody-report/v1"
SubjectKind = Literal["path", "matter"]


@dataclass(frozen=True, slots=True)
class Subject:
    """What a report is about: a document (by a path it had) or a matter's folder, in a time window."""

    kind: SubjectKind
    target: str
    names: tuple[str, ...]  # the document's every name, or the matter's folder
    since: datetime | None = None
    until: datetime | None = None

    def touches(self, path: str | None, *, above: bool = True) -> bool:
        """Whether ``path`` is one of the names, inside one, or (``above``) a folder above one."""
        if path is None:
            return False
        return any(contains(name, path) or (above and contains(path, name)) for name in self.names)

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "target": self.target,
            "names": list(self.names),
            "from": None if self.since is None else iso(self.since),
            "to": None if self.until is None else iso(self.until),
        }


@dataclass(frozen=True, slots=True)
class Row:
    """One thing a report tells a person: what happened, where, the content's hashes, who and why.

    ``before``/``after`` are what stood at ``path_before``/``path_after``
    (size, sha256 and, on GCS, generation where the audit knows them).
    """

    seq: int
    time: datetime
    event: str  # the event's kind
    action: str  # in words: moved, written, plan approved, edited outside pva...
    actor: str  # who did it: the applier, the approver, the watch
    path_before: str | None = None
    path_after: str | None = None
    before: Entry | None = None
    after: Entry | None = None
    plan: str | None = None  # the plan's digest
    title: str | None = None
    author: str | None = None
    decisions: tuple[Approval, ...] = ()
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "time": iso(self.time),
            "event": self.event,
            "action": self.action,
            "actor": self.actor,
            "path_before": self.path_before,
            "path_after": self.path_after,
            "before": _fingerprint(self.before),
            "after": _fingerprint(self.after),
            "plan": self.plan,
            "title": self.title,
            "author": self.author,
            "decisions": [decision.to_json() for decision in self.decisions],
            "note": self.note,
        }


@dataclass
class Context:
    """What rows of one event need from the report's other events: each plan's record and decisions."""

    plans: dict[str, payloads.PlanRecorded] = field(default_factory=dict)
    decisions: dict[str, list[tuple[int, Approval]]] = field(default_factory=dict)

    def about(self, digest: str | None, before: int) -> dict[str, Any]:
        """A row's plan fields: digest, title, author, and the decisions recorded before seq ``before``."""
        if digest is None:
            return {}
        plan = self.plans.get(digest)
        decided = tuple(d for seq, d in self.decisions.get(digest, []) if seq < before)
        return {
            "plan": digest,
            "title": None if plan is None else plan.title,
            "author": None if plan is None else plan.author,
            "decisions": decided,
        }


def context_of(links: Sequence[Link]) -> Context:
    """The plans and decisions the report's events record."""
    found = Context()
    for link in links:
        if link.digest is None or link.kind not in ("plan_recorded", "approval"):
            continue
        payload = payloads.decode(link.kind, json.loads(link.payload))
        if isinstance(payload, payloads.PlanRecorded):
            found.plans[link.digest] = payload
        elif isinstance(payload, payloads.Approval):
            decision = Approval(payload.approver, payload.decision, payload.comment, link.time)
            found.decisions.setdefault(link.digest, []).append((link.seq, decision))
    return found


RowsOf = Callable[[Link, Any, Subject, Context], list[Row]]


def rows_of(links: Sequence[Link], subject: Subject) -> list[Row]:
    """Every row the events say, in their order; KeyError, TypeError or ValueError for a malformed event."""
    context = context_of(links)
    rows: list[Row] = []
    for link in links:
        payload = payloads.decode(link.kind, json.loads(link.payload)) if link.kind in KNOWN else None
        rows.extend(ROWS.get(link.kind, _other_rows)(link, payload, subject, context))
    return rows


def _plan_rows(link: Link, payload: payloads.PlanRecorded, _: Subject, context: Context) -> list[Row]:
    about = context.about(link.digest, link.seq)
    return [Row(link.seq, link.time, link.kind, "plan submitted", payload.author, **about)]


def _approval_rows(link: Link, payload: payloads.Approval, _: Subject, context: Context) -> list[Row]:
    about = context.about(link.digest, link.seq)
    action = f"plan {payload.decision}"
    return [Row(link.seq, link.time, link.kind, action, payload.approver, note=payload.comment, **about)]


def _workflow_rows(link: Link, payload: payloads.Workflow, _: Subject, context: Context) -> list[Row]:
    about = context.about(link.digest, link.seq)
    note = str(payload.facts.get("reason") or payload.facts.get("message") or "")
    action = f"plan {payload.action.replace('_', ' ')} ({payload.status})"
    return [Row(link.seq, link.time, link.kind, action, link.actor, note=note, **about)]


def _incident_rows(link: Link, payload: payloads.IncidentNote, _: Subject, context: Context) -> list[Row]:
    about = context.about(link.digest, link.seq)
    return [Row(link.seq, link.time, link.kind, "incident", link.actor, note=payload.message, **about)]


def _apply_rows(link: Link, payload: payloads.ApplyOutcome, subject: Subject, context: Context) -> list[Row]:
    about = context.about(link.digest, link.seq)
    if not payload.took_effect:
        action = f"apply {payload.status}, nothing changed"
        return [Row(link.seq, link.time, link.kind, action, link.actor, note=payload.message, **about)]
    # A folder made above a document says nothing about it; one moved, copied or deleted carries it.
    touching = [
        op
        for op in payload.ops
        if subject.touches(op.path, above=op.kind != "mkdir") or subject.touches(op.src)
    ]
    return [_op_row(link, op, about) for op in touching]


def _op_row(link: Link, op: OpRecord, about: dict[str, Any]) -> Row:
    """An op as a row: the content before is the source's for a move or copy, the replaced one's otherwise."""
    carried = op.kind in ("move", "rename", "copy")
    before = op.after if carried else op.before
    path_before = op.src if carried else (op.path if op.before is not None else None)
    path_after = None if op.kind == "delete" else op.path
    notes = []
    if op.trash is not None:
        notes.append(
            f"{'replaced file' if carried or op.kind == 'write' else 'it'} kept in the trash at {op.trash}"
        )
    if carried and op.before is not None:
        notes.append(f"replaced {op.path} (sha256 {op.before.sha256})")
    return Row(
        link.seq,
        link.time,
        link.kind,
        _op_action(op),
        link.actor,
        path_before,
        path_after,
        before,
        op.after,
        note="; ".join(notes),
        **about,
    )


def _op_action(op: OpRecord) -> str:
    folder = (op.after is not None and op.after.is_dir) or (op.before is not None and op.before.is_dir)
    words = {
        "mkdir": "folder created",
        "move": "moved",
        "rename": "renamed",
        "copy": "copied",
        "delete": "deleted (to the trash)",
        "write": "overwritten" if op.before is not None else "written",
    }
    word = words[op.kind]
    return f"folder {word}" if folder and op.kind != "mkdir" else word


def _outside_rows(link: Link, payload: payloads.OutsideChange, _: Subject, __: Context) -> list[Row]:
    before_path = payload.src or (None if payload.change == "added" else payload.path)
    after_path = None if payload.change == "deleted" else payload.path
    note = f"noticed {iso(payload.noticed)} on {payload.store}; not made through pva"
    action = f"{payload.change} outside pva"
    return [
        Row(
            link.seq,
            link.time,
            link.kind,
            action,
            link.actor,
            before_path,
            after_path,
            payload.before,
            payload.after,
            note=note,
        )
    ]


def _other_rows(link: Link, _: object, __: Subject, context: Context) -> list[Row]:
    return [
        Row(
            link.seq,
            link.time,
            link.kind,
            link.kind.replace("_", " "),
            link.actor,
            **context.about(link.digest, link.seq),
        )
    ]


ROWS: Mapping[str, RowsOf] = {
    "plan_recorded": _plan_rows,
    "approval": _approval_rows,
    "workflow": _workflow_rows,
    "incident": _incident_rows,
    "apply": _apply_rows,
    "outside_change": _outside_rows,
}
KNOWN = frozenset({"plan_recorded", "apply", "incident", "approval", "workflow", "token", "outside_change"})


# -- making and checking a report ---------------------------------------------


def make(
    subject: Subject,
    events: Sequence[tuple[Link, Sequence[bytes]]],
    note: str,
    signer: Signer,
    *,
    made: datetime,
    made_by: str,
) -> dict[str, Any]:
    """The signed report of ``events`` (each with its inclusion proof against the checkpoint ``note``)."""
    links = [link for link, _ in events]
    body = {
        "version": VERSION,
        "subject": subject.to_json(),
        "made": iso(made),
        "made_by": made_by,
        "checkpoint": note,
        "events": [_event_json(link, proof) for link, proof in events],
        "rows": [row.to_json() for row in rows_of(links, subject)],
    }
    return body | {"signature": _signature(signer, body)}


def _signature(signer: Signer, body: Mapping[str, Any]) -> str:
    return signer.signature_line(canonical(body)).removesuffix("\n")


@dataclass(frozen=True)
class Checked:
    """What ``check`` found: every problem (none: the report holds), and what it counted."""

    problems: tuple[str, ...]
    events: int
    rows: int
    checkpoint_size: int | None

    @property
    def ok(self) -> bool:
        return not self.problems


def check(document: Mapping[str, Any], verifier: Verifier) -> Checked:
    """Check a report offline: its signature, its checkpoint, each event's hash and proof, and its rows."""
    try:
        return _check(document, verifier)
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        return Checked((f"not a custody report: {type(error).__name__}: {error}",), 0, 0, None)


def _check(document: Mapping[str, Any], verifier: Verifier) -> Checked:
    problems: list[str] = []
    if document.get("version") != VERSION:
        return Checked((f"not a {VERSION} report",), 0, 0, None)
    body = {key: value for key, value in document.items() if key != "signature"}
    if not _signed(verifier, body, str(document.get("signature", ""))):
        problems.append(
            f"the report's signature by {verifier.name} does not verify: it was edited after it was signed, "
            "or another key signed it"
        )
    size, root = None, b""
    try:
        checkpoint = open_checkpoint(str(document["checkpoint"]), verifier)
        size, root = checkpoint.size, checkpoint.root
    except CheckpointRefused as refused:
        problems.append(f"checkpoint: {refused}")
    links = []
    for event in document["events"]:
        link, proof = _event_from(event)
        links.append(link)
        problems.extend(_event_problems(link, proof, size, root))
    problems.extend(_row_problems(links, document))
    return Checked(tuple(problems), len(links), len(document["rows"]), size)


def _event_problems(link: Link, proof: list[bytes], size: int | None, root: bytes) -> list[str]:
    where = f"event seq {link.seq}"
    if link.computed_hash() != link.hash:
        return [f"{where}: its content does not match its hash (the event was edited)"]
    if size is None:
        return []
    if link.seq > size:
        return [f"{where}: the checkpoint signs only {size} events"]
    leaf = merkle.leaf_hash(bytes.fromhex(link.hash))
    if not merkle.verify_inclusion(link.seq - 1, size, leaf, proof, root):
        return [f"{where}: its inclusion proof does not lead to the checkpoint's root (not in the log)"]
    return []


def _row_problems(links: list[Link], document: Mapping[str, Any]) -> list[str]:
    subject = _subject_from(document["subject"])
    try:
        expected = [row.to_json() for row in rows_of(links, subject)]
    except (KeyError, TypeError, ValueError) as error:
        return [f"the events do not make rows ({type(error).__name__}: {error})"]
    stated = list(document["rows"])
    problems = []
    for index, (want, got) in enumerate(zip(expected, stated, strict=False)):
        if want != got:
            problems.append(f"row {index + 1} (seq {got.get('seq')}) does not say what its event says")
    if len(expected) != len(stated):
        problems.append(f"the events make {len(expected)} rows, the report shows {len(stated)}")
    return problems


def _signed(verifier: Verifier, body: Mapping[str, Any], line: str) -> bool:
    name, _, encoded = line.removeprefix(DASH).partition(" ")
    try:
        raw = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        return False
    if not line.startswith(DASH) or name != verifier.name or raw[:4] != verifier.key_hash:
        return False
    return verifier.verifies(canonical(body).encode("utf-8"), raw[4:])


def _event_json(link: Link, proof: Sequence[bytes]) -> dict[str, Any]:
    return {
        "seq": link.seq,
        "time": iso(link.time),
        "kind": link.kind,
        "digest": link.digest,
        "actor": link.actor,
        "payload": link.payload,
        "prev_hash": link.prev_hash,
        "hash": link.hash,
        "proof": [base64.b64encode(node).decode("ascii") for node in proof],
    }


def _event_from(body: Mapping[str, Any]) -> tuple[Link, list[bytes]]:
    link = Link(
        int(body["seq"]),
        parse_iso(body["time"]),
        str(body["kind"]),
        None if body["digest"] is None else str(body["digest"]),
        str(body["actor"]),
        str(body["payload"]),
        str(body["prev_hash"]),
        str(body["hash"]),
    )
    return link, [base64.b64decode(node, validate=True) for node in body["proof"]]


def _subject_from(body: Mapping[str, Any]) -> Subject:
    since, until = body["from"], body["to"]
    kind: SubjectKind = "matter" if body["kind"] == "matter" else "path"
    return Subject(
        kind,
        str(body["target"]),
        tuple(str(name) for name in body["names"]),
        None if since is None else parse_iso(since),
        None if until is None else parse_iso(until),
    )


def events_of(document: Mapping[str, Any]) -> list[Link]:
    """The events a report carries (for views; ``check`` first)."""
    return [_event_from(event)[0] for event in document["events"]]


def _fingerprint(entry: Entry | None) -> dict[str, Any] | None:
    if entry is None:
        return None
    return {"kind": entry.kind, "size": entry.size, "sha256": entry.sha256, "generation": entry.generation}
