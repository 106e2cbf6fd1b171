"""planner.core.preview: what a write shows a reviewer (diffs, new lines, binary facts); escaping."""

from __future__ import annotations

import hashlib

from hypothesis import example, given
from hypothesis import strategies as st
from markupsafe import Markup

from planner.core.preview import (
    MAX_SHOWN_BYTES,
    DiffLine,
    Version,
    diff,
    in_stored_order,
    is_text,
    media_type,
    preview,
    preview_from_json,
    readable_text,
    terminal_safe,
    text_of,
    version_of,
)


def test_a_diff_numbers_each_line_in_the_version_it_belongs_to() -> None:
    """Context lines carry both numbers, removed lines the old one, added lines the new one."""
    shown = diff(["a", "b", "c"], ["a", "B", "c", "d"])
    assert shown == (
        DiffLine("gap", None, None, "@@ -1,3 +1,4 @@"),
        DiffLine("context", 1, 1, "a"),
        DiffLine("removed", 2, None, "b"),
        DiffLine("added", None, 2, "B"),
        DiffLine("context", 3, 3, "c"),
        DiffLine("added", None, 4, "d"),
    )


def test_far_apart_changes_make_two_hunks_with_three_lines_of_context() -> None:
    """Changes more than six lines apart are two hunks, each with three lines of context around it."""
    old = [f"line {n}" for n in range(1, 21)]
    new = [*old]
    new[1], new[17] = "two", "eighteen"
    gaps = [line.text for line in diff(old, new) if line.kind == "gap"]
    assert gaps == ["@@ -1,5 +1,5 @@", "@@ -15,6 +15,6 @@"]


@given(
    st.lists(st.text(alphabet="abc", max_size=3), max_size=12),
    st.lists(st.text(alphabet="abc", max_size=3), max_size=12),
)
def test_a_diff_with_all_context_rebuilds_both_versions(old: list[str], new: list[str]) -> None:
    """Read with unlimited context, the diff's old-side lines are the old text and its new-side the new."""
    shown = diff(old, new, context=10_000)
    if old == new:
        assert shown == ()
        return
    assert [line.text for line in shown if line.kind in ("context", "removed")] == old
    assert [line.text for line in shown if line.kind in ("context", "added")] == new


def test_a_new_text_file_shows_every_line_numbered() -> None:
    """A write that creates a text file shows its lines, numbered from 1, as added."""
    found = preview(4, "m/a.txt", version_of(b"one\r\ntwo\n"), None)
    assert found.lines == (DiffLine("added", None, 1, "one"), DiffLine("added", None, 2, "two"))
    assert (found.new.kind, found.new.media, found.old) == ("text", "UTF-8 text", None)


def test_binary_content_shows_its_type_size_and_sha256_only() -> None:
    """Bytes that are not UTF-8 text show facts, no lines, whatever they replace."""
    data = b"%PDF-1.7\n\xff\xfe\x00"
    found = preview(0, "m/a.pdf", version_of(data), version_of(b"text\n"))
    assert found.lines == ()
    assert (found.new.kind, found.new.media, found.new.size) == ("binary", "PDF document", len(data))
    assert found.new.sha256 == hashlib.sha256(data).hexdigest()


def test_text_detection_refuses_nul_invalid_utf8_and_many_controls() -> None:
    """Text is UTF-8 (or UTF-16 behind its byte-order mark) without NUL whose control characters are rare."""
    assert is_text("Grüße, 東京\n\ttab".encode())
    assert is_text("Grüße\r\n".encode("utf-16"))
    assert not is_text(b"a\x00b")
    assert not is_text(b"caf\xe9")  # Latin-1: no exact decoding
    assert not is_text(b"\xff\xfeab\x00")  # a byte-order mark, then an odd byte: not UTF-16
    assert not is_text("no mark".encode("utf-16-le"))  # UTF-16 without its mark: NUL bytes, binary
    assert not is_text(b"\x1b\x1b\x1bab")
    assert media_type(b"PK\x03\x04rest").startswith("ZIP archive")
    assert media_type(b"\x01\x02") == "binary data"


