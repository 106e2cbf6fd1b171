"""What a write puts in the store, for review: a diff, a new file's lines, or a binary's facts. Pure.

The approval page and ``pva plans show`` (through the API's plan view) show
the same ``Preview``: built here from bytes the caller read, never from a
file name. Text is what decodes exactly, as UTF-8 or as UTF-16 behind its
byte-order mark (the text exports of Windows tools), without NUL and with
few control characters; anything else is binary and shows its type, size
and sha256. Content over
``MAX_SHOWN_BYTES`` shows its facts only: a diff of a larger file is not
something a person reads, and computing it would cost the sidecar more than
the page is worth. Nothing here escapes: the page's templates escape
everything (autoescape), the CLI escapes control characters (``terminal_safe``).
"""

from __future__ import annotations

import codecs
import difflib
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal
from unicodedata import category

MAX_SHOWN_BYTES = 256 * 1024  # per side; larger content shows its facts only
CONTEXT = 3  # unchanged lines shown around each change, as diff -u does
CONTROL_SHARE = 0.05  # text may hold at most this share of control characters other than tab, CR, LF, FF

LineKind = Literal["context", "removed", "added", "gap"]
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"%PDF-", "PDF document"),
    (b"\x89PNG\r\n\x1a\n", "PNG image"),
    (b"\xff\xd8\xff", "JPEG image"),
    (b"GIF87a", "GIF image"),
    (b"GIF89a", "GIF image"),
    (b"PK\x03\x04", "ZIP archive (also .docx, .xlsx, .pptx)"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "Microsoft Office document (legacy .doc, .xls, .msg)"),
    (b"{\\rtf", "RTF document"),
    (b"\x1f\x8b", "gzip archive"),
)


@dataclass(frozen=True, slots=True)
class Facts:
    """What is known of one version of a file: size, sha256, and what kind of content it is."""

    size: int | None
    sha256: str
    kind: Literal["text", "binary", "unknown"]  # unknown: the bytes were not read (too large, not found)
    media: str  # in words: "UTF-8 text", "PDF document", "binary data", or "" when unknown


@dataclass(frozen=True, slots=True)
class DiffLine:
    """One line shown: unchanged (context), removed, added, or a gap between hunks (``text`` says where)."""

    kind: LineKind
    old: int | None  # its number in the replaced version (1-based)
    new: int | None  # its number in the new content
    text: str


@dataclass(frozen=True, slots=True)
class Preview:
    """One write as a reviewer sees it: the new content, the version it replaces, and the lines to read."""

    index: int  # the op's index in the plan
    path: str
    new: Facts
    old: Facts | None  # None: the write creates the file
    lines: tuple[DiffLine, ...] = ()  # a diff (overwrite), or every line (a new text file)
    note: str = ""  # why some of it cannot be shown, in plain words
    changed: int = field(default=0)  # lines added plus lines removed

    @property
    def is_diff(self) -> bool:
        return self.old is not None

    def to_json(self) -> dict[str, Any]:
        return {
            "op_index": self.index,
            "path": self.path,
            "new": _facts_json(self.new),
            "old": None if self.old is None else _facts_json(self.old),
            "lines": [[line.kind, line.old, line.new, line.text] for line in self.lines],
            "note": self.note,
        }


@dataclass(frozen=True, slots=True)
class Version:
    """One version of a file as the caller found it: its bytes when they were read, else why not."""

    sha256: str
    size: int | None
    data: bytes | None = None  # None: not read
    missing: str = ""  # why the bytes are not here (plain words)


def preview_from_json(body: dict[str, Any]) -> Preview:
    """A ``Preview`` from its JSON (``Preview.to_json``, the API's ``contents``)."""
    old = body.get("old")
    lines = tuple(DiffLine(kind, o, n, text) for kind, o, n, text in body.get("lines", ()))
    return Preview(
        index=int(body["op_index"]),
        path=str(body["path"]),
        new=Facts(**body["new"]),
        old=None if old is None else Facts(**old),
        lines=lines,
        note=str(body.get("note", "")),
        changed=sum(1 for line in lines if line.kind in ("added", "removed")),
    )


def facts(version: Version) -> Facts:
    """The facts of ``version``: its kind is known only when its bytes were read."""
    if version.data is None:
        return Facts(version.size, version.sha256, "unknown", "")
    found = text_of(version.data)
    if found is not None:
        return Facts(version.size, version.sha256, "text", found[1])
    return Facts(version.size, version.sha256, "binary", media_type(version.data))


def is_text(data: bytes) -> bool:
    """True for content ``text_of`` reads as text."""
    return text_of(data) is not None


def text_of(data: bytes) -> tuple[str, str] | None:
    """``data`` decoded exactly, and its encoding in words; None for binary or undecodable content.

    UTF-16 only behind its byte-order mark, which names its byte order: a
    diff needs the very characters, so nothing is guessed or replaced.
    """
    utf16 = data[:2] in (b"\xff\xfe", b"\xfe\xff")
    try:
        text = data.decode("utf-16") if utf16 else data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    text = text.removeprefix("\ufeff")
    return (text, "UTF-16 text" if utf16 else "UTF-8 text") if _reads_as_text(text) else None


