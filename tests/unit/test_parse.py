"""Strict parsing of untrusted plans, and the canonical encoding that gives a plan its digest.

``parse_plan`` must turn every malformed input into a ``PlanSyntaxError``
whose problems point (JSON Pointer) at the fault, and nothing else.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from planner import Plan, PlanSyntaxError, parse_plan
from planner.core.errors import SchemaProblem
from planner.core.parse import MAX_PROBLEMS

SHA = hashlib.sha256(b"abc").hexdigest()


def _doc(*ops: dict[str, Any], **top: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"pva": "plan/v1", "title": "t", "scope": ["a"]}
    body["ops"] = list(ops) or [{"op": "delete", "path": "a/b"}]
    body.update(top)
    return body


def _raw(*ops: dict[str, Any], **top: Any) -> str:
    return json.dumps(_doc(*ops, **top))


def _problems(raw: bytes | str) -> list[SchemaProblem]:
    with pytest.raises(PlanSyntaxError) as caught:
        parse_plan(raw)
    problems = caught.value.problems
    assert problems, "a PlanSyntaxError must say why"
    return problems


def _assert_problem(raw: bytes | str, location: str, fragment: str) -> None:
    problems = _problems(raw)
    matching = [p for p in problems if p.location == location]
    assert matching, f"no problem at {location!r}: {[str(p) for p in problems]}"
    assert any(fragment in p.message for p in matching), [str(p) for p in matching]


# -- not JSON, or JSON that does not mean one thing ------------------------------

OK = _raw()


def test_valid_document_parses_from_bytes_and_text() -> None:
    """The same plan parses from UTF-8 bytes and from text, to equal models."""
    assert parse_plan(OK.encode()) == parse_plan(OK)
    assert isinstance(parse_plan(OK), Plan)


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(b"\xff" + OK.encode(), id="invalid-start-byte"),
        pytest.param(OK.encode().replace(b'"t"', b'"\xe9"'), id="latin-1-text"),
        pytest.param(OK.encode().replace(b'"t"', b'"\xc0\xae"'), id="overlong-dot"),
        pytest.param(OK.encode().replace(b'"t"', b'"\xed\xa0\x80"'), id="encoded-surrogate"),
        pytest.param(OK.encode().replace(b'"t"', b'"\xf4\x90\x80\x80"'), id="beyond-u10ffff"),
        pytest.param(OK.encode()[:-1] + b"\xe2\x82", id="truncated-sequence"),
        pytest.param(OK.encode("utf-16"), id="utf-16"),
    ],
)
def test_rejects_bytes_that_are_not_utf8(raw: bytes) -> None:
    """Input bytes must be UTF-8; anything else is a document-level problem."""
    _assert_problem(raw, "", "not UTF-8")


@pytest.mark.parametrize(
    "raw", [pytest.param("\ufeff" + OK, id="text"), pytest.param(b"\xef\xbb\xbf" + OK.encode(), id="bytes")]
)
def test_rejects_byte_order_mark(raw: bytes | str) -> None:
    """A leading byte-order mark is refused rather than silently skipped."""
    _assert_problem(raw, "", "byte-order mark")


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param("", id="empty"),
        pytest.param("{", id="unclosed"),
        pytest.param("{'pva': 'plan/v1'}", id="single-quotes"),
        pytest.param(OK + "x", id="trailing-garbage"),
        pytest.param(OK + OK, id="two-documents"),
        pytest.param(OK.replace("]}", "],}", 1), id="trailing-comma"),
        pytest.param("// comment\n" + OK, id="comment"),
    ],
)
def test_rejects_text_that_is_not_json(raw: str) -> None:
    """Text that is not one JSON value is a document-level 'not JSON' problem."""
    _assert_problem(raw, "", "not JSON")


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        pytest.param(OK.replace('"title": "t"', '"title": "t", "title": "u"'), "title", id="top-level"),
        pytest.param(OK.replace('"path": "a/b"', '"path": "a/b", "path": "a/c"'), "path", id="inside-op"),
        pytest.param(
            _raw({"op": "delete", "path": "a/b", "expect": {"size": 1}}).replace(
                '"size": 1', '"size": 1, "size": 2'
            ),
            "size",
            id="inside-expect",
        ),
        pytest.param(OK.replace('"op": "delete"', '"op": "delete", "op": "delete"'), "op", id="same-value"),
    ],
)
def test_rejects_duplicate_keys(raw: str, key: str) -> None:
    """A key given twice at any depth is an error, even with the same value twice."""
    _assert_problem(raw, "", f"duplicate key {key!r}")


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_rejects_non_json_numbers(constant: str) -> None:
    """NaN and the infinities, which Python's json accepts, are refused."""
    raw = _raw({"op": "delete", "path": "a/b", "expect": {"size": 1}}).replace(
        '"size": 1', f'"size": {constant}'
    )
    _assert_problem(raw, "", f"{constant} is not a JSON number")


