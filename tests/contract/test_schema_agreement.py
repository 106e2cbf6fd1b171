"""The models never accept a document the JSON Schema refuses.

``parse_plan`` lets the (fast) models decide and consults the schema only to
word their refusals, which is sound only if every document the models accept
also passes the schema. These tests hold that on the example corpus and on
random mutations of valid plans.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from planner.core.plan import Plan
from planner.core.schema import plan_json_schema

EXAMPLES = Path(__file__).parents[2] / "schema" / "examples"
VALIDATOR = jsonschema.Draft202012Validator(plan_json_schema())
BASE: dict[str, Any] = {
    "pva": "plan/v1",
    "title": "t",
    "scope": ["m"],
    "ops": [
        {"op": "mkdir", "path": "m/a", "parents": True},
        {"op": "move", "src": "m/x", "dst": "m/a/x", "expect": {"sha256": "a" * 64}},
        {"op": "move", "src": "m/y", "dst": "m/a/y", "overwrite": True, "expect_dst": {"generation": 3}},
        {"op": "rename", "path": "m/a/x", "name": "X"},
        {"op": "write", "path": "m/w", "content": "aGk=", "encoding": "base64"},
        {
            "op": "write",
            "path": "m/v",
            "content_ref": "b" * 64,
            "overwrite": True,
            "expect": {"sha256": "c" * 64},
        },
        {"op": "copy", "src": "m/w", "dst": "m/w2", "reason": "why"},
        {"op": "delete", "path": "m/v", "expect": {"absent": True}},
    ],
}
ODD_VALUES = [None, True, False, 0, -1, 1.5, 2**60, "", "x", "a" * 64, [], {}, ["m"], {"absent": True}]


def models_accept(document: Any) -> bool:
    try:
        Plan.model_validate(document)
    except ValidationError:
        return False
    return True


def example_documents() -> list[tuple[str, Any]]:
    found = []
    for path in sorted(EXAMPLES.rglob("*.json")):
        body = json.loads(path.read_text())
        if isinstance(body, dict) and "plan" in body:
            found.append((path.name, body["plan"]))
    return found


@pytest.mark.parametrize(
    ("name", "document"), example_documents(), ids=lambda v: v if isinstance(v, str) else ""
)
def test_examples_accepted_by_models_pass_the_schema(name: str, document: Any) -> None:
    """Every example plan the models accept also passes the JSON Schema."""
    if models_accept(document):
        assert VALIDATOR.is_valid(document), name


@st.composite
def mutated(draw: st.DrawFn) -> Any:
    """A valid plan with a few fields removed, added or given odd values."""
    document = copy.deepcopy(BASE)
    for _ in range(draw(st.integers(1, 3))):
        listed = document.get("ops")
        ops = [op for op in listed if isinstance(op, dict)] if isinstance(listed, list) else []
        expects = [op["expect"] for op in ops if isinstance(op.get("expect"), dict)]
        target = draw(st.sampled_from([document, *ops, *expects]))
        keys = sorted(target)
        action = draw(st.sampled_from(["drop", "set", "add"]))
        if action == "drop" and keys:
            target.pop(draw(st.sampled_from(keys)))
        elif action == "set" and keys:
            target[draw(st.sampled_from(keys))] = draw(st.sampled_from(ODD_VALUES))
        else:
            name = draw(
                st.sampled_from(["overwrite", "parents", "encoding", "content", "expect", "extra", "size"])
            )
            target[name] = draw(st.sampled_from(ODD_VALUES))
    return document


@given(mutated())
def test_mutations_accepted_by_models_pass_the_schema(document: Any) -> None:
    """A mutated plan the models accept also passes the JSON Schema."""
    if models_accept(document):
        assert VALIDATOR.is_valid(document), json.dumps(document)


def test_the_base_plan_is_valid_both_ways() -> None:
    """The mutation base is itself valid for the models and the schema (so mutations mean something)."""
    assert models_accept(BASE)
    assert VALIDATOR.is_valid(BASE)