def test_readable_text_reads_legacy_and_utf16_text_and_refuses_binary() -> None:
    """A reader's text: UTF-16 by its byte-order mark, Windows-1252 with U+FFFD; binary is None."""
    assert readable_text("Grüße\r\n".encode("utf-16")) == "Grüße\r\n"
    assert readable_text("caf\xe9 cr\xe8me\n".encode("cp1252")) == "caf\ufffd cr\ufffdme\n"
    assert readable_text("\ufeffa,b\n".encode()) == "a,b\n"
    assert readable_text(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\nstream\nx\x9c\x00\x8d") is None
    assert readable_text(b"\x1b\x1b\x1bab") is None
    assert readable_text("ab\x00".encode("utf-16")) is None  # NUL in any encoding


@given(st.text(max_size=40), st.sampled_from(["utf-8", "utf-16"]), st.integers(min_value=0, max_value=200))
@example("a", "utf-16", 1)  # the first byte of the byte-order mark alone
@example("é", "utf-8", 1)  # the first byte of a two-byte character
def test_a_cut_read_ends_on_a_whole_character(text: str, encoding: str, cut: int) -> None:
    """The start of a longer file reads as the start of its text: no U+FFFD for a character cut in two."""
    data = text.encode(encoding)
    shown = readable_text(data[:cut], cut=True)
    assert shown is None or text.removeprefix("\ufeff").startswith(shown)


@given(st.binary(max_size=64) | st.text(max_size=64).map(str.encode))
def test_readable_text_agrees_with_is_text(data: bytes) -> None:
    """Bytes the review calls text read as that text; bytes a reader is refused are never text."""
    shown, review = readable_text(data), text_of(data)
    if review is not None:
        assert shown == review[0]
    if shown is None:
        assert not is_text(data)


def test_content_over_the_limit_shows_facts_and_says_why() -> None:
    """Content larger than MAX_SHOWN_BYTES is not diffed: the note says it is too large to show."""
    big = version_of(b"x\n" * (MAX_SHOWN_BYTES // 2 + 1))
    found = preview(0, "m/big.txt", big, None)
    assert found.lines == ()
    assert "too large to show" in found.note


def test_an_unreadable_version_is_said_never_guessed() -> None:
    """When the replaced version could not be read, the preview says why and shows no lines."""
    gone = Version("a" * 64, 10, None, "the version it replaces is no longer in the store")
    found = preview(0, "m/a.txt", version_of(b"new\n"), gone)
    assert (found.lines, found.note) == ((), "the version it replaces is no longer in the store")


def test_previews_survive_their_json() -> None:
    """A preview read back from its JSON (the API's contents) is the same preview."""
    found = preview(2, "m/a.txt", version_of(b"a\nb\n"), version_of(b"a\n"))
    assert preview_from_json(found.to_json()) == found


def test_terminal_safe_escapes_control_and_bidi_characters_but_keeps_tabs() -> None:
    """ESC, CR, DEL, C1 controls and bidi overrides are shown as escapes; tabs and text stay."""
    assert terminal_safe("a\x1b[2Jb\rc\x7f\x9b\u202ed\tz") == "a\\x1b[2Jb\\x0dc\\x7f\\x9b\\u202ed\tz"


def test_in_stored_order_shows_reordering_controls_and_keeps_joiners_and_markup() -> None:
    """RLO and isolates become their codes; a ZWJ emoji stays whole; markup stays markup."""
    family = "\U0001f468\u200d\U0001f469\u200d\U0001f467"
    assert in_stored_order(f"Tidy \u202efdp.exe {family}") == f"Tidy \\u202efdp.exe {family}"
    assert in_stored_order("\u2066x\u2069") == "\\u2066x\\u2069"
    shown = in_stored_order(Markup("<b>\u202ex</b>"))
    assert isinstance(shown, Markup)
    assert shown == Markup("<b>\\u202ex</b>")


def test_an_overwrite_of_a_utf16_file_is_a_diff_and_an_encoding_change_says_so() -> None:
    """Excel's 'Unicode text' is UTF-16: its overwrite is diffed; a change of encoding alone is named."""
    old = "file\tcustodian\r\n0001.pdf\talice\r\n".encode("utf-16")
    found = preview(
        0,
        "m/index.txt",
        version_of("file\tcustodian\r\n0001.pdf\tcarol\r\n".encode("utf-16")),
        version_of(old),
    )
    assert found.old is not None
    assert (found.old.kind, found.old.media) == ("text", "UTF-16 text")
    assert found.new.media == "UTF-16 text"
    assert [(line.kind, line.text) for line in found.lines if line.kind in ("added", "removed")] == [
        ("removed", "0001.pdf\talice"),
        ("added", "0001.pdf\tcarol"),
    ]
    recoded = preview(0, "m/index.txt", version_of(b"file\tcustodian\n0001.pdf\talice\n"), version_of(old))
    assert recoded.lines == ()
    assert recoded.note == "its text does not change, its bytes do: the encoding or the line endings"
    assert (recoded.old.media if recoded.old else None, recoded.new.media) == ("UTF-16 text", "UTF-8 text")