def test_rejects_integer_too_long_to_read() -> None:
    """An integer with thousands of digits is a syntax problem, not a stray ValueError."""
    raw = _raw({"op": "delete", "path": "a/b", "expect": {"size": 1}}).replace(
        '"size": 1', '"size": 1' + "0" * 5000
    )
    _assert_problem(raw, "", "not JSON")


def test_rejects_float_overflowing_to_infinity() -> None:
    """1e999 (which reads as infinity) is not an integer size."""
    raw = _raw({"op": "delete", "path": "a/b", "expect": {"size": 1}}).replace('"size": 1', '"size": 1e999')
    assert "/ops/0/expect/size" in [p.location for p in _problems(raw)]


@pytest.mark.parametrize(
    ("raw", "location"),
    [
        pytest.param(OK.replace('"a/b"', '"a/\\ud800"'), "/ops/0/path", id="high-in-path"),
        pytest.param(OK.replace('"a/b"', '"a/\\udc00b"'), "/ops/0/path", id="low-in-path"),
        pytest.param(OK.replace('"a/b"', '"a/\\ud800\\u0041"'), "/ops/0/path", id="high-then-not-low"),
        pytest.param(OK.replace('"a/b"', '"a/\\ude00\\ud83d"'), "/ops/0/path", id="reversed-pair"),
        pytest.param(OK.replace('"t"', '"\\ud800"'), "/title", id="in-title"),
        pytest.param(OK.replace('["a"]', '["\\udbff"]'), "/scope/0", id="in-scope"),
        pytest.param(OK.replace('"path": "a/b"', '"path": "a/b", "\\ud800": 1'), "/ops/0", id="in-op-key"),
        pytest.param(OK.replace('"title": "t"', '"title": "t", "\\udfff": 1'), "", id="in-top-key"),
    ],
)
def test_rejects_lone_surrogates(raw: str, location: str) -> None:
    r"""A lone surrogate escape (\ud800) in a value or a key is refused where it is found."""
    problems = _problems(raw)
    assert [(p.location, "lone surrogate" in p.message) for p in problems] == [(location, True)]
    for problem in problems:
        problem.location.encode("utf-8")  # the pointer itself is valid Unicode, so it can be sent on


def test_accepts_surrogate_pair_escape() -> None:
    r"""A proper surrogate pair escape is one character, the same as writing it literally."""
    escaped = parse_plan(OK.replace('"a/b"', '"a/\\ud83d\\ude00"'))
    literal = parse_plan(OK.replace('"a/b"', '"a/\U0001f600"'))
    assert escaped == literal
    assert escaped.digest() == literal.digest()


# -- nesting -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("opener", "closer"),
    [pytest.param("[", "]", id="arrays"), pytest.param('{"a":', "}", id="objects")],
)
def test_rejects_very_deep_nesting_cleanly(opener: str, closer: str) -> None:
    """100000 nested arrays or objects give a clean PlanSyntaxError, not a RecursionError."""
    depth = 100_000
    inner = opener * depth + ("1" if opener != "[" else "") + closer * depth
    raw = OK.replace('"a/b"', inner, 1)
    _assert_problem(raw, "", "nested too deeply")


