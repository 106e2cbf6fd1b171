"""Hostile paths: every bad spelling comes back as a diagnostic, never accepted, never a crash.

Most tests go through ``verify`` on a small tree, because that is where an
agent meets the path rules; ``contains``, ``fold`` and ``check_name`` are
also pinned directly. Awkward but legitimate names must survive byte for byte.
"""

from __future__ import annotations

import hashlib
import json
import unicodedata
from typing import Any

import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from planner import Entry, Plan, PlanSyntaxError, Report, Tree, parse_plan, simulate, tree_of, verify
from planner.core.paths import (
    MAX_PATH_BYTES,
    MAX_SEGMENT_BYTES,
    PathRuleError,
    check_name,
    check_path,
    contains,
    fold,
    is_strictly_inside,
    path_problem,
    read_path_problem,
)
from tests.support.plans import make_plan

SCOPE = "matters/acme"
SOURCE = "matters/acme/inbox/a.pdf"
SHA = hashlib.sha256(b"abc").hexdigest()
# Four 200-byte folders under the scope: a name below them reaches MAX_PATH_BYTES
# at 207 bytes, so path length is tested apart from segment length.
DEEP = SCOPE + "".join("/" + letter * 200 for letter in "pqrs")


def _tree(*extra: Entry) -> Tree:
    return tree_of(
        [
            Entry(SCOPE, "dir"),
            Entry("matters/acme/inbox", "dir"),
            Entry(SOURCE, "file", 3, SHA),
            Entry("matters/acme-evil", "dir"),
            Entry("matters/acmex", "dir"),
            Entry(DEEP, "dir"),
            *extra,
        ]
    )


def _plan(*ops: dict[str, Any], scope: tuple[str, ...] = (SCOPE,)) -> Plan:
    return make_plan(*ops, title="hostile", scope=scope)


def _write(path: str) -> dict[str, Any]:
    return {"op": "write", "path": path, "content": "x"}


def _move_to(path: str) -> dict[str, Any]:
    return {"op": "move", "src": SOURCE, "dst": path}


def _effect_paths(report: Report) -> set[str]:
    effect = report.effect
    transfers = [*effect.moved, *effect.copied]
    return {
        *effect.created,
        *effect.written,
        *effect.overwritten,
        *effect.deleted,
        *(t.src for t in transfers),
        *(t.dst for t in transfers),
    }


def _errors(report: Report) -> list[tuple[str, int | None, str | None]]:
    return [(d.code.value, d.op_index, d.field) for d in report.errors]


def _assert_refused(report: Report, *expected: tuple[str, int | None, str | None]) -> None:
    """The report is not ok, has exactly these errors, and simulated nothing."""
    assert report.ok is False
    assert _errors(report) == list(expected)
    assert _effect_paths(report) == set()
    assert report.inverse is None


# -- hostile paths ---------------------------------------------------------

