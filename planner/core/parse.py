"""Read an untrusted plan: strict JSON, then the models and the JSON Schema.

The first of the three validation layers (syntax). Every failure becomes a
``PlanSyntaxError`` listing problems at JSON Pointer locations; nothing an
agent sends can make this raise anything else.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import cache
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from planner.core.errors import PlanSyntaxError, SchemaProblem
from planner.core.plan import OP_KINDS, Plan
from planner.core.schema import plan_json_schema

if TYPE_CHECKING:  # jsonschema is imported only to word a refusal: a valid plan never needs it
    import jsonschema

MAX_PROBLEMS = 50  # enough to act on; a hostile document cannot flood the report


QUOTE_CHARS = 40  # of a refused value, quoted in a problem: never the value itself, whatever its size
MAX_MESSAGE = 300  # characters of one problem's message


class _Refused(ValueError):
    pass


class _Quoted(str):
    """A long string whose ``repr`` is a short prefix: jsonschema quotes refused values with ``repr``."""

    __slots__ = ()

    def __repr__(self) -> str:
        return quote(self)


def quote(text: str) -> str:
    """``text`` quoted and escaped for a message: its first QUOTE_CHARS characters, and its length."""
    if len(text) <= QUOTE_CHARS:
        return repr(str(text))
    return f"{str(text[:QUOTE_CHARS])!r}... ({len(text)} characters)"


def _quoting(document: Any) -> Any:
    """``document`` with every long string and key a ``_Quoted``: what jsonschema says of them stays short.

    Iterative, so a document nested near the recursion limit is copied too.
    """
    holder: list[Any] = [None]
    stack: list[tuple[Any, Any, Any]] = [(holder, 0, document)]
    while stack:
        parent, slot, node = stack.pop()
        if isinstance(node, str):
            parent[slot] = _Quoted(node) if len(node) > QUOTE_CHARS else node
        elif isinstance(node, dict):
            keys = [_Quoted(key) if len(key) > QUOTE_CHARS else key for key in node]
            parent[slot] = fields = dict.fromkeys(keys)
            stack.extend((fields, key, value) for key, value in zip(keys, node.values(), strict=True))
        elif isinstance(node, list):
            parent[slot] = items = [None] * len(node)
            stack.extend((items, index, value) for index, value in enumerate(node))
        else:
            parent[slot] = node
    return holder[0]


def parse_plan(raw: bytes | str) -> Plan:
    """Parse and validate a plan document, or raise PlanSyntaxError."""
    document = load_strict_json(raw)
    return plan_from_document(document)


def plan_from_document(document: Any) -> Plan:
    """Validate a decoded JSON document as a plan, or raise PlanSyntaxError.

    The strict models, from which the JSON Schema is generated, decide first:
    they run in compiled code, about 40 times faster than jsonschema. Only
    when they refuse does jsonschema run, to point at JSON locations in the
    schema's words (the models' own messages where it finds nothing: they
    hold rules a schema cannot say). The models never accept what the schema
    refuses: tests/contract/test_schema_agreement.py holds them to it.
    """
    try:
        return Plan.model_validate(document)
    except ValidationError as error:
        problems = list(_schema_problems(_quoting(document))) or _pydantic_problems(error)
        raise PlanSyntaxError(problems) from None


def load_strict_json(raw: bytes | str) -> Any:
    r"""Decode JSON refusing what Python's json accepts but JSON does not mean.

    Refused: invalid UTF-8, a byte-order mark, duplicate keys, NaN and
    Infinity, and lone surrogates (from ``\ud800`` escapes).
    """
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError as error:
            raise _problem("", f"not UTF-8: byte {error.start} is invalid") from None
    if raw.startswith("\ufeff"):
        raise _problem("", "starts with a byte-order mark; send plain UTF-8")
    try:
        document = json.loads(raw, object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
    except _Refused as error:
        raise _problem("", str(error)) from None
    except json.JSONDecodeError as error:
        raise _problem("", f"not JSON: {error.msg} at line {error.lineno} column {error.colno}") from None
    except ValueError as error:  # an integer over Python's digit limit (int_max_str_digits)
        raise _problem("", f"not JSON: {str(error).split(';')[0]}") from None
    except RecursionError:
        raise _problem("", "nested too deeply") from None
    for location, text, what in _strings(document, ""):
        if not _is_scalar_text(text):
            raise _problem(location, f"{what} a lone surrogate (invalid Unicode)")
    return document


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _Refused(f"duplicate key {quote(key)}")
        result[key] = value
    return result


def _no_constant(name: str) -> Any:
    raise _Refused(f"{name} is not a JSON number")


def _is_scalar_text(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _strings(node: Any, location: str) -> Iterator[tuple[str, str, str]]:
    """Every string and key with where it is; a key comes before anything below it."""
    if isinstance(node, str):
        yield location, node, "contains"
    elif isinstance(node, dict):
        for key, value in node.items():
            # A pointer naming a bad key would carry the surrogate on: name its object.
            yield location, key, "has a key with"
            yield from _strings(value, f"{location}/{_escape(key)}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _strings(value, f"{location}/{index}")


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def _problem(location: str, message: str) -> PlanSyntaxError:
    return PlanSyntaxError([SchemaProblem(location, message)])


@cache
def _validator() -> jsonschema.protocols.Validator:
    import jsonschema  # noqa: PLC0415  # about 40 ms of import, paid only by refused plans

    schema = plan_json_schema()
    cls = jsonschema.validators.validator_for(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def _schema_problems(document: Any) -> Iterator[SchemaProblem]:
    errors = sorted(_validator().iter_errors(document), key=lambda e: list(e.absolute_path))
    for count, error in enumerate(_leaves(errors)):
        if count == MAX_PROBLEMS:
            return
        pointer = "".join(f"/{_escape(str(part))}" for part in error.absolute_path)
        message = _message(error)  # a refused list or object is quoted whole: cut it short
        yield SchemaProblem(pointer, message[:MAX_MESSAGE] + "..." if len(message) > MAX_MESSAGE else message)


def _leaves(errors: list[jsonschema.ValidationError]) -> Iterator[jsonschema.ValidationError]:
    """Replace wrapper errors by what is wrong inside them, each reason once.

    ``allOf`` (the op chain) fails for every branch that fails; ``anyOf`` (an
    optional field: a type or null) for its non-null branch only.
    """
    seen: set[tuple[str, str]] = set()
    for error in _unwrap(errors):
        key = (str(list(error.absolute_path)), error.message)
        if key not in seen:
            seen.add(key)
            yield error


def _unwrap(errors: list[jsonschema.ValidationError]) -> Iterator[jsonschema.ValidationError]:
    for error in errors:
        if error.validator == "allOf" and error.context:
            yield from _unwrap(sorted(error.context, key=lambda e: list(e.absolute_path)))
        elif error.validator in ("anyOf", "oneOf") and error.context:
            # The value is not null, so "is not of type 'null'" is never the point.
            real = [e for e in error.context if not (e.validator == "type" and e.validator_value == "null")]
            yield from _unwrap(real) if real else iter([error])
        else:
            yield error


def _message(error: jsonschema.ValidationError) -> str:
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        known = error.schema.get("properties", {}) if isinstance(error.schema, dict) else {}
        unknown = sorted(set(error.instance) - set(known))
        return f"unknown field{'s' * (len(unknown) > 1)} {', '.join(map(quote, unknown))}"
    if error.validator == "oneOf" and not error.context and isinstance(error.validator_value, list):
        names = [name for branch in error.validator_value for name in branch.get("required", [])]
        return f"needs exactly one of {', '.join(map(repr, names))}"
    if error.validator == "enum" and error.absolute_path and error.absolute_path[-1] == "op":
        return f"unknown op {error.instance!r}; expected one of {error.validator_value}"
    return str(error.message)


def _pydantic_problems(error: ValidationError) -> list[SchemaProblem]:
    problems = []
    for item in error.errors(include_url=False)[:MAX_PROBLEMS]:
        # Drop union tags ('move') that pydantic inserts into locations.
        parts = [str(p) for p in item["loc"] if not (isinstance(p, str) and p in _TAGS)]
        message = item["msg"].removeprefix("Value error, ")
        problems.append(SchemaProblem("".join(f"/{_escape(p)}" for p in parts), message))
    return problems


_TAGS = frozenset(OP_KINDS)