@pytest.mark.parametrize("depth", range(900, 1010, 9))
def test_nesting_near_the_recursion_limit_never_escapes(depth: int) -> None:
    """Nesting just around the interpreter's recursion limit is still only a PlanSyntaxError."""
    raw = OK.replace('"title": "t"', '"title": "t", "x": ' + "[" * depth + "]" * depth)
    assert _problems(raw)


# -- schema: fields, kinds, types ----------------------------------------------


@pytest.mark.parametrize(
    ("raw", "location", "fragment"),
    [
        pytest.param(_raw(extra=1), "", "'extra'", id="unknown-top-level-field"),
        pytest.param(
            _raw({"op": "delete", "path": "a/b"}, {"op": "delete", "path": "a/c", "force": True}),
            "/ops/1",
            "'force'",
            id="unknown-op-field",
        ),
        pytest.param(
            _raw({"op": "delete", "path": "a/b", "expect": {"size": 1, "md5": "x"}}),
            "/ops/0/expect",
            "",
            id="unknown-expect-field",
        ),
        pytest.param(
            _raw({"op": "chmod", "path": "a/b"}), "/ops/0/op", "unknown op 'chmod'", id="unknown-kind"
        ),
        pytest.param(_raw({"op": "Delete", "path": "a/b"}), "/ops/0/op", "unknown op", id="kind-wrong-case"),
        pytest.param(_raw({"path": "a/b"}), "/ops/0", "'op'", id="missing-op"),
        pytest.param(
            _raw(*[{"op": "delete", "path": "a/b"}] * 3, {"op": "move", "src": "a/b"}),
            "/ops/3",
            "'dst'",
            id="missing-dst",
        ),
        pytest.param(_raw({"op": "rename", "path": "a/b"}), "/ops/0", "'name'", id="missing-name"),
        pytest.param(
            json.dumps({"pva": "plan/v1", "scope": ["a"], "ops": []}), "", "'title'", id="missing-title"
        ),
        pytest.param(
            json.dumps({"pva": "plan/v1", "title": "t", "scope": ["a"]}), "", "'ops'", id="missing-ops"
        ),
        pytest.param("[]", "", "object", id="not-an-object"),
        pytest.param("null", "", "object", id="null"),
    ],
)
def test_rejects_unknown_and_missing_fields(raw: str, location: str, fragment: str) -> None:
    """Unknown fields and kinds are errors (plans are commands) and required fields are required."""
    _assert_problem(raw, location, fragment)