INVALID = [
    # traversal, including traversal that is still there after NOT decoding
    pytest.param("..", id="dotdot"),
    pytest.param(".", id="dot"),
    pytest.param("../matters/acme/x", id="leading-dotdot"),
    pytest.param("matters/acme/..", id="trailing-dotdot"),
    pytest.param("matters/acme/../acme-evil/x", id="inner-dotdot"),
    pytest.param("matters/acme/inbox/../../acme-evil/x", id="double-dotdot"),
    pytest.param("./matters/acme/x", id="leading-dot"),
    pytest.param("matters/acme/./x", id="inner-dot"),
    pytest.param("matters/acme/%2e%2e/../x", id="percent-then-real-dotdot"),
    pytest.param("matters/acme/\uff0e\uff0e/../x", id="fullwidth-then-real-dotdot"),
    # absolute
    pytest.param("/etc/passwd", id="absolute"),
    pytest.param("//x", id="unc-like"),
    pytest.param("/matters/acme/x", id="absolute-in-scope"),
    pytest.param("///", id="only-slashes"),
    # empty segments and trailing slash
    pytest.param("matters//acme/x", id="empty-segment"),
    pytest.param("matters/acme//x", id="empty-segment-in-scope"),
    pytest.param("matters/acme/x/", id="trailing-slash"),
    pytest.param("matters/acme/", id="scope-with-slash"),
    # backslash and Windows-forbidden characters
    pytest.param("matters\\acme\\x", id="backslash-separators"),
    pytest.param("matters/acme/..\\..\\x", id="backslash-traversal"),
    pytest.param("matters/acme/a<b", id="lt"),
    pytest.param("matters/acme/a>b", id="gt"),
    pytest.param("matters/acme/a:b", id="colon"),
    pytest.param("matters/acme/C:", id="drive-letter"),
    pytest.param("matters/acme/x.pdf:stream", id="ntfs-stream"),
    pytest.param('matters/acme/a"b', id="double-quote"),
    pytest.param("matters/acme/a|b", id="pipe"),
    pytest.param("matters/acme/a?b", id="question-mark"),
    pytest.param("matters/acme/*", id="star"),
    # control and format characters
    pytest.param("matters/acme/a\x00b", id="nul"),
    pytest.param("matters/acme/a.pdf\x00.txt", id="nul-truncation"),
    pytest.param("matters/acme/a\rb", id="cr"),
    pytest.param("matters/acme/a\nb", id="lf"),
    pytest.param("matters/acme/a\tb", id="tab"),
    pytest.param("matters/acme/a\x1b[31mb", id="esc"),
    pytest.param("matters/acme/a\x7fb", id="del"),
    pytest.param("matters/acme/a\x85b", id="c1-nel"),
    pytest.param("matters/acme/a\x9bb", id="c1-csi"),
    pytest.param("matters/acme/invoice\u202efdp.exe", id="bidi-override"),
    pytest.param("matters/acme/a\u2066b\u2069", id="bidi-isolate"),
    pytest.param("matters/acme/a\u200bb", id="zero-width-space"),
    pytest.param("matters/acme/a\u200db", id="zero-width-joiner"),
    # U+200D is refused everywhere, so emoji ZWJ sequences are too (a known trade-off)
    pytest.param("matters/acme/\U0001f468\u200d\U0001f4bc.txt", id="emoji-zwj-sequence"),
    pytest.param("matters/acme/\ufeffa", id="bom"),
    pytest.param("matters/acme/a\u2028b", id="line-separator"),
    pytest.param("matters/acme/a\u2029b", id="paragraph-separator"),
    pytest.param("matters/acme/a\u00adb", id="soft-hyphen"),
    pytest.param("matters/acme/a\U000e0041b", id="tag-character"),
    pytest.param("matters/acme/a\ue000b", id="private-use"),
    pytest.param("matters/acme/a\uffffb", id="noncharacter"),
    # not NFC
    pytest.param("matters/acme/cafe\u0301.pdf", id="nfd-e-acute"),
    pytest.param("matters/acme/\u212b", id="angstrom-sign"),
    pytest.param("matters/acme/\u1100\u1161", id="hangul-jamo"),
    pytest.param("matters/acme/\u212a.txt", id="kelvin-sign"),
    # over-long segments and paths
    pytest.param("matters/acme/" + "a" * 256, id="segment-256-ascii"),
    pytest.param("matters/acme/" + "\u00e9" * 128, id="segment-128-chars-256-bytes"),
    pytest.param("matters/acme/" + "\U0001f600" * 64, id="segment-64-emoji-256-bytes"),
    pytest.param("matters/acme/" + "\u4e2d" * 86, id="segment-86-cjk-258-bytes"),
    pytest.param(DEEP + "/" + "n" * 208, id="path-1025-bytes"),
    pytest.param(DEEP + "/" + "\u00e9" * 104, id="path-1025-bytes-multibyte"),
    pytest.param("matters/acme/" + "/".join(["d"] * 600), id="path-many-segments"),
    # Windows device names, with and without extensions, and trailing dots or spaces
    pytest.param("matters/acme/CON", id="con"),
    pytest.param("matters/acme/con", id="con-lower"),
    pytest.param("matters/acme/nul.txt", id="nul-ext"),
    pytest.param("matters/acme/COM1", id="com1"),
    pytest.param("matters/acme/LPT9.log", id="lpt9-ext"),
    pytest.param("matters/acme/aux.tar.gz", id="aux-two-ext"),
    pytest.param("matters/acme/COM\u00b9", id="com-superscript"),
    pytest.param("matters/acme/CONOUT$.txt", id="conout"),
    pytest.param("matters/acme/CON .txt", id="con-space-ext"),
    pytest.param("matters/acme/CON      .txt", id="con-many-spaces-ext"),
    pytest.param("matters/acme/PRN/x", id="device-folder"),
    pytest.param("matters/acme/report.", id="trailing-dot"),
    pytest.param("matters/acme/report ", id="trailing-space"),
    pytest.param("matters/acme/...", id="three-dots"),
    pytest.param("matters/acme/ ", id="only-space"),
    # look-alikes of '/', '\\' and '.', lone combining marks, blank names
    pytest.param("matters/acme/a\u2215b.txt", id="division-slash"),
    pytest.param("matters/acme/a\uff0fb.txt", id="fullwidth-solidus"),
    pytest.param("matters/acme/a\u2044b.txt", id="fraction-slash"),
    pytest.param("matters/acme/a\u29f8b.txt", id="big-solidus"),
    pytest.param("matters/acme/a\u2571b.txt", id="box-drawing-diagonal"),
    pytest.param("matters/acme/a\u2216b.txt", id="set-minus-backslash"),
    pytest.param("matters/acme/a\uff3cb.txt", id="fullwidth-reverse-solidus"),
    pytest.param("matters/acme/\uff0e\uff0e\uff0fx", id="fullwidth-traversal"),
    pytest.param("matters/acme/\uff0e\uff0e", id="fullwidth-dotdot"),
    pytest.param("matters/acme/\u2025", id="two-dot-leader"),
    pytest.param("matters/acme/\u2024\u2024", id="one-dot-leaders"),
    pytest.param("matters/acme/\u2026", id="lone-ellipsis"),
    pytest.param("matters/acme/.\u2024", id="dot-and-dot-leader"),
    pytest.param("matters/acme/\ufe52\ufe52", id="small-full-stops"),
    pytest.param("matters/acme/\u0301", id="lone-combining-accent"),
    pytest.param("matters/acme/\u0301.txt", id="leading-combining-accent"),
    pytest.param("matters/acme/\u20dd", id="lone-enclosing-mark"),
    pytest.param("matters/acme/\u00a0", id="nbsp-only"),
    pytest.param("matters/acme/\u3000\u2003", id="wide-spaces-only"),
    pytest.param("matters/acme/\u3164", id="hangul-filler-only"),
    pytest.param("matters/acme/\u2800", id="braille-blank-only"),
    pytest.param("matters/acme/report\u00a0", id="trailing-nbsp"),
    pytest.param("matters/acme/\u00a0/x", id="nbsp-folder"),
    # the store's reserved namespace
    pytest.param(".pva", id="reserved-root"),
    pytest.param(".pva/journal/1", id="reserved-inside"),
    pytest.param(".PVA/x", id="reserved-upper"),
    pytest.param(".Pva/trash/x", id="reserved-mixed"),
]

