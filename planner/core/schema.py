"""The plan's JSON Schema, generated from the models.

``schema/plan.v1.schema.json`` is this function's output, checked in and
drift-tested. One adjustment to pydantic's output: the op union becomes an
``if``/``then`` chain keyed on ``op`` instead of a ``oneOf``, so that a bad op
is reported against its own kind's rules ("/ops/3: 'dst' is a required
property") rather than as "not valid under any of the given schemas".
"""

from __future__ import annotations

from functools import cache
from typing import Any

from planner.core.plan import OP_KINDS, Plan

SCHEMA_ID = "https://pva.invalid/schema/plan.v1.schema.json"


@cache
def plan_json_schema() -> dict[str, Any]:
    """Return the JSON Schema (draft 2020-12) of plan/v1."""
    schema = Plan.model_json_schema(mode="validation")
    ops = schema["properties"]["ops"]
    union = ops["items"]
    refs = {_kind_of(schema, ref["$ref"]): ref["$ref"] for ref in union["oneOf"]}
    assert sorted(refs) == sorted(OP_KINDS), refs
    ops["items"] = {
        "type": "object",
        "required": ["op"],
        "properties": {"op": {"enum": list(OP_KINDS)}},
        "allOf": [
            {"if": {"required": ["op"], "properties": {"op": {"const": kind}}}, "then": {"$ref": refs[kind]}}
            for kind in OP_KINDS
        ],
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        **schema,
    }


def _kind_of(schema: dict[str, Any], ref: str) -> str:
    name = ref.rsplit("/", 1)[1]
    kind: str = schema["$defs"][name]["properties"]["op"]["const"]
    return kind
