"""The records an apply's journal holds: typed, frozen, each with exactly one JSON form. Pure.

In the order an apply writes them (each appended and made durable before the next step)::

    Intent      {"type": "intent", ...}     the steps and batches; written before the first change
    Staged      {"type": "staged"}          new content is staged; steps may run from here on
    Batch       {"type": "batch", "n": k}   batch k is durable
    Commit      {"type": "commit"}          the commit point: the plan is applied
    Rollback    {"type": "rollback"}        recovery or a failure is undoing the apply (and why, if known)
    Undone      {"type": "undone", "n": k}  batch k is undone
    RolledBack  {"type": "rolled_back"}     nothing of the plan remains
    Audited     {"type": "audited"}         the outcome is in the audit database
    Checked     {"type": "checked"}         the touched paths were read back and compared
    Done        {"type": "done"}            staging cleaned up; the journal is retired next

``encode`` and ``decode`` are the one codec (one JSON object per line). A
record ``decode`` does not know is refused with a RecoveryError: recovery
never guesses what a journal it cannot read means.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, assert_never

from planner.core.entry import Entry
from planner.core.report import Diagnostic
from sidecar.apply.compile import Step, step_from, step_json
from sidecar.audit.records import (
    OpRecord,
    TrashedFile,
    entry_from,
    entry_json,
    ops_from,
    ops_json,
    trashed_from,
    trashed_json,
)
from sidecar.errors import RecoveryError


@dataclass(frozen=True)
class Intent:
    """What an apply will do, durable before its first change: enough to finish or undo it alone."""

    digest: str
    attempt: str
    actor: str
    started: datetime
    locks: tuple[str, ...]  # the paths it holds locked
    steps: tuple[Step, ...]
    batches: tuple[tuple[int, int], ...]  # [start, end) ranges of ``steps``
    ops: tuple[OpRecord, ...]  # the audit's record of each op, once applied
    trashed: tuple[TrashedFile, ...]
    warnings: tuple[Diagnostic, ...]
    prediction: Mapping[str, Entry | None]  # what each touched path holds afterwards
    inverse: dict[str, Any] | None  # the plan document that undoes it (a plan's JSON)


@dataclass(frozen=True)
class Staged:
    """New content is staged and trash folders made: steps may run."""


@dataclass(frozen=True)
class Batch:
    """Batch ``n`` of the steps is durable."""

    n: int


@dataclass(frozen=True)
class Commit:
    """The commit point: the plan is applied."""


@dataclass(frozen=True)
class Rollback:
    """The apply is being undone; ``error`` is why, when the apply itself failed."""

    error: str | None = None


@dataclass(frozen=True)
class Undone:
    """Batch ``n`` is undone."""

    n: int


@dataclass(frozen=True)
class RolledBack:
    """Nothing of the plan remains in the store."""


@dataclass(frozen=True)
class Audited:
    """The outcome is recorded in the audit database."""


@dataclass(frozen=True)
class Checked:
    """The touched paths were read back and compared with the prediction."""


@dataclass(frozen=True)
class Done:
    """Staging is cleaned up; the journal is retired next."""


JournalRecord = Intent | Staged | Batch | Commit | Rollback | Undone | RolledBack | Audited | Checked | Done


def encode(record: JournalRecord) -> dict[str, Any]:
    """The record's one JSON form."""
    match record:
        case Intent():
            return _intent_json(record)
        case Batch(n=n):
            return {"type": "batch", "n": n}
        case Undone(n=n):
            return {"type": "undone", "n": n}
        case Rollback(error=error):
            return {"type": "rollback"} | ({} if error is None else {"error": error})
        case Staged() | Commit() | RolledBack() | Audited() | Checked() | Done():
            return {"type": _PLAIN_NAMES[type(record)]}
        case _:
            assert_never(record)


def decode(body: object) -> JournalRecord:
    """The record a JSON form holds; RecoveryError if it is not one pva writes."""
    try:
        return _decode(body)
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        shown = repr(body)
        shown = shown if len(shown) <= 200 else f"{shown[:200]}..."
        raise RecoveryError(f"not a journal record pva writes ({error}): {shown}") from error


def _decode(body: object) -> JournalRecord:
    match body:
        case {"type": "intent", **fields}:
            return _intent_from({str(key): value for key, value in fields.items()})
        case {"type": "batch", "n": int(n)}:
            return Batch(n)
        case {"type": "undone", "n": int(n)}:
            return Undone(n)
        case {"type": "rollback", "error": str(error)}:
            return Rollback(error)
        case {"type": "rollback"}:
            return Rollback()
        case {"type": str(name)} if name in _PLAIN:
            return _PLAIN[name]()
        case _:
            raise ValueError("unknown record type")


_PLAIN: dict[str, type[Staged | Commit | RolledBack | Audited | Checked | Done]] = {
    "staged": Staged,
    "commit": Commit,
    "rolled_back": RolledBack,
    "audited": Audited,
    "checked": Checked,
    "done": Done,
}
_PLAIN_NAMES = {kind: name for name, kind in _PLAIN.items()}


def _intent_json(intent: Intent) -> dict[str, Any]:
    return {
        "type": "intent",
        "digest": intent.digest,
        "attempt": intent.attempt,
        "actor": intent.actor,
        "started": intent.started.isoformat(),
        "locks": list(intent.locks),
        "steps": [step_json(step) for step in intent.steps],
        "batches": [list(batch) for batch in intent.batches],
        "ops": ops_json(intent.ops),
        "trashed": trashed_json(intent.trashed),
        "warnings": [d.model_dump(mode="json") for d in intent.warnings],
        "prediction": {path: entry_json(entry) for path, entry in intent.prediction.items()},
        "inverse": intent.inverse,
    }


def _intent_from(body: dict[str, Any]) -> Intent:
    batches = tuple((int(start), int(end)) for start, end in body["batches"])
    inverse = body["inverse"]
    if inverse is not None and not isinstance(inverse, dict):
        raise TypeError("the inverse is not a plan document")
    return Intent(
        digest=_text(body["digest"]),
        attempt=_text(body["attempt"]),
        actor=_text(body["actor"]),
        started=datetime.fromisoformat(body["started"]),
        locks=tuple(_text(path) for path in body["locks"]),
        steps=tuple(step_from(step) for step in body["steps"]),
        batches=batches,
        ops=tuple(ops_from(body["ops"])),
        trashed=tuple(trashed_from(body["trashed"])),
        warnings=tuple(Diagnostic.model_validate(d) for d in body["warnings"]),
        prediction={path: entry_from(entry) for path, entry in body["prediction"].items()},
        inverse=inverse,
    )


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected text, found {value!r}")
    return value