OUT_OF_SCOPE = [
    pytest.param("matters/acme-evil/x", id="sibling-prefix-dash"),
    pytest.param("matters/acmex", id="sibling-prefix-letter"),
    pytest.param("matters/acme-evil", id="sibling-prefix-folder"),
    pytest.param("matters/acme.bak/x", id="sibling-prefix-dot"),
    pytest.param("matters/acme%2fx", id="percent-slash-literal"),
    pytest.param("matters/ACME/x", id="scope-other-case"),
    pytest.param("matters/\uff41\uff43\uff4d\uff45/x", id="scope-fullwidth"),
    pytest.param("matters", id="scope-parent"),
    pytest.param("matters/acm", id="scope-prefix"),
    pytest.param("x/matters/acme/y", id="scope-as-infix"),
    pytest.param("%2e%2e/x", id="percent-dotdot-at-root"),
]


@pytest.mark.parametrize("build", [_write, _move_to], ids=["write", "move-dst"])
@pytest.mark.parametrize("path", INVALID)
def test_hostile_path_is_invalid_path(build: Any, path: str) -> None:
    """A path breaking a spelling rule is one invalid_path error and the op is not simulated."""
    op = build(path)
    report = verify(_plan(op), _tree())
    field = "path" if op["op"] == "write" else "dst"
    _assert_refused(report, ("invalid_path", 0, field))
    assert report.errors[0].path == path


@pytest.mark.parametrize("build", [_write, _move_to], ids=["write", "move-dst"])
@pytest.mark.parametrize("path", OUT_OF_SCOPE)
def test_path_outside_scope_is_out_of_scope(build: Any, path: str) -> None:
    """A well-spelled path outside every scope root (segment-wise) is out_of_scope and not simulated."""
    assert path_problem(path) is None
    op = build(path)
    report = verify(_plan(op), _tree())
    field = "path" if op["op"] == "write" else "dst"
    _assert_refused(report, ("out_of_scope", 0, field))


def test_hostile_corpus_is_large_and_distinct() -> None:
    """The corpus holds at least 40 distinct hostile paths, so none is silently dropped."""
    paths = [p.values[0] for p in INVALID + OUT_OF_SCOPE]
    assert len(set(paths)) == len(paths)
    assert len(paths) >= 40


HOSTILE_FIELD = "matters/acme/../acme-evil/x"


@pytest.mark.parametrize(
    ("op", "field"),
    [
        pytest.param({"op": "mkdir", "path": HOSTILE_FIELD}, "path", id="mkdir.path"),
        pytest.param({"op": "move", "src": HOSTILE_FIELD, "dst": "matters/acme/y"}, "src", id="move.src"),
        pytest.param({"op": "move", "src": SOURCE, "dst": HOSTILE_FIELD}, "dst", id="move.dst"),
        pytest.param({"op": "rename", "path": HOSTILE_FIELD, "name": "y"}, "path", id="rename.path"),
        pytest.param({"op": "write", "path": HOSTILE_FIELD, "content": "x"}, "path", id="write.path"),
        pytest.param({"op": "copy", "src": HOSTILE_FIELD, "dst": "matters/acme/y"}, "src", id="copy.src"),
        pytest.param({"op": "copy", "src": SOURCE, "dst": HOSTILE_FIELD}, "dst", id="copy.dst"),
        pytest.param({"op": "delete", "path": HOSTILE_FIELD}, "path", id="delete.path"),
    ],
)
def test_every_path_field_is_checked(op: dict[str, Any], field: str) -> None:
    """Every path field of every op kind is spell-checked, not only the obvious one."""
    report = verify(_plan(op), _tree())
    _assert_refused(report, ("invalid_path", 0, field))