@pytest.mark.parametrize(
    ("op", "location"),
    [
        pytest.param(
            {"op": "delete", "path": "a/b", "expect": {"size": "12"}}, "/ops/0/expect/size", id="size-str"
        ),
        pytest.param(
            {"op": "delete", "path": "a/b", "expect": {"size": 12.0}}, "/ops/0/expect/size", id="size-float"
        ),
        pytest.param(
            {"op": "delete", "path": "a/b", "expect": {"size": True}}, "/ops/0/expect/size", id="size-bool"
        ),
        pytest.param(
            {"op": "delete", "path": "a/b", "expect": {"size": -1}}, "/ops/0/expect/size", id="size-neg"
        ),
        pytest.param(
            {"op": "delete", "path": "a/b", "expect": {"generation": "3"}},
            "/ops/0/expect/generation",
            id="generation-str",
        ),
        pytest.param(
            {"op": "delete", "path": "a/b", "expect": {"generation": 0}},
            "/ops/0/expect/generation",
            id="generation-zero",
        ),
        pytest.param(
            {"op": "delete", "path": "a/b", "expect": {"sha256": SHA.upper()}},
            "/ops/0/expect/sha256",
            id="sha256-upper",
        ),
        pytest.param(
            {"op": "delete", "path": "a/b", "expect": {"sha256": SHA[:63]}},
            "/ops/0/expect/sha256",
            id="sha256-short",
        ),
        pytest.param(
            {"op": "delete", "path": "a/b", "expect": {"absent": False}},
            "/ops/0/expect/absent",
            id="absent-false",
        ),
        pytest.param({"op": "mkdir", "path": "a/b", "parents": 1}, "/ops/0/parents", id="parents-int"),
        pytest.param({"op": "mkdir", "path": "a/b", "parents": "true"}, "/ops/0/parents", id="parents-str"),
        pytest.param({"op": "delete", "path": 5}, "/ops/0/path", id="path-int"),
        pytest.param({"op": "delete", "path": ["a", "b"]}, "/ops/0/path", id="path-list"),
        pytest.param({"op": "move", "src": "a/b", "dst": None}, "/ops/0/dst", id="dst-null"),
        pytest.param({"op": "delete", "path": ""}, "/ops/0/path", id="path-empty"),
        pytest.param({"op": "rename", "path": "a/b", "name": ""}, "/ops/0/name", id="name-empty"),
        pytest.param({"op": "delete", "path": "a/b", "reason": 7}, "/ops/0/reason", id="reason-int"),
        pytest.param({"op": "write", "path": "a/b", "content": 1}, "/ops/0/content", id="content-int"),
        pytest.param(
            {"op": "write", "path": "a/b", "content": "x", "encoding": "latin-1"},
            "/ops/0/encoding",
            id="encoding-unknown",
        ),
        pytest.param(
            {"op": "write", "path": "a/b", "content_ref": SHA.upper()}, "/ops/0/content_ref", id="ref-upper"
        ),
    ],
)
def test_rejects_wrong_types_without_coercion(op: dict[str, Any], location: str) -> None:
    """A value of the wrong type is refused at its own field; nothing is coerced ("12", 1, 12.0)."""
    assert location in [p.location for p in _problems(_raw(op))]


@pytest.mark.parametrize(
    ("top", "location"),
    [
        pytest.param({"pva": "plan/v2"}, "/pva", id="version-v2"),
        pytest.param({"pva": "plan/V1"}, "/pva", id="version-case"),
        pytest.param({"pva": 1}, "/pva", id="version-int"),
        pytest.param({"ops": []}, "/ops", id="empty-ops"),
        pytest.param({"ops": {"0": {"op": "delete", "path": "a/b"}}}, "/ops", id="ops-object"),
        pytest.param({"scope": []}, "/scope", id="empty-scope"),
        pytest.param({"scope": "a"}, "/scope", id="scope-string"),
        pytest.param({"title": ""}, "/title", id="empty-title"),
        pytest.param({"title": "t" * 201}, "/title", id="long-title"),
    ],
)
def test_rejects_bad_top_level_values(top: dict[str, Any], location: str) -> None:
    """The version is exactly plan/v1, ops and scope are non-empty lists, the title is short text."""
    body = _doc() | top
    assert location in [p.location for p in _problems(json.dumps(body))]


# -- cross-field rules -----------------------------------------------------------


