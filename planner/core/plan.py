"""The plan DSL v1: pydantic models, the canonical encoding and the digest.

A plan is a command, not an event: models are frozen, unknown fields are
errors and nothing is coerced. Path *spelling* is not checked here but by the
verifier (``planner.core.paths``), so that an agent gets every bad path back as a
diagnostic at once instead of the first one as a parse error.

digest: sha256 of the canonical encoding of the plan; it is the plan's
identity everywhere (approval, idempotency, audit). An approval is valid only
for this digest.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from functools import cached_property
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

PLAN_VERSION = "plan/v1"
# Integers beyond 2**53 - 1 do not survive JSON parsers that use doubles, and
# would break the JCS canonical encoding; sizes and generations stay below.
MAX_SAFE_INTEGER = 2**53 - 1

StorePath = Annotated[
    str,
    Field(
        min_length=1,
        max_length=4096,
        description="Relative to the store root, '/'-separated, NFC (see plan-format.md).",
    ),
]
Name = Annotated[str, Field(min_length=1, max_length=1024, description="One path segment.")]
Sha256Hex = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$", description="Lowercase hex sha256.")]
Reason = Annotated[str, Field(max_length=4000, description="Why: shown to the approver, audited.")]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)


class Expect(_Frozen):
    """Preconditions on a path, checked against the live store at apply time."""

    sha256: Sha256Hex | None = None
    size: Annotated[int, Field(ge=0, le=MAX_SAFE_INTEGER)] | None = None
    generation: (
        Annotated[int, Field(ge=1, le=MAX_SAFE_INTEGER, description="GCS object generation.")] | None
    ) = None
    absent: Literal[True] | None = None

    @model_validator(mode="after")
    def _coherent(self) -> Self:
        stated = [self.sha256, self.size, self.generation]
        if self.absent and any(value is not None for value in stated):
            raise ValueError("'absent' cannot be combined with sha256, size or generation")
        if not self.absent and all(value is None for value in stated):
            raise ValueError("expect must state at least one of sha256, size, generation, absent")
        return self

    @property
    def pins_content(self) -> bool:
        """True when the expectation identifies one exact version of a file."""
        return self.sha256 is not None or self.generation is not None


def _needs_pinned(expect: Expect | None, field: str) -> None:
    if expect is None or not expect.pins_content:
        raise ValueError(f"'overwrite': true needs '{field}' with sha256 or generation")


# JSON Schema fragment mirroring the "overwrite needs expect" validators, so raw
# input is refused at the schema layer with the same rule the models enforce.
def _overwrite_needs(field: str) -> dict[str, Any]:
    pinned = {"anyOf": [{"required": ["sha256"]}, {"required": ["generation"]}]}
    return {
        "if": {"properties": {"overwrite": {"const": True}}, "required": ["overwrite"]},
        "then": {"required": [field], "properties": {field: pinned}},
    }


class _Op(_Frozen):
    reason: Reason | None = None
    expect: Expect | None = None


class Mkdir(_Op):
    """Create a folder; with ``parents`` also its missing ancestors (an existing folder is fine)."""

    op: Literal["mkdir"]
    path: StorePath
    parents: bool = False


class Move(_Op):
    """Move a file or folder. ``expect`` is about ``src``, ``expect_dst`` about ``dst``."""

    model_config = ConfigDict(json_schema_extra=_overwrite_needs("expect_dst"))

    op: Literal["move"]
    src: StorePath
    dst: StorePath
    overwrite: bool = False
    expect_dst: Expect | None = None

    @model_validator(mode="after")
    def _overwrite_pinned(self) -> Self:
        if self.overwrite:
            _needs_pinned(self.expect_dst, "expect_dst")
        return self


class Rename(_Op):
    """Give a file or folder a new name in the same folder."""

    op: Literal["rename"]
    path: StorePath
    name: Name


class Write(_Op):
    """Create a file from inline ``content`` or an uploaded blob ``content_ref``."""

    model_config = ConfigDict(
        json_schema_extra={
            # null counts as absent, as in the model: exactly one of the two is a string
            "oneOf": [
                {"required": ["content"], "properties": {"content": {"type": "string"}}},
                {"required": ["content_ref"], "properties": {"content_ref": {"type": "string"}}},
            ],
            "dependentSchemas": {"encoding": {"required": ["content"]}},
            **_overwrite_needs("expect"),
        }
    )

    op: Literal["write"]
    path: StorePath
    content: str | None = None
    encoding: Literal["utf-8", "base64"] = "utf-8"
    content_ref: Sha256Hex | None = None
    overwrite: bool = False

    @model_validator(mode="after")
    def _one_source(self) -> Self:
        if (self.content is None) == (self.content_ref is None):
            raise ValueError("write needs exactly one of 'content' and 'content_ref'")
        if self.content_ref is not None and "encoding" in self.model_fields_set:
            raise ValueError("'encoding' applies only to inline 'content'")
        if self.content is not None and self.encoding == "base64":
            _decode_base64(self.content)
        if self.overwrite:
            _needs_pinned(self.expect, "expect")
        return self

    def data(self) -> bytes | None:
        """The inline bytes to write, or None for a ``content_ref`` write."""
        if self.content is None:
            return None
        if self.encoding == "base64":
            return _decode_base64(self.content)
        return self.content.encode("utf-8")


class Copy(_Op):
    """Copy a file or folder to a new path."""

    op: Literal["copy"]
    src: StorePath
    dst: StorePath


class Delete(_Op):
    """Move a file or folder to the store's trash (undoable; purging is an admin act)."""

    op: Literal["delete"]
    path: StorePath


Op = Annotated[Mkdir | Move | Rename | Write | Copy | Delete, Field(discriminator="op")]
OP_KINDS: tuple[str, ...] = ("mkdir", "move", "rename", "write", "copy", "delete")


class Plan(_Frozen):
    """A mutation plan: a titled, scoped list of ops applied in order, all or nothing."""

    pva: Literal["plan/v1"]
    title: Annotated[str, Field(min_length=1, max_length=200)]
    scope: Annotated[
        list[StorePath], Field(min_length=1, max_length=64, json_schema_extra={"uniqueItems": True})
    ]
    ops: Annotated[list[Op], Field(min_length=1, max_length=1_000_000)]

    @model_validator(mode="after")
    def _distinct_scope(self) -> Self:
        if len(set(self.scope)) != len(self.scope):
            raise ValueError("scope lists a root more than once")
        return self

    def canonical_json(self) -> bytes:
        """The canonical encoding: sorted keys, no whitespace, UTF-8, defaults omitted.

        With only strings, integers, booleans, arrays and objects in a plan, this
        is the RFC 8785 (JCS) encoding. Omitting defaults makes ``"parents":
        false`` and a missing ``parents`` one plan with one digest.
        """
        body = self.model_dump(mode="json", exclude_defaults=True, exclude_none=True)
        return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()

    def digest(self) -> str:
        """The plan's identity: lowercase hex sha256 of the canonical encoding."""
        return self._digest

    @cached_property
    def _digest(self) -> str:
        # A plan is frozen, so its digest is computed once (it is asked for often).
        return hashlib.sha256(self.canonical_json()).hexdigest()

    def to_json(self, *, indent: int | None = 2) -> str:
        """A readable JSON rendering (not canonical; use ``canonical_json`` to sign)."""
        body = self.model_dump(mode="json", exclude_defaults=True, exclude_none=True)
        return json.dumps(body, indent=indent, ensure_ascii=False)


def _decode_base64(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except binascii.Error as error:
        raise ValueError(f"'content' is not valid base64 ({error})") from None