@pytest.mark.parametrize(
    "name",
    [
        pytest.param("..", id="dotdot"),
        pytest.param(".", id="dot"),
        pytest.param("../../acme-evil/x", id="traversal"),
        pytest.param("a/b", id="slash"),
        pytest.param("a\\b", id="backslash"),
        pytest.param("CON", id="device"),
        pytest.param("x.", id="trailing-dot"),
        pytest.param("cafe\u0301", id="nfd"),
        pytest.param("a\u202eb", id="bidi"),
        pytest.param("a" * 256, id="too-long"),
    ],
)
def test_hostile_rename_name_is_invalid_path(name: str) -> None:
    """A rename's new name must be one valid segment; anything else is invalid_path on 'name'."""
    report = verify(_plan({"op": "rename", "path": SOURCE, "name": name}), _tree())
    _assert_refused(report, ("invalid_path", 0, "name"))


def test_rename_cannot_make_a_path_too_long() -> None:
    """A rename whose valid name makes the full path exceed MAX_PATH_BYTES is invalid_path."""
    source = DEEP + "/a"
    name = "n" * 250  # a valid segment; DEEP + "/" + name is 1067 bytes
    report = verify(_plan({"op": "rename", "path": source, "name": name}), _tree(Entry(source, "file", 1)))
    _assert_refused(report, ("invalid_path", 0, "name"))


def test_rename_into_reserved_root_is_refused() -> None:
    """Renaming a top-level folder to '.pva' is refused: no scope root can contain the reserved area."""
    plan = _plan({"op": "rename", "path": "matters", "name": ".pva"}, scope=("matters",))
    report = verify(plan, _tree())
    assert report.ok is False
    assert {d.code.value for d in report.errors} <= {"invalid_path", "out_of_scope"}
    assert _effect_paths(report) == set()


@pytest.mark.parametrize(
    "root",
    [
        pytest.param("matters/acme/..", id="dotdot"),
        pytest.param("/matters/acme", id="absolute"),
        pytest.param("matters/acme/", id="trailing-slash"),
        pytest.param(".pva", id="reserved"),
        pytest.param("matters/\u202eacme", id="bidi"),
    ],
)
def test_hostile_scope_root_is_invalid_and_grants_nothing(root: str) -> None:
    """A hostile scope root is a plan-level invalid_path and does not put any op in scope."""
    report = verify(_plan(_write("matters/acme/new.txt"), scope=(root,)), _tree())
    _assert_refused(report, ("invalid_path", None, "scope"), ("out_of_scope", 0, "path"))


@pytest.mark.parametrize(
    "root",
    [
        pytest.param("matters/acme-evil", id="sibling-dash"),
        pytest.param("matters/acmex", id="sibling-letter"),
        pytest.param("matters", id="parent"),
    ],
)
def test_plan_scope_outside_token_scope_is_out_of_scope(root: str) -> None:
    """A plan scope that the caller's token scope does not contain segment-wise is out_of_scope."""
    target = root + "/new.txt"
    report = verify(_plan(_write(target), scope=(root,)), _tree(), allowed=[SCOPE])
    _assert_refused(report, ("out_of_scope", None, "scope"), ("out_of_scope", 0, "path"))


@pytest.mark.parametrize(
    "field",
    [
        pytest.param("path", id="value"),
        pytest.param("scope", id="scope"),
    ],
)
def test_lone_surrogate_path_is_a_parse_error(field: str) -> None:
    r"""A lone surrogate can only arrive as a JSON escape (\ud800); parse_plan rejects it."""
    body = {"pva": "plan/v1", "title": "t", "scope": [SCOPE], "ops": [_write(SCOPE + "/x")]}
    raw = json.dumps(body)
    raw = raw.replace('"matters/acme/x"', '"matters/acme/\\ud800x"') if field == "path" else raw
    raw = raw.replace('["matters/acme"]', '["matters/\\udfffacme"]') if field == "scope" else raw
    with pytest.raises(PlanSyntaxError) as caught:
        parse_plan(raw)
    location = "/ops/0/path" if field == "path" else "/scope/0"
    assert [p.location for p in caught.value.problems] == [location]


