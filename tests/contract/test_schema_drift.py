"""The checked-in JSON Schema is exactly what the models generate, and is itself a valid schema."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from planner.core.plan import OP_KINDS
from planner.core.schema import plan_json_schema

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "schema" / "plan.v1.schema.json"
STALE = "schema/plan.v1.schema.json is stale: run `make schema` and commit the result"


def _checked_in() -> Any:
    return json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))


def test_checked_in_schema_equals_the_models() -> None:
    """schema/plan.v1.schema.json equals planner.core.schema.plan_json_schema()."""
    assert _checked_in() == plan_json_schema(), STALE


def test_checked_in_schema_is_byte_for_byte_what_make_schema_writes() -> None:
    """The file is exactly `pva schema` output (2-space indent, raw UTF-8, final newline)."""
    expected = json.dumps(plan_json_schema(), indent=2, ensure_ascii=False) + "\n"
    assert SCHEMA_FILE.read_text(encoding="utf-8") == expected, STALE


def test_schema_is_a_valid_draft_2020_12_schema() -> None:
    """The schema declares draft 2020-12 and passes that metaschema's check."""
    schema = _checked_in()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(schema)


def test_every_model_object_forbids_unknown_fields() -> None:
    """Every object with declared properties (plan, each op, expect) refuses unknown fields."""
    schema = _checked_in()
    definitions = [*schema["$defs"].values(), schema]
    assert len(definitions) == len(OP_KINDS) + 2  # six ops, Expect, and the plan itself
    for definition in definitions:
        assert definition.get("additionalProperties") is False, definition.get("title")


def test_schema_dispatches_on_exactly_the_op_kinds() -> None:
    """The op union is keyed on exactly the six op kinds, each with its own rules."""
    items = _checked_in()["properties"]["ops"]["items"]
    assert items["properties"]["op"]["enum"] == list(OP_KINDS)
    kinds = [branch["if"]["properties"]["op"]["const"] for branch in items["allOf"]]
    assert kinds == list(OP_KINDS)