def readable_text(data: bytes, *, cut: bool = False) -> str | None:
    """``data`` as text for a reader (an agent's read of a file), or None when it is binary.

    Binary is what ``is_text`` calls binary in any encoding: a NUL, or more
    control characters than ``CONTROL_SHARE``. Text that is not UTF-8 (an old
    Windows-1252 e-mail) still reads, its undecodable bytes as U+FFFD; a
    byte-order mark names UTF-16 (the text exports of Windows tools). ``cut``:
    ``data`` is the start of a longer file, so a character it ends inside is
    left out rather than shown as U+FFFD.
    """
    head = data[:2]  # a cut read may hold only the first byte of a byte-order mark
    utf16 = any(bom.startswith(head) if cut else head == bom for bom in (b"\xff\xfe", b"\xfe\xff"))
    encoding = "utf-16" if utf16 else "utf-8"
    text = codecs.getincrementaldecoder(encoding)("replace").decode(data, final=not cut)
    text = text.removeprefix("\ufeff")
    return text if _reads_as_text(text) else None


def _reads_as_text(text: str) -> bool:
    """No NUL, and control characters other than tab, CR, LF and FF rare: not a binary format."""
    if "\x00" in text:
        return False
    controls = sum(1 for char in text if ord(char) < 32 and char not in "\t\n\r\f")
    return controls <= len(text) * CONTROL_SHARE


def media_type(data: bytes) -> str:
    """What binary content is, from its first bytes, in words."""
    return next((name for magic, name in _MAGIC if data.startswith(magic)), "binary data")


def lines_of(data: bytes) -> list[str]:
    """The lines of text content (``text_of``; CR LF, CR and LF all end a line)."""
    found = text_of(data)
    assert found is not None, "not text"
    return found[0].splitlines()


def preview(index: int, path: str, new: Version, old: Version | None) -> Preview:
    """The preview of write op ``index`` at ``path``: ``new`` content over ``old`` (None: a new file)."""
    new, old = _bounded(new), None if old is None else _bounded(old)
    new_facts, old_facts = facts(new), None if old is None else facts(old)
    unreadable = [v.missing for v in (new, old) if v is not None and v.data is None and v.missing]
    if unreadable:
        return Preview(index, path, new_facts, old_facts, note="; ".join(unreadable))
    if new_facts.kind != "text" or (old_facts is not None and old_facts.kind != "text"):
        return Preview(index, path, new_facts, old_facts, note="binary content: its type, size and sha256")
    assert new.data is not None
    if old is None:
        shown = tuple(DiffLine("added", None, n, text) for n, text in enumerate(lines_of(new.data), 1))
        return Preview(index, path, new_facts, None, shown, changed=len(shown))
    assert old.data is not None
    if old.data == new.data:
        return Preview(index, path, new_facts, old_facts, note="the content does not change")
    shown = diff(lines_of(old.data), lines_of(new.data))
    if not shown:
        same = "its text does not change, its bytes do: the encoding or the line endings"
        return Preview(index, path, new_facts, old_facts, note=same)
    changed = sum(1 for line in shown if line.kind in ("added", "removed"))
    return Preview(index, path, new_facts, old_facts, shown, changed=changed)


def _bounded(version: Version) -> Version:
    """The version without its bytes when there are more than a person is shown."""
    if version.data is None or len(version.data) <= MAX_SHOWN_BYTES:
        return version
    too_large = f"{len(version.data):,} bytes: too large to show here (the limit is {MAX_SHOWN_BYTES:,})"
    return Version(version.sha256, version.size, None, too_large)


def diff(old: Sequence[str], new: Sequence[str], *, context: int = CONTEXT) -> tuple[DiffLine, ...]:
    """A unified diff of two texts' lines, each line numbered in the version(s) it belongs to."""
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    shown: list[DiffLine] = []
    for group in matcher.get_grouped_opcodes(context):
        first, last = group[0], group[-1]
        where = f"@@ -{first[1] + 1},{last[2] - first[1]} +{first[3] + 1},{last[4] - first[3]} @@"
        shown.append(DiffLine("gap", None, None, where))
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                shown += [DiffLine("context", i + 1, j1 + i - i1 + 1, old[i]) for i in range(i1, i2)]
                continue
            shown += [DiffLine("removed", i + 1, None, old[i]) for i in range(i1, i2)]
            shown += [DiffLine("added", None, j + 1, new[j]) for j in range(j1, j2)]
    return tuple(shown)


def version_of(data: bytes) -> Version:
    """A version whose bytes are at hand (inline content): its sha256 and size computed here."""
    return Version(hashlib.sha256(data).hexdigest(), len(data), data)


def terminal_safe(text: str) -> str:
    """``text`` with control and format characters escaped (ESC, CR, bidi overrides), tabs kept.

    Content cannot then move the cursor, recolour or rewrite what a terminal shows.
    """
    return "".join(_escaped(char) if char != "\t" and _UNSAFE.get(category(char)) else char for char in text)


_UNSAFE = {"Cc": True, "Cf": True, "Zl": True, "Zp": True}
# Bidi embeddings, overrides and isolates: they reorder the text around them as it is shown.
_BIDI = (*range(0x202A, 0x202F), *range(0x2066, 0x206A))
_REORDERING = str.maketrans({code: f"\\u{code:04x}" for code in _BIDI})


def in_stored_order(text: str) -> str:
    """``text`` with its bidi embeddings, overrides and isolates shown as their codes (backslash, u202e).

    For a page or a report: an agent's title ending RLO "fdp.exe" would read
    "exe.pdf". Other format characters (joiners in emoji and scripts) stay.
    ``Markup`` stays markup (its own ``translate``).
    """
    return text if text.isascii() else text.translate(_REORDERING)


def _escaped(char: str) -> str:
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def _facts_json(value: Facts) -> dict[str, Any]:
    return {"size": value.size, "sha256": value.sha256, "kind": value.kind, "media": value.media}