def test_empty_path_is_a_parse_error() -> None:
    """The empty path never reaches the verifier: the schema refuses it at its field."""
    raw = json.dumps({"pva": "plan/v1", "title": "t", "scope": [SCOPE], "ops": [_write("")]})
    with pytest.raises(PlanSyntaxError) as caught:
        parse_plan(raw)
    assert "/ops/0/path" in [p.location for p in caught.value.problems]


# -- collisions --------------------------------------------------------------

NFD_NAME = "matters/acme/cafe\u0301.pdf"


@pytest.mark.parametrize(
    ("existing", "op", "field"),
    [
        pytest.param("matters/acme/Report.pdf", _write("matters/acme/report.pdf"), "path", id="case-write"),
        pytest.param(NFD_NAME, _write("matters/acme/caf\u00e9.pdf"), "path", id="nfd-existing-nfc-write"),
        pytest.param(
            "matters/acme/Stra\u00dfe.pdf", _write("matters/acme/STRASSE.pdf"), "path", id="sharp-s"
        ),
        pytest.param("matters/acme/\u212a.txt", _write("matters/acme/k.txt"), "path", id="kelvin-sign"),
        pytest.param("matters/acme/\ufb01le", _write("matters/acme/file"), "path", id="ligature"),
        pytest.param("matters/acme/Report.pdf", _move_to("matters/acme/REPORT.pdf"), "dst", id="case-move"),
        pytest.param(
            "matters/acme/Report.pdf",
            {"op": "copy", "src": SOURCE, "dst": "matters/acme/rEpOrT.pdf"},
            "dst",
            id="case-copy",
        ),
        pytest.param(
            "matters/acme/inbox/Report.pdf",
            {"op": "rename", "path": SOURCE, "name": "report.PDF"},
            "name",
            id="case-rename",
        ),
    ],
)
def test_case_or_normalisation_twin_is_name_collision(existing: str, op: dict[str, Any], field: str) -> None:
    """A new name equal to an existing sibling up to case or normalisation is name_collision."""
    report = verify(_plan(op), _tree(Entry(existing, "file", 3, SHA)))
    _assert_refused(report, ("name_collision", 0, field))


def test_case_twin_folder_is_name_collision() -> None:
    """mkdir of a folder whose name folds to an existing folder's is name_collision."""
    report = verify(_plan({"op": "mkdir", "path": "matters/acme/INBOX"}), _tree())
    _assert_refused(report, ("name_collision", 0, "path"))


def test_case_only_rename_of_itself_is_allowed() -> None:
    """Renaming a file to another case of its own name is not a collision with itself."""
    existing = "matters/acme/Report.pdf"
    report = verify(
        _plan({"op": "rename", "path": existing, "name": "report.pdf"}),
        _tree(Entry(existing, "file", 3, SHA)),
    )
    assert report.ok is True
    assert [(t.src, t.dst) for t in report.effect.moved] == [(existing, "matters/acme/report.pdf")]


# -- legitimate awkward names --------------------------------------------------

LEGITIMATE = [
    pytest.param("matters/acme/r\u00e9sum\u00e9 \u00e0 na\u00efve.pdf", id="accents"),
    pytest.param("matters/acme/\u5951\u7d04\u66f8 \u7b2c1\u7248.pdf", id="cjk"),
    pytest.param("matters/acme/\U0001f4c4 notes \U0001f44d\U0001f3fd.txt", id="emoji-skin-tone"),
    pytest.param("matters/acme/\u2764\ufe0f.txt", id="emoji-variation-selector"),
    pytest.param("matters/acme/0001 Email re  contract.pdf", id="spaces-inside"),
    pytest.param("matters/acme/ leading space", id="leading-space"),
    pytest.param("matters/acme/..test", id="dotdot-prefix"),
    pytest.param("matters/acme/a..b", id="dotdot-inside"),
    pytest.param("matters/acme/.hidden", id="dotfile"),
    pytest.param("matters/acme/%2e%2e%2fx", id="percent-encoded-traversal-literal"),
    pytest.param("matters/acme/%2e%2e", id="percent-dotdot-literal"),
    pytest.param("matters/acme/%c0%ae%c0%ae%c0%af", id="overlong-utf8-escapes-literal"),
    pytest.param("matters/acme/\u00c0\u00ae\u00c0\u00ae", id="overlong-utf8-as-latin1-text"),
    pytest.param("matters/acme/\uff23\uff2f\uff2e", id="fullwidth-con"),
    pytest.param("matters/acme/-rf", id="dash-rf"),
    pytest.param("matters/acme/#", id="hash"),
    pytest.param("matters/acme/[]{}'!$&", id="shell-punctuation"),
    pytest.param("matters/acme/a;b=c,d+e@f^g~h`i", id="more-punctuation"),
    pytest.param("matters/acme/$(rm -rf ~)", id="command-substitution"),
    pytest.param("matters/acme/\u00a0nbsp\u3000ideographic", id="other-spaces"),
    pytest.param("matters/acme/\u00a0leading nbsp", id="leading-nbsp"),
    pytest.param("matters/acme/caf\u00e9\u0301", id="combining-mark-on-a-letter"),
    pytest.param("matters/acme/\u30ce\u30fc\u30c8.txt", id="katakana-no-not-a-slash"),
    pytest.param("matters/acme/Notes on the call\u2026.docx", id="ellipsis-in-a-name"),
    pytest.param("matters/acme/console.txt", id="device-prefix-word"),
    pytest.param("matters/acme/COM10", id="com10"),
    pytest.param("matters/acme/.con", id="dot-con"),
    pytest.param("matters/acme/.pva", id="reserved-name-not-at-root"),
    pytest.param("matters/acme/" + "a" * MAX_SEGMENT_BYTES, id="segment-255-ascii"),
    pytest.param("matters/acme/" + "\u00e9" * 127 + "a", id="segment-255-bytes-2-byte-chars"),
    pytest.param("matters/acme/" + "\u4e2d" * 85, id="segment-255-bytes-cjk"),
    pytest.param("matters/acme/" + "\U0001f600" * 63 + "abc", id="segment-255-bytes-emoji"),
    pytest.param(DEEP + "/" + "n" * 207, id="path-1024-bytes"),
]


