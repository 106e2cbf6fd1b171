"""Every plan in schema/examples behaves as it says (format: schema/examples/README.md)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from planner import Code, Plan, PlanSyntaxError, Report, parse_plan, verify
from planner.core.holds import Hold
from planner.core.manifest import entry_line, header_line, read_entries, read_manifest
from planner.core.parse import load_strict_json
from planner.core.plan import OP_KINDS
from planner.core.report import WARNINGS

EXAMPLES = Path(__file__).resolve().parents[2] / "schema" / "examples"
SCHEMA_FILE = EXAMPLES.parent / "plan.v1.schema.json"
VALID = sorted((EXAMPLES / "valid").glob("*.json"))
INVALID = sorted((EXAMPLES / "invalid").glob("*.json"))
_KEYS = {"comment", "tree", "allowed", "blobs", "holds", "plan", "plan_text", "expect"}


def _ids(paths: list[Path]) -> list[str]:
    return [path.stem for path in paths]


@cache
def _load(path: Path) -> dict[str, Any]:
    example = load_strict_json(path.read_bytes())
    assert isinstance(example, dict), f"{path.name}: an example is a JSON object"
    assert set(example) <= _KEYS, f"{path.name}: unknown keys {set(example) - _KEYS}"
    assert isinstance(example.get("comment"), str), f"{path.name}: needs a comment"
    assert ("plan" in example) != ("plan_text" in example), f"{path.name}: needs plan or plan_text"
    return example


def _raw_plan(example: dict[str, Any]) -> str:
    text = example.get("plan_text")
    return text if isinstance(text, str) else json.dumps(example["plan"], ensure_ascii=False)


def _verify(example: dict[str, Any], plan: Plan) -> Report:
    lines = [header_line("/example", hashed=True)]
    lines += [json.dumps(entry, ensure_ascii=False) for entry in example.get("tree", [])]
    holds = tuple(Hold(hold["id"], hold["path"]) for hold in example.get("holds", []))
    tree = read_manifest(lines)
    return verify(plan, tree, allowed=example.get("allowed"), blobs=example.get("blobs"), holds=holds)


@cache
def _schema_validator() -> Draft202012Validator:
    return Draft202012Validator(json.loads(SCHEMA_FILE.read_text(encoding="utf-8")))


def _assert_schema_valid(example: dict[str, Any]) -> None:
    errors = [f"{e.json_path}: {e.message}" for e in _schema_validator().iter_errors(example["plan"])]
    assert errors == [], errors


def test_there_are_enough_examples() -> None:
    """The example folders are found and hold at least 8 valid and 15 invalid plans."""
    assert len(VALID) >= 8
    assert len(INVALID) >= 15


@pytest.mark.parametrize("path", VALID, ids=_ids(VALID))
def test_valid_example_parses_validates_and_verifies(path: Path) -> None:
    """A valid example parses, satisfies the checked-in JSON Schema and verifies ok against its tree."""
    example = _load(path)
    assert example["expect"].get("ok") is True
    assert "plan" in example, "valid examples are JSON documents, not raw text"
    plan = parse_plan(_raw_plan(example))
    _assert_schema_valid(example)
    report = _verify(example, plan)
    assert report.ok, [str(d) for d in report.diagnostics]
    allowed = set(example["expect"].get("warnings", []))
    assert {d.code.value for d in report.warnings} <= allowed, [str(d) for d in report.warnings]


@pytest.mark.parametrize("path", VALID, ids=_ids(VALID))
def test_valid_example_inverse_is_a_valid_plan(path: Path) -> None:
    """The inverse plan of a valid example is itself a plan the parser and the schema accept."""
    example = _load(path)
    report = _verify(example, parse_plan(_raw_plan(example)))
    assert report.inverse is not None
    document = report.model_dump(mode="json")["inverse"]
    parse_plan(json.dumps(document))
    assert list(_schema_validator().iter_errors(document)) == []


@pytest.mark.parametrize("path", INVALID, ids=_ids(INVALID))
def test_invalid_example_fails_exactly_as_named(path: Path) -> None:
    """An invalid example fails with the schema error or the diagnostic it names, and for no other reason."""
    example = _load(path)
    expect = example["expect"]
    assert ("schema_error" in expect) != ("diagnostic" in expect), f"{path.name}: name one outcome"
    if "schema_error" in expect:
        with pytest.raises(PlanSyntaxError) as caught:
            parse_plan(_raw_plan(example))
        locations = [p.location for p in caught.value.problems]
        assert expect["schema_error"] in locations, [str(p) for p in caught.value.problems]
        return
    plan = parse_plan(_raw_plan(example))
    _assert_schema_valid(example)
    report = _verify(example, plan)
    assert report.ok is False
    code = expect["diagnostic"]
    named = [
        d
        for d in report.errors
        if d.code == code
        and ("op_index" not in expect or d.op_index == expect["op_index"])
        and ("field" not in expect or d.field == expect["field"])
    ]
    assert named, [str(d) for d in report.diagnostics]
    permitted = {code, *expect.get("also", [])}
    assert {d.code.value for d in report.errors} <= permitted, [str(d) for d in report.errors]


def test_valid_examples_use_every_op_kind() -> None:
    """Between them, the valid examples show every op kind."""
    kinds = {op["op"] for path in VALID for op in _load(path)["plan"]["ops"]}
    assert kinds == set(OP_KINDS)


def test_invalid_examples_cover_every_error_code() -> None:
    """Between them, the invalid examples demonstrate every error code the verifier has."""
    named = {_load(path)["expect"].get("diagnostic") for path in INVALID}
    assert {code.value for code in Code if code not in WARNINGS} <= named


def test_example_trees_are_manifest_entries() -> None:
    """Example trees are valid manifest lines that survive a round trip through the manifest format."""
    for path in VALID + INVALID:
        entries = _load(path).get("tree", [])
        lines = [header_line("/example", hashed=True), *(json.dumps(e, ensure_ascii=False) for e in entries)]
        parsed = list(read_entries(lines))
        assert [json.loads(entry_line(e)) for e in parsed] == entries, path.name
