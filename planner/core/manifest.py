"""Manifests: a streamed JSON-lines snapshot of a store, read in constant memory per entry.

Line 1 is a header, then one entry per line::

    {"pva": "manifest/v1", "root": "/projects", "hashed": true}
    {"path": "matters", "kind": "dir"}
    {"path": "matters/a.pdf", "kind": "file", "size": 3, "sha256": "...", "mtime": 1.5}

Entries may come in any order (missing parent folders are implied, as object
stores imply them), but parents first is fastest. Pure: callers pass lines in
and get lines out; the file handling is theirs.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator
from json.encoder import encode_basestring as _string  # json.dumps's strings, ensure_ascii=False
from typing import Any

from planner.core.entry import Entry, Kind
from planner.core.errors import ManifestError, TreeError
from planner.core.tree import FileNode, Tree, TreeBuilder

MANIFEST_VERSION = "manifest/v1"
_FILE_FIELDS = frozenset({"path", "kind", "size", "sha256", "mtime", "generation", "md5", "crc32c"})
_DIR_FIELDS = frozenset({"path", "kind", "mtime", "generation"})


def header_line(root: str, *, hashed: bool) -> str:
    """The first line of a manifest."""
    return json.dumps({"pva": MANIFEST_VERSION, "root": root, "hashed": hashed}, ensure_ascii=False)


def entry_line(entry: Entry) -> str:
    """One entry as a manifest line (fields that are unknown are left out).

    Written field by field, the text ``json.dumps`` gives the same dict
    (``tests/unit/test_manifest.py`` holds it to that): a listing of
    20,000 files spends a third of its time here otherwise.
    """
    line = f'{{"path": {_string(entry.path)}, "kind": {_string(entry.kind)}'
    if not entry.is_dir:
        line += f', "size": {_number(entry.size)}'
        if entry.sha256 is not None:
            line += f', "sha256": {_string(entry.sha256)}'
    if entry.generation is not None:
        line += f', "generation": {_number(entry.generation)}'
    if entry.mtime is not None:
        line += f', "mtime": {_number(entry.mtime)}'
    return line + "}"


def _number(value: float | None) -> str:
    """A number as json.dumps writes it (null for None; NaN and infinities as Python's json does)."""
    if type(value) is int:
        return int.__repr__(value)
    if type(value) is float and math.isfinite(value):
        return float.__repr__(value)
    return json.dumps(value)


def manifest_lines(entries: Iterable[Entry], root: str, *, hashed: bool) -> Iterator[str]:
    """A whole manifest, one line at a time (no trailing newlines)."""
    yield header_line(root, hashed=hashed)
    for entry in entries:
        yield entry_line(entry)


def read_header(line: str) -> dict[str, Any]:
    """Parse and check a manifest's header line."""
    try:
        header = json.loads(line)
    except json.JSONDecodeError as error:
        raise ManifestError(f"line 1: not JSON ({error.msg})") from None
    if not isinstance(header, dict) or header.get("pva") != MANIFEST_VERSION:
        raise ManifestError(f"line 1: not a {MANIFEST_VERSION} header")
    return header


def read_entries(lines: Iterable[str]) -> Iterator[Entry]:
    """Parse a manifest (header included), yielding entries; raise ManifestError on bad lines."""
    for number, body in _bodies(lines):
        path, kind, node, mtime = _parse(body, number)
        if node is None:
            yield Entry(path, kind, mtime=mtime, generation=body.get("generation"))
        else:
            size, digest, generation = node
            yield Entry(path, kind, size, digest.hex() if digest else None, generation, mtime)


def read_manifest(lines: Iterable[str]) -> Tree:
    """Build a tree from manifest lines (the hot path: about 1 µs of checks per line)."""
    builder = TreeBuilder()
    for number, body in _bodies(lines):
        path, _, node, _ = _parse(body, number)
        try:
            if node is None:
                builder.add_dir(path)
            else:
                builder.add_file(path, node)
        except TreeError as error:
            raise ManifestError(f"line {number}: {error}") from None
    return builder.build()


def _bodies(lines: Iterable[str]) -> Iterator[tuple[int, dict[str, Any]]]:
    """Numbered JSON objects of the entry lines, after checking the header."""
    decode = json.JSONDecoder().raw_decode
    number = 0
    for number, line in enumerate(lines, start=1):
        if number == 1:
            read_header(line)
            continue
        try:
            body, end = decode(line)
        except json.JSONDecodeError as error:
            if not line.strip():
                continue
            raise ManifestError(f"line {number}: not JSON ({error.msg})") from None
        if end != len(line) and line[end:].strip():
            raise ManifestError(f"line {number}: text after the JSON object")
        if type(body) is not dict:
            raise ManifestError(f"line {number}: an entry must be a JSON object")
        yield number, body
    if number == 0:
        raise ManifestError("the manifest is empty (no header line)")


def _parse(body: dict[str, Any], number: int) -> tuple[str, Kind, FileNode | None, float | None]:
    """Check one entry; return its path, kind, file node (None for a folder) and mtime."""
    path, kind = body.get("path"), body.get("kind")
    if type(path) is not str or not _plausible(path):
        raise ManifestError(f"line {number}: bad path {path!r}")
    if kind == "file":
        allowed = _FILE_FIELDS
    elif kind == "dir":
        allowed = _DIR_FIELDS
    else:
        raise ManifestError(f"line {number}: kind must be 'file' or 'dir', not {kind!r}")
    if not allowed.issuperset(body):
        unknown = sorted(body.keys() - allowed)
        raise ManifestError(f"line {number}: unknown fields {unknown} for a {kind}")
    generation, mtime = body.get("generation"), body.get("mtime")
    if generation is not None and type(generation) is not int:
        raise ManifestError(f"line {number}: generation must be an integer")
    if mtime is not None and type(mtime) is not float and type(mtime) is not int:
        raise ManifestError(f"line {number}: mtime must be a number")
    if kind == "dir":
        return path, "dir", None, mtime
    size = body.get("size")
    if type(size) is not int or size < 0:
        raise ManifestError(f"line {number}: a file needs a size >= 0")
    return path, "file", (size, _digest(body.get("sha256"), number), generation), mtime


def _digest(sha256: Any, number: int) -> bytes | None:
    if sha256 is None:
        return None
    try:
        digest = bytes.fromhex(sha256) if type(sha256) is str and len(sha256) == 64 else b""
    except ValueError:
        digest = b""
    if len(digest) != 32 or sha256 != sha256.lower():
        raise ManifestError(f"line {number}: sha256 must be 64 lowercase hex digits")
    return digest


def _plausible(path: str) -> bool:
    """A structurally sound stored path (existing names need not follow plan rules).

    Refused: empty, absolute, trailing '/', empty, '.' or '..' segments, NUL.
    """
    wrapped = f"/{path}/"
    return not ("//" in wrapped or "/./" in wrapped or "/../" in wrapped or "\x00" in path)