@pytest.mark.parametrize(
    ("op", "location", "fragment"),
    [
        pytest.param(
            {"op": "move", "src": "a/b", "dst": "a/c", "overwrite": True},
            "/ops/0",
            "expect_dst",
            id="move-no-expect",
        ),
        pytest.param(
            {"op": "move", "src": "a/b", "dst": "a/c", "overwrite": True, "expect": {"sha256": SHA}},
            "/ops/0",
            "expect_dst",
            id="move-expect-on-src-only",
        ),
        pytest.param(
            {"op": "move", "src": "a/b", "dst": "a/c", "overwrite": True, "expect_dst": {"size": 3}},
            "/ops/0/expect_dst",
            "",
            id="move-expect-size-only",
        ),
        pytest.param(
            {"op": "write", "path": "a/b", "content": "x", "overwrite": True},
            "/ops/0",
            "expect",
            id="write-no-expect",
        ),
        pytest.param(
            {"op": "write", "path": "a/b", "content": "x", "overwrite": True, "expect": {"size": 1}},
            "/ops/0/expect",
            "",
            id="write-expect-size-only",
        ),
        pytest.param(
            {"op": "write", "path": "a/b", "content": "x", "overwrite": True, "expect": {"absent": True}},
            "/ops/0/expect",
            "",
            id="write-expect-absent",
        ),
    ],
)
def test_overwrite_needs_a_pinned_expect(op: dict[str, Any], location: str, fragment: str) -> None:
    """overwrite: true needs an expect on the replaced file naming its sha256 or generation."""
    _assert_problem(_raw(op), location, fragment)


@pytest.mark.parametrize(
    "expect",
    [pytest.param({"sha256": SHA}, id="sha256"), pytest.param({"generation": 7}, id="generation")],
)
def test_overwrite_with_pinned_expect_parses(expect: dict[str, Any]) -> None:
    """overwrite with a sha256 or generation expectation is a well-formed plan."""
    move = {"op": "move", "src": "a/b", "dst": "a/c", "overwrite": True, "expect_dst": expect}
    write = {"op": "write", "path": "a/d", "content": "x", "overwrite": True, "expect": expect}
    plan = parse_plan(_raw(move, write))
    assert [op.op for op in plan.ops] == ["move", "write"]


@pytest.mark.parametrize(
    ("op", "fragment"),
    [
        pytest.param(
            {"op": "write", "path": "a/b", "content": "x", "content_ref": SHA}, "", id="both-sources"
        ),
        pytest.param({"op": "write", "path": "a/b"}, "", id="no-source"),
        pytest.param(
            {"op": "write", "path": "a/b", "content_ref": SHA, "encoding": "utf-8"},
            "content",
            id="encoding-with-ref",
        ),
        pytest.param(
            {"op": "write", "path": "a/b", "content": "!!!!", "encoding": "base64"},
            "base64",
            id="base64-alphabet",
        ),
        pytest.param(
            {"op": "write", "path": "a/b", "content": "YQ", "encoding": "base64"},
            "base64",
            id="base64-padding",
        ),
        pytest.param(
            {"op": "write", "path": "a/b", "content": "YW Jj", "encoding": "base64"},
            "base64",
            id="base64-space",
        ),
        pytest.param({"op": "delete", "path": "a/b", "expect": {}}, "at least one", id="expect-empty"),
        pytest.param(
            {"op": "delete", "path": "a/b", "expect": {"absent": True, "size": 1}},
            "absent",
            id="absent-and-size",
        ),
    ],
)
def test_rejects_incoherent_ops(op: dict[str, Any], fragment: str) -> None:
    """A write has exactly one source, base64 must decode, and an expect must state something coherent."""
    problems = _problems(_raw(op))
    assert any(p.location.startswith("/ops/0") and fragment in p.message for p in problems), problems


def test_problems_are_capped() -> None:
    """A document with hundreds of faults yields at most MAX_PROBLEMS problems."""
    raw = _raw(*[{"op": "delete", "path": 1, "junk": 1}] * 300)
    assert 0 < len(_problems(raw)) <= MAX_PROBLEMS


# -- fuzz: nothing but PlanSyntaxError escapes --------------------------------------

_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
_OP_FIELDS = ["op", "path", "src", "dst", "name", "content", "encoding", "content_ref", "expect"]
_FIELDS = st.sampled_from([*_OP_FIELDS, "expect_dst", "overwrite", "parents", "reason", "size"])


@given(raw=st.one_of(st.binary(max_size=200), st.text(max_size=200)))
def test_arbitrary_input_only_raises_plan_syntax_error(raw: bytes | str) -> None:
    """Random bytes or text either parse or raise PlanSyntaxError, never anything else."""
    try:
        parse_plan(raw)
    except PlanSyntaxError as error:
        problems = error.problems
    else:
        return
    assert problems