@pytest.mark.parametrize("path", LEGITIMATE)
def test_awkward_name_is_written_byte_for_byte(path: str) -> None:
    """An awkward but legal name is accepted and appears in the effect exactly as written."""
    check_path(path)
    simulation = simulate(_plan(_write(path)), _tree())
    report = simulation.report
    assert report.ok is True, [str(d) for d in report.diagnostics]
    assert report.effect.created == [path]
    assert report.effect.written == [path]
    assert report.effect.created[0].encode("utf-8") == path.encode("utf-8")
    assert simulation.tree.stat(path) is not None


@pytest.mark.parametrize("path", LEGITIMATE)
def test_awkward_name_is_moved_byte_for_byte(path: str) -> None:
    """A move to an awkward but legal name keeps the destination exactly as written."""
    report = verify(_plan(_move_to(path)), _tree())
    assert report.ok is True, [str(d) for d in report.diagnostics]
    assert [(t.src, t.dst) for t in report.effect.moved] == [(SOURCE, path)]
    assert report.effect.moved[0].dst.encode("utf-8") == path.encode("utf-8")


def test_awkward_boundaries_are_exact() -> None:
    """The legitimate corpus really sits on the byte limits it claims to test."""
    assert len(DEEP.encode() + b"/" + b"n" * 207) == MAX_PATH_BYTES
    assert len(("\u00e9" * 127 + "a").encode()) == MAX_SEGMENT_BYTES
    assert len(("\U0001f600" * 63 + "abc").encode()) == MAX_SEGMENT_BYTES
    assert len(("\u00e9" * 128).encode()) == MAX_SEGMENT_BYTES + 1
    assert len("\u00e9" * 128) < MAX_SEGMENT_BYTES  # under in characters, over in bytes


@pytest.mark.parametrize("char", ["a", "\u00e9", "\u20ac", "\U0001f600"], ids=["1-byte", "2", "3", "4-byte"])
def test_byte_limits_count_utf8_bytes_at_every_width(char: str) -> None:
    """A name or path is refused exactly when its UTF-8 bytes pass the limit, whatever its characters."""
    folders = ("f" * 200 + "/") * 4  # 804 bytes: the path's last name then has 220 to fill
    for prefix, limit, check in (("", MAX_SEGMENT_BYTES, check_name), (folders, MAX_PATH_BYTES, check_path)):
        room = limit - len(prefix)
        count = room // len(char.encode())
        exact = prefix + char * count + "b" * (room - count * len(char.encode()))
        assert len(exact.encode()) == limit
        check(exact)  # at the limit: accepted
        for over in (exact + "b", prefix + char * (count + 1)):
            with pytest.raises(PathRuleError, match="longer than"):
                check(over)


@pytest.mark.parametrize(
    ("literal", "decoded"),
    [
        pytest.param("matters/acme/%2e%2e%2fx", "matters/x", id="percent"),
        pytest.param("matters/acme/\u00c0\u00ae\u00c0\u00ae", "matters", id="overlong"),
    ],
)
def test_encoded_names_are_never_decoded(literal: str, decoded: str) -> None:
    """An encoded-looking name is created under its literal spelling, never at its decoded target."""
    before = _tree()
    simulation = simulate(_plan(_write(literal)), before)
    assert simulation.tree.stat(literal) is not None
    after = {e.path for e in simulation.tree.walk()}
    assert after - {e.path for e in before.walk()} == {literal}
    assert simulation.tree.stat(decoded + "/x") is None


# -- the path functions directly ----------------------------------------------


