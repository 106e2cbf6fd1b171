"""What verification returns: diagnostics with stable codes, the effect, the inverse plan.

Codes are a public contract: agents branch on them. Add codes, never rename.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from planner.core.plan import Plan


class Code(StrEnum):
    """Stable diagnostic codes (documented in docs/plan-format.md)."""

    INVALID_PATH = "invalid_path"
    OUT_OF_SCOPE = "out_of_scope"
    NOT_FOUND = "not_found"
    ALREADY_EXISTS = "already_exists"
    PARENT_NOT_FOUND = "parent_not_found"
    NOT_A_DIRECTORY = "not_a_directory"
    IS_A_DIRECTORY = "is_a_directory"
    INTO_ITSELF = "into_itself"
    NAME_COLLISION = "name_collision"
    PRECONDITION_FAILED = "precondition_failed"
    CONFLICT = "conflict"
    TOO_LARGE = "too_large"
    ON_HOLD = "on_hold"  # moves, renames, overwrites or deletes something under a legal hold
    # Warnings: the plan is valid, but something could not be checked or undone.
    UNVERIFIED = "unverified"
    NO_INVERSE = "no_inverse"


WARNINGS = frozenset({Code.UNVERIFIED, Code.NO_INVERSE})


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Diagnostic(_Out):
    """One problem with a plan, precise enough for an agent to fix it."""

    code: Code
    severity: Literal["error", "warning"] = "error"
    op_index: int | None = Field(None, description="Index into ops; null for the plan as a whole.")
    field: str | None = Field(None, description="The op field at fault, e.g. 'dst'.")
    path: str | None = None
    message: str

    def __str__(self) -> str:
        where = "plan" if self.op_index is None else f"op {self.op_index}"
        field = f".{self.field}" if self.field else ""
        return f"{self.severity}[{self.code}] {where}{field}: {self.message}"


class Transfer(_Out):
    """A source and destination pair (moves, renames, copies)."""

    src: str
    dst: str


class Effect(_Out):
    """What the plan does to the store, if applied to the tree it was verified against."""

    counts: dict[str, int] = Field(description="Ops by kind.")
    created: list[str] = Field(description="New folders and files (mkdir, write, copy targets).")
    moved: list[Transfer] = Field(description="Moves and renames, in plan order.")
    written: list[str] = Field(description="Paths given new content by write ops.")
    overwritten: list[str] = Field(
        description="Existing files replaced (their old content is kept in trash)."
    )
    copied: list[Transfer]
    deleted: list[str] = Field(description="Paths moved to the store's trash.")
    files_deleted: int = Field(description="Files inside the deleted paths, themselves included.")
    bytes_written: int = Field(description="Bytes of new content from write ops (known sizes).")
    bytes_copied: int


class Report(_Out):
    """The verifier's answer: ``ok`` is true when there is no error diagnostic."""

    version: Literal["report/v1"] = "report/v1"
    ok: bool
    digest: str
    title: str
    diagnostics: list[Diagnostic]
    effect: Effect
    inverse: dict[str, Any] | None = Field(
        description="The plan document that undoes this one (submit it like any plan); "
        "null when the plan is not ok or changes nothing.",
        json_schema_extra={"$ref": "plan.v1.schema.json"},
    )

    def inverse_plan(self) -> Plan | None:
        """The inverse as a validated ``Plan``."""
        return None if self.inverse is None else Plan.model_validate(self.inverse)

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity == "error"]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity == "warning"]