@given(
    kind=st.sampled_from(["mkdir", "move", "rename", "write", "copy", "delete", "nope"]),
    fields=st.dictionaries(_FIELDS, _JSON, max_size=6),
    top=st.dictionaries(st.sampled_from(["pva", "title", "scope", "ops", "x"]), _JSON, max_size=2),
)
def test_arbitrary_op_fields_only_raise_plan_syntax_error(
    kind: str, fields: dict[str, Any], top: dict[str, Any]
) -> None:
    """Ops with arbitrary JSON in their fields parse or raise PlanSyntaxError with pointer locations."""
    raw = json.dumps(_doc({"op": kind, **fields}, **top))
    try:
        parse_plan(raw)
    except PlanSyntaxError as error:
        for problem in error.problems:
            assert problem.location == "" or problem.location.startswith("/")


# -- canonical encoding and digest ----------------------------------------------------


BASE: dict[str, Any] = {
    "pva": "plan/v1",
    "title": "File inbox \u2013 caf\u00e9",
    "scope": ["matters/acme"],
    "ops": [
        {"op": "mkdir", "path": "matters/acme/alice"},
        {
            "op": "move",
            "src": "matters/acme/in/1.pdf",
            "dst": "matters/acme/alice/1.pdf",
            "reason": "From: Alice",
        },
    ],
}


def test_digest_is_64_lowercase_hex_of_canonical_json() -> None:
    """The digest is the lowercase hex sha256 of the canonical encoding."""
    plan = parse_plan(json.dumps(BASE))
    assert re.fullmatch(r"[0-9a-f]{64}", plan.digest())
    assert plan.digest() == hashlib.sha256(plan.canonical_json()).hexdigest()


def test_canonical_encoding_is_pinned() -> None:
    """The canonical encoding is sorted keys, no whitespace, raw UTF-8, defaults omitted."""
    raw = json.dumps(
        {
            "pva": "plan/v1",
            "title": "t",
            "scope": ["a"],
            "ops": [{"op": "mkdir", "path": "a/caf\u00e9", "parents": False}],
        }
    )
    assert parse_plan(raw).canonical_json() == (
        b'{"ops":[{"op":"mkdir","path":"a/caf\xc3\xa9"}],"pva":"plan/v1","scope":["a"],"title":"t"}'
    )


def test_key_order_and_whitespace_do_not_change_the_digest() -> None:
    """Reordering keys, reindenting and escaping characters differently give the same digest."""
    compact = json.dumps(BASE, separators=(",", ":"))
    reordered = json.dumps(
        {
            "ops": [dict(reversed(op.items())) for op in BASE["ops"]],
            "scope": BASE["scope"],
            "title": BASE["title"],
            "pva": "plan/v1",
        },
        indent=7,
        ensure_ascii=True,
    )
    spaced = "\n\t " + json.dumps(BASE, indent=2, separators=(" ,\n", " : ")) + "\r\n"
    digests = {parse_plan(raw).digest() for raw in (compact, reordered, spaced)}
    assert len(digests) == 1


@pytest.mark.parametrize(
    ("field", "default"),
    [
        pytest.param("parents", False, id="mkdir-parents"),
        pytest.param("reason", None, id="reason-null"),
        pytest.param("expect", None, id="expect-null"),
    ],
)
def test_explicit_default_equals_omitted(field: str, default: Any) -> None:
    """Stating a default ("parents": false) and omitting it are one plan with one digest."""
    explicit = json.loads(json.dumps(BASE))
    explicit["ops"][0][field] = default
    assert parse_plan(json.dumps(explicit)).digest() == parse_plan(json.dumps(BASE)).digest()