@pytest.mark.parametrize(
    ("ancestor", "path", "expected"),
    [
        pytest.param("matters/acme", "matters/acme", True, id="itself"),
        pytest.param("matters/acme", "matters/acme/x", True, id="child"),
        pytest.param("matters/acme", "matters/acme/x/y/z", True, id="descendant"),
        pytest.param("matters/acme", "matters/acme-evil", False, id="sibling-dash"),
        pytest.param("matters/acme", "matters/acme-evil/x", False, id="sibling-dash-child"),
        pytest.param("matters/acme", "matters/acmex", False, id="sibling-letter"),
        pytest.param("matters/acme", "matters/acme.bak/x", False, id="sibling-dot"),
        pytest.param("matters/acme", "matters/ACME/x", False, id="other-case"),
        pytest.param("matters/acme", "matters", False, id="parent"),
        pytest.param("matters/acme/x", "matters/acme", False, id="ancestor-of-ancestor"),
        pytest.param("a", "ab/c", False, id="one-letter-prefix"),
        pytest.param("a/b", "x/a/b", False, id="infix"),
        pytest.param("", "matters/acme", True, id="root-contains-all"),
    ],
)
def test_contains_is_segment_based(ancestor: str, path: str, expected: bool) -> None:
    """contains() decides by whole segments, never by string prefix."""
    assert contains(ancestor, path) is expected


@pytest.mark.parametrize(
    ("ancestor", "path", "expected"),
    [
        pytest.param("matters/acme", "matters/acme", False, id="itself"),
        pytest.param("matters/acme", "matters/acme/x", True, id="child"),
        pytest.param("matters/acme", "matters/acme-evil/x", False, id="sibling"),
    ],
)
def test_is_strictly_inside_excludes_itself(ancestor: str, path: str, expected: bool) -> None:
    """is_strictly_inside() is contains() without the path itself."""
    assert is_strictly_inside(ancestor, path) is expected


@pytest.mark.parametrize(
    ("one", "other"),
    [
        pytest.param("Report.PDF", "report.pdf", id="ascii-case"),
        pytest.param("caf\u00e9", "cafe\u0301", id="nfc-nfd"),
        pytest.param("CAF\u00c9", "cafe\u0301", id="case-and-nfd"),
        pytest.param("Stra\u00dfe", "STRASSE", id="sharp-s"),
        pytest.param("\u212a", "k", id="kelvin"),
        pytest.param("\u212b", "\u00e5", id="angstrom"),
        pytest.param("\u01c5", "\u01c6", id="titlecase-digraph"),
        pytest.param("\ufb01", "FI", id="ligature"),
        pytest.param("\u03a3\u0391\u03a3", "\u03c3\u03b1\u03c2", id="greek-final-sigma"),
        pytest.param("Matters/ACME", "matters/acme", id="path"),
    ],
)
def test_fold_equates_case_and_normalisation_twins(one: str, other: str) -> None:
    """fold() gives one key to spellings that differ only by case or Unicode normalisation."""
    assert fold(one) == fold(other)


@pytest.mark.parametrize(
    ("one", "other"),
    [
        pytest.param("a", "\u00e1", id="accent-matters"),
        pytest.param("strase", "stra\u00dfe", id="sharp-s-is-two-letters"),
        pytest.param(".", "\uff0e", id="fullwidth-dot"),
        pytest.param(".pva", ".\uff50\uff56\uff41", id="fullwidth-letters"),
        pytest.param("a b", "a\u00a0b", id="nbsp"),
        pytest.param("i", "\u0131", id="dotless-i"),
    ],
)
def test_fold_keeps_distinct_names_apart(one: str, other: str) -> None:
    """fold() does not apply compatibility mappings: visually similar names stay distinct."""
    assert fold(one) != fold(other)


@pytest.mark.parametrize(
    ("name", "valid"),
    [
        pytest.param("CON", False, id="CON"),
        pytest.param("con", False, id="con"),
        pytest.param("Con.txt", False, id="Con.txt"),
        pytest.param("nul.txt", False, id="nul.txt"),
        pytest.param("COM1", False, id="COM1"),
        pytest.param("COM0", False, id="COM0"),
        pytest.param("LPT9.log", False, id="LPT9.log"),
        pytest.param("CON .txt", False, id="CON-space.txt"),
        pytest.param("conin$", False, id="conin$"),
        pytest.param("LPT\u00b3.x", False, id="LPT-superscript-3"),
        pytest.param("con.", False, id="con-dot"),
        pytest.param("CONSOLE", True, id="CONSOLE"),
        pytest.param("COM10", True, id="COM10"),
        pytest.param("xcon", True, id="xcon"),
        pytest.param("con_", True, id="con_"),
        pytest.param(".con", True, id="dot-con"),
        pytest.param("\uff23\uff2f\uff2e", True, id="fullwidth-CON"),
    ],
)
def test_check_name_windows_devices(name: str, valid: bool) -> None:
    """check_name refuses Windows device names, with any extension or spaces before it, and only those."""
    if valid:
        check_name(name)
    else:
        with pytest.raises(PathRuleError, match=r"reserved Windows device|ends with a dot"):
            check_name(name)


