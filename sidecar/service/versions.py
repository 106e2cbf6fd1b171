"""What a plan's page and view show of its earlier versions: the difference op by op, and their discussion.

A plan's previous version is the one it ``supersedes`` (a revision) or the
one it was ``derived`` from (the part a person approved). The difference is
``planner.core.revision.diff_ops`` against it; the discussion is every remark
made on earlier versions (requests for changes and their per-op comments,
rejections, approvals' comments), following the chain back, each marked with
the version it was made on and, where the op is still there, its op now.

The ethical wall holds here too: the chain stops at the first version the
reader may not see, so nothing of it (digest, ops, comments, names) is shown.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from planner.core.plan import Plan
from planner.core.revision import OpChange, diff_ops, matches
from sidecar.audit.chain import iso
from sidecar.service.cases import StoredCase
from sidecar.workflow import Derivation, PlanCase, State

MAX_VERSIONS = 20  # how far back the discussion is followed
RemarkKind = Literal["changes_requested", "rejected", "approved", "op_comment"]


@dataclass(frozen=True)
class Remark:
    """One remark made on an earlier version, carried to a later one."""

    version: str  # the digest of the version it was made on
    kind: RemarkKind
    actor: str
    time: datetime
    comment: str
    op: int | None = None  # 0-based, on that version
    now_op: int | None = None  # 0-based, the same op (same kind and paths) in the version shown

    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "kind": self.kind,
            "actor": self.actor,
            "time": iso(self.time),
            "comment": self.comment,
            "op": self.op,
            "now_op": self.now_op,
        }


@dataclass(frozen=True)
class Versions:
    """What a reader may see of a plan's other versions (None and empty when they may see none)."""

    previous: str | None  # the version this one replaced
    superseded_by: str | None  # the version that replaced this one
    derived: Derivation | None  # how this part was derived (only when the original is visible)
    changes: tuple[OpChange, ...] | None  # against ``previous``
    previous_ops: dict[int, dict[str, Any]]  # the removed and changed ops of ``previous``, as JSON
    remarks: tuple[Remark, ...]


NO_VERSIONS = Versions(None, None, None, None, {}, ())


def previous_of(case: PlanCase) -> str | None:
    """The digest of the version ``case`` replaced: the one it supersedes, or the plan it is a part of."""
    if case.supersedes is not None:
        return case.supersedes
    return None if case.derived is None else case.derived.original


def versions(
    stored: StoredCase,
    *,
    seen: Callable[[str], StoredCase | None],
    plan_of: Callable[[str], Plan],
) -> Versions:
    """The versions of ``stored`` a reader sees; ``seen`` gives a case they may see (else None)."""
    case = stored.case
    newer = None if case.superseded_by is None else seen(case.superseded_by)
    previous = None if previous_of(case) is None else seen(previous_of(case) or "")
    if previous is None:
        return Versions(None, None if newer is None else newer.digest, None, None, {}, ())
    current_ops = plan_of(stored.digest).ops
    older_ops = plan_of(previous.digest).ops
    changes = diff_ops(older_ops, current_ops)
    shown = {c.previous_op for c in changes if c.previous_op is not None}
    previous_ops = {
        index: older_ops[index].model_dump(mode="json", exclude_defaults=True, exclude_none=True)
        for index in sorted(shown)
    }
    return Versions(
        previous=previous.digest,
        superseded_by=None if newer is None else newer.digest,
        derived=case.derived,
        changes=changes,
        previous_ops=previous_ops,
        remarks=_remarks(previous, current_ops, seen=seen, plan_of=plan_of),
    )


def _remarks(
    first: StoredCase,
    current_ops: list[Any],
    *,
    seen: Callable[[str], StoredCase | None],
    plan_of: Callable[[str], Plan],
) -> tuple[Remark, ...]:
    """The remarks of ``first`` and the versions before it that the reader sees, newest version first."""
    found: list[Remark] = []
    later_ops, to_now = current_ops, {index: index for index in range(len(current_ops))}
    version: StoredCase | None = first
    for _ in range(MAX_VERSIONS):
        if version is None:
            break
        ops = plan_of(version.digest).ops
        pairs = matches(ops, later_ops)
        to_now = {index: to_now[later] for index, later in pairs.items() if later in to_now}
        found += remarks_of(version.case, to_now)
        later_ops = ops
        older = previous_of(version.case)
        version = None if older is None else seen(older)
    return tuple(found)


def remarks_of(case: PlanCase, to_now: dict[int, int]) -> list[Remark]:
    """What people said on ``case``; ``to_now`` maps its ops to the ops of the version shown."""
    said = [
        Remark(case.digest, "approved", a.approver, a.time, a.comment)
        for a in case.approvals
        if a.comment and a.digest == case.digest
    ]
    rejection = case.rejection
    if rejection is not None:
        kind: RemarkKind = "rejected" if case.state is State.REJECTED else "changes_requested"
        said.append(Remark(case.digest, kind, rejection.actor, rejection.time, rejection.comment))
        said += [
            Remark(
                case.digest, "op_comment", rejection.actor, rejection.time, c.comment, c.op, to_now.get(c.op)
            )
            for c in rejection.ops
        ]
    return said