@pytest.mark.parametrize(
    ("op", "field", "default"),
    [
        pytest.param({"op": "move", "src": "a/b", "dst": "a/c"}, "overwrite", False, id="move-overwrite"),
        pytest.param(
            {"op": "write", "path": "a/b", "content": "x"}, "overwrite", False, id="write-overwrite"
        ),
        pytest.param(
            {"op": "write", "path": "a/b", "content": "x"}, "encoding", "utf-8", id="write-encoding"
        ),
    ],
)
def test_other_explicit_defaults_equal_omitted(op: dict[str, Any], field: str, default: Any) -> None:
    """overwrite: false and encoding: utf-8 do not change the digest either."""
    assert parse_plan(_raw({**op, field: default})).digest() == parse_plan(_raw(op)).digest()


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda d: d["ops"][1].update(reason="From: Bob"), id="reason"),
        pytest.param(lambda d: d["ops"][1].pop("reason"), id="reason-removed"),
        pytest.param(lambda d: d["ops"][0].update(parents=True), id="parents-true"),
        pytest.param(lambda d: d["ops"].reverse(), id="op-order"),
        pytest.param(lambda d: d.update(title=d["title"] + " "), id="title-space"),
        pytest.param(lambda d: d["ops"][0].update(path="matters/acme/Alice"), id="path-case"),
        pytest.param(lambda d: d["scope"].append("matters/other"), id="scope"),
    ],
)
def test_any_meaningful_change_changes_the_digest(change: Any) -> None:
    """Changing a reason, a flag, a path's case, the op order or the scope gives a new digest."""
    changed = json.loads(json.dumps(BASE))
    change(changed)
    assert parse_plan(json.dumps(changed)).digest() != parse_plan(json.dumps(BASE)).digest()


def test_digest_does_not_normalise_text() -> None:
    """The digest is over the exact text: NFC and NFD spellings of a reason differ."""
    nfc, nfd = json.loads(json.dumps(BASE)), json.loads(json.dumps(BASE))
    nfc["ops"][1]["reason"] = "caf\u00e9"
    nfd["ops"][1]["reason"] = "cafe\u0301"
    assert parse_plan(json.dumps(nfc)).digest() != parse_plan(json.dumps(nfd)).digest()


def test_canonical_json_round_trips_to_the_same_plan() -> None:
    """Parsing the canonical encoding gives back an equal plan with the same digest."""
    plan = parse_plan(json.dumps(BASE))
    again = parse_plan(plan.canonical_json())
    assert again == plan
    assert again.canonical_json() == plan.canonical_json()


def test_op_without_kind_is_one_problem() -> None:
    """An op missing its 'op' field is reported once, not once per op kind."""
    raw = json.dumps({"pva": "plan/v1", "title": "t", "scope": ["m"], "ops": [{"path": "m/a"}]})
    with pytest.raises(PlanSyntaxError) as error:
        parse_plan(raw)
    assert [(p.location, p.message) for p in error.value.problems] == [
        ("/ops/0", "'op' is a required property")
    ]


def test_content_and_content_ref_together_say_which_to_drop() -> None:
    """A write with both content and content_ref says it needs exactly one of them."""
    op = {"op": "write", "path": "m/a", "content": "x", "content_ref": "a" * 64}
    raw = json.dumps({"pva": "plan/v1", "title": "t", "scope": ["m"], "ops": [op]})
    with pytest.raises(PlanSyntaxError) as error:
        parse_plan(raw)
    assert ("/ops/0", "needs exactly one of 'content', 'content_ref'") in [
        (p.location, p.message) for p in error.value.problems
    ]


def test_duplicate_scope_roots_are_refused() -> None:
    """Listing a scope root twice is a schema error (it would change the digest for nothing)."""
    raw = json.dumps(
        {"pva": "plan/v1", "title": "t", "scope": ["m", "m"], "ops": [{"op": "mkdir", "path": "m/a"}]}
    )
    with pytest.raises(PlanSyntaxError) as error:
        parse_plan(raw)
    assert [p.location for p in error.value.problems] == ["/scope"]