# -- property: hostile plans never crash ------------------------------------------

_HOSTILE = list(
    '/.\\:*?"<>| aA%2ef\u00e9\u0301\uff0e\uff0f\u202e\u200b\u200d\ufeff\u2028\x00\r\n\t\x1b\x7f\x85'
)
_SEGMENTS = st.sampled_from(
    ["..", ".", "", ".pva", "CON", "nul.txt", "acme", "acme-evil", "%2e%2e", "a" * 256]
)
_ANY_TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=60)
_HOSTILE_TEXT = st.text(st.sampled_from(_HOSTILE), max_size=40)
_JOINED = st.lists(st.one_of(_SEGMENTS, _HOSTILE_TEXT), min_size=1, max_size=6).map("/".join)
# Printable names (letters, marks, digits, punctuation, symbols, spaces): mostly valid.
_PRINTABLE = st.characters(categories=("L", "M", "N", "P", "S", "Zs"), exclude_characters='/\\<>:"|?*')
_NAMEISH = st.text(_PRINTABLE, max_size=30).map(lambda s: "n" + s + "n")
_PATHS = st.one_of(
    _ANY_TEXT,
    _HOSTILE_TEXT,
    _JOINED,
    st.builds(lambda s: SCOPE + "/" + s, st.one_of(_ANY_TEXT, _JOINED)),
    st.builds(lambda s: SCOPE + "/" + s, _NAMEISH),
    st.builds(lambda s: "matters/" + s, _NAMEISH),
)


def _sane(path: str) -> bool:
    """An independent, deliberately blunt restatement of the spelling rules."""
    segments = path.split("/")
    return (
        len(path.encode()) <= MAX_PATH_BYTES
        and all(s not in ("", ".", "..") and len(s.encode()) <= MAX_SEGMENT_BYTES for s in segments)
        and not any(unicodedata.category(c) in {"Cc", "Cf", "Cs", "Zl", "Zp", "Co", "Cn"} for c in path)
        and not any(c in '\\<>:"|?*' for c in path)
        and unicodedata.is_normalized("NFC", path)
        and all(s[-1] not in ". " for s in segments)
        and segments[0].lower() != ".pva"
    )


@given(path=_PATHS, kind=st.sampled_from(["write", "move"]))
def test_arbitrary_paths_never_crash_and_only_sane_ones_pass(path: str, kind: str) -> None:
    """Any text path in a write or move gives a report (never an exception); accepted paths obey the rules."""
    op = _write(path) if kind == "write" else _move_to(path)
    body = {"pva": "plan/v1", "title": "fuzz", "scope": [SCOPE], "ops": [op]}
    try:
        plan = parse_plan(json.dumps(body))
    except PlanSyntaxError:
        plan = None
    if plan is None:  # only the schema's own limits may stop a path before the verifier
        assert path == "" or len(path) > 4096
        return
    report = verify(plan, _tree())
    codes = {d.code.value for d in report.errors}
    event(f"errors: {sorted(codes)}")
    problem = path_problem(path)
    if problem is not None:
        assert codes == {"invalid_path"}
    elif not contains(SCOPE, path):
        assert codes == {"out_of_scope"}
    else:
        assert "invalid_path" not in codes
        assert "out_of_scope" not in codes
    if path in _effect_paths(report):
        assert report.ok
        check_path(path)
        assert _sane(path), path
    if report.ok:
        assert path in _effect_paths(report)


@pytest.mark.parametrize(
    "path",
    [
        "",
        "/matters/acme/x",
        "matters//acme",
        "matters/acme/",
        "matters/./acme",
        "matters/acme/../globex/memo.txt",
        "..",
        ".pva/trash/x",
        ".PVA/x",
        "matters/acme/a\x00b",
        "matters/acme/\udcff.pdf",
        "matters/" + "x" * 256,
        "matters/" + "x/" * 600,
    ],
)
def test_a_read_path_that_could_climb_or_reach_the_reserved_area_is_refused(path: str) -> None:
    """What names an entry to read keeps the confinement rules: no '.', '..', empty segment, NUL."""
    assert read_path_problem(path) is not None


@pytest.mark.parametrize(
    "path",
    [
        "matters/acme/Minutes 10:30.pdf",
        "matters/acme/CON.txt",
        "matters/acme/trail. ",
        "matters/acme/a\tb",
        "x/\u202ey",
    ],
)
def test_a_read_path_may_name_what_only_a_plan_could_not_create(path: str) -> None:
    """Names made elsewhere, which no plan may create, can still be read (and listed past)."""
    assert path_problem(path) is not None
    assert read_path_problem(path) is None
