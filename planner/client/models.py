"""What the sidecar's API answers about plans, as the client reads it (mirrors sidecar/api/models.py).

The planner never imports the sidecar, so these models restate its response
bodies. They ignore fields they do not know: a newer sidecar may add some.
``report`` is the verifier's ``report/v1``, checked as strictly as locally.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from planner.core.report import Diagnostic, Report
from planner.core.states import PlanState

UNDECIDED = frozenset({PlanState.PENDING, PlanState.APPROVED, PlanState.APPLYING})
REFUSED = frozenset(  # nothing changed (a superseded plan's replacement is another plan)
    {PlanState.REJECTED, PlanState.FAILED, PlanState.STALE, PlanState.CHANGES_REQUESTED, PlanState.SUPERSEDED}
)


class _Answer(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class PolicyDecision(_Answer):
    """What the sidecar's policy decided for the plan, and which rule decided it."""

    outcome: str
    approvals_needed: int = 0
    rule_name: str | None = None
    reason: str = ""
    advice: list[str] = []  # what 'advise' rules that matched say: shown, deciding nothing
    overridable: bool = False  # a deny an admin may override with a reason


class Approval(_Answer):
    """One approval; ``counts`` is false once it expired or the plan's base state changed."""

    approver: str
    time: datetime
    comment: str
    counts: bool = True
    groups: list[str] = []


class Need(_Answer):
    """Approvals a plan still needs from one group (``ops``: 0-based; None: the whole plan)."""

    group: str
    more: int
    ops: list[int] | None = None


class OpComment(_Answer):
    """What a person asked to change in one op: ``op`` is 0-based, as in the plan's ``ops``."""

    op: int
    comment: str


class Rejection(_Answer):
    """Who rejected the plan (or asked for changes, per op: state changes_requested), and why."""

    actor: str
    time: datetime
    comment: str
    ops: list[OpComment] = Field(default_factory=list)


class Derived(_Answer):
    """How a part of a plan came to be: ``approver`` approved ``original`` without the ops ``without``."""

    original: str
    approver: str
    without: list[int] = Field(description="0-based indexes, in the original plan, of the ops left out.")
    time: datetime


class OpChange(_Answer):
    """One difference from the previous version (ops match by kind and paths; indexes 0-based)."""

    change: str  # added, removed, changed
    op: int | None = None
    previous_op: int | None = None
    fields: list[str] = Field(default_factory=list)
    previous: dict[str, Any] | None = None


class Remark(_Answer):
    """A remark on an earlier version, carried over (``op``: of that version; ``now_op``: of this one)."""

    version: str
    kind: str  # changes_requested, rejected, approved, op_comment
    actor: str
    time: datetime
    comment: str
    op: int | None = None
    now_op: int | None = None


class ApplyProgress(_Answer):
    """How far an apply has got: the plan's ops, and the store's objects (a bucket's folder is many)."""

    ops_done: int
    ops_total: int
    objects_done: int
    objects_total: int

    def __str__(self) -> str:
        return (
            f"{self.ops_done} of {self.ops_total} op{'s' * (self.ops_total != 1)}, "
            f"{self.objects_done} of {self.objects_total} object{'s' * (self.objects_total != 1)} done"
        )


class PlanSummary(_Answer):
    """A plan as the sidecar lists it."""

    id: str = Field(description="The plan's digest.")
    title: str
    state: PlanState
    author: str
    submitted: datetime
    updated: datetime
    revert_of: str | None = None

    @property
    def undecided(self) -> bool:
        """True while pending, approved or applying: the plan may still move on."""
        return self.state in UNDECIDED


class PlanStatus(PlanSummary):
    """A submitted plan: where it stands, why, and what verification found."""

    authors: list[str] = Field(default_factory=list)
    paths: list[str] = Field(default_factory=list)
    fingerprint: str = ""
    decision: PolicyDecision | None = None
    approvals_needed: int = 0
    approvals: list[Approval] = Field(default_factory=list)
    needs: list[Need] = Field(default_factory=list, description="Group approvals it still needs.")
    rejection: Rejection | None = None
    diagnostics: list[Diagnostic] = Field(default_factory=list)
    inverse_id: str | None = None
    report: Report | None = None
    plan: dict[str, Any] | None = Field(None, description="The plan document; only from get().")
    contents: list[dict[str, Any]] | None = Field(
        None, description="What each write puts in the store (planner.core.preview); only from get()."
    )
    incidents: list[dict[str, Any]] | None = Field(
        None, description="Incidents recorded while it applied (time, message, paths); only from get()."
    )
    trees: dict[str, Any] | None = Field(
        None,
        description="Before and after trees (read with planner.core.treeview.trees_from); only from get().",
    )
    progress: ApplyProgress | None = Field(None, description="How far its apply has got, once it started.")
    supersedes: str | None = Field(
        None, description="The earlier version it replaced (or the plan it is part of)."
    )
    superseded_by: str | None = Field(None, description="The plan that replaced it (state superseded).")
    page: str | None = Field(None, description="Its approval page: where a person reviews and decides it.")
    derived: Derived | None = Field(None, description="Set on the part of a plan a person approved.")
    changes: list[OpChange] | None = Field(None, description="The difference from the 'supersedes' version.")
    discussion: list[Remark] = Field(default_factory=list, description="Remarks on earlier versions.")

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity == "error"]


class HoldOut(_Answer):
    """A legal hold as the sidecar shows it; a ``redacted`` one has only its id and the paths in scope."""

    id: str
    status: str = "active"
    redacted: bool = False
    paths: list[str]
    matter: str | None = None
    reason: str | None = None
    placed: datetime
    placed_by: str | None = None
    released: datetime | None = None
    released_by: str | None = None
    release_reason: str | None = None
