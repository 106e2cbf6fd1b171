"""The types of what arrives at the HTTP edge as text (query parameters, form fields), API and pages alike.

``UtcTime``: a date or time, without a zone read as UTC (``sidecar.times``);
one that cannot be held in UTC is a 422 naming the parameter.
``Storable``: text the databases can store. PostgreSQL cannot hold NUL in
text, so NUL is refused here with a 422 naming the field, before any query.
``storable_problems`` applies the same rule to a plan's free text.
``Comment``: a person's reason for approving or rejecting, as the API's body
and the page's form field alike. ``HoldRequest`` and ``HoldRelease``: what
counsel sends to place and to release a legal hold, API and page alike.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from planner.core.errors import SchemaProblem
from planner.core.plan import Plan
from sidecar.times import as_utc

NUL_MESSAGE = "holds a NUL character, which cannot be stored"


def storable(text: str) -> str:
    """``text`` if the databases can store it, else ValueError saying why."""
    if "\x00" in text:
        raise ValueError(NUL_MESSAGE)
    return text


UtcTime = Annotated[datetime, AfterValidator(as_utc)]
Storable = Annotated[str, AfterValidator(storable)]


def storable_problems(plan: Plan) -> list[SchemaProblem]:
    """Where ``plan``'s free text (title, reasons) holds what the databases cannot store.

    Paths never do: the path rules refuse every control character.
    """
    problems = [SchemaProblem("/title", NUL_MESSAGE)] if "\x00" in plan.title else []
    problems += [
        SchemaProblem(f"/ops/{index}/reason", NUL_MESSAGE)
        for index, op in enumerate(plan.ops)
        if op.reason is not None and "\x00" in op.reason
    ]
    return problems


class Comment(BaseModel):
    """A person's reason for approving or rejecting (required: it goes to the audit)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    comment: Annotated[str, Field(min_length=1, max_length=2000, pattern=r"\S"), AfterValidator(storable)]


class OpNote(BaseModel):
    """What to change in one op: its 0-based index in the plan's ``ops``, and the comment."""

    model_config = ConfigDict(extra="forbid", strict=True)

    op: Annotated[int, Field(ge=0, le=1_000_000)]
    comment: Annotated[str, Field(min_length=1, max_length=2000, pattern=r"\S"), AfterValidator(storable)]


class ApprovalRequest(Comment):
    """An approval: the comment, and the ops to leave out (0-based), to approve only the rest of the plan."""

    without: Annotated[
        list[Annotated[int, Field(ge=0, le=1_000_000)]],
        Field(max_length=10_000, description="0-based indexes of the ops not approved; empty: all."),
    ] = []


class ChangesRequest(Comment):
    """A request for changes: the overall comment, and per-op comments (0-based op indexes)."""

    ops: Annotated[list[OpNote], Field(max_length=1000)] = []


OneLine = Annotated[str, Field(min_length=1, pattern=r"\S"), AfterValidator(storable)]


class HoldRequest(BaseModel):
    """A legal hold to place: the store paths it preserves, its matter and the reason (both audited)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    paths: Annotated[
        list[Annotated[str, Field(min_length=1, max_length=1024)]], Field(min_length=1, max_length=64)
    ]
    matter: Annotated[OneLine, Field(max_length=200)]
    reason: Annotated[OneLine, Field(max_length=2000)]


class HoldRelease(BaseModel):
    """Why a legal hold ends (required: it goes to the audit)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    reason: Annotated[OneLine, Field(max_length=2000)]
