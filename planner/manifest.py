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
from collections.abc import Iterable, Iterator
from typing import Any

from planner.entry import Entry
from planner.errors import ManifestError, TreeError
from planner.tree import Tree, TreeBuilder

MANIFEST_VERSION = "manifest/v1"
_FILE_FIELDS = frozenset({"path", "kind", "size", "sha256", "mtime", "generation", "md5", "crc32c"})
_DIR_FIELDS = frozenset({"path", "kind", "mtime", "generation"})
_HEX = frozenset("0123456789abcdef")


def header_line(root: str, *, hashed: bool) -> str:
    """The first line of a manifest."""
    return json.dumps({"pva": MANIFEST_VERSION, "root": root, "hashed": hashed}, ensure_ascii=False)


def entry_line(entry: Entry) -> str:
    """One entry as a manifest line (fields that are unknown are left out)."""
    body: dict[str, Any] = {"path": entry.path, "kind": entry.kind}
    if not entry.is_dir:
        body["size"] = entry.size
        if entry.sha256 is not None:
            body["sha256"] = entry.sha256
    if entry.generation is not None:
        body["generation"] = entry.generation
    if entry.mtime is not None:
        body["mtime"] = entry.mtime
    return json.dumps(body, ensure_ascii=False)


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
    decode = json.JSONDecoder().raw_decode
    number = 0
    for number, line in enumerate(lines, start=1):
        if number == 1:
            read_header(line)
            continue
        if not line.strip():
            continue
        try:
            body, end = decode(line)
        except json.JSONDecodeError as error:
            raise ManifestError(f"line {number}: not JSON ({error.msg})") from None
        if line[end:].strip():
            raise ManifestError(f"line {number}: text after the JSON object")
        yield _entry(body, number)
    if number == 0:
        raise ManifestError("the manifest is empty (no header line)")


def read_manifest(lines: Iterable[str]) -> Tree:
    """Build a tree from manifest lines."""
    builder = TreeBuilder()
    number = 1
    try:
        for number, entry in enumerate(read_entries(lines), start=2):  # noqa: B007
            if entry.is_dir:
                builder.add_dir(entry.path)
            else:
                builder.add_file(entry.path, _file_node(entry))
    except TreeError as error:
        raise ManifestError(f"entry {number - 1}: {error}") from None
    return builder.build()


def _file_node(entry: Entry) -> tuple[int | None, bytes | None, int | None]:
    return (entry.size, bytes.fromhex(entry.sha256) if entry.sha256 else None, entry.generation)


def _entry(body: Any, number: int) -> Entry:
    if not isinstance(body, dict):
        raise ManifestError(f"line {number}: an entry must be a JSON object")
    path, kind = body.get("path"), body.get("kind")
    if not isinstance(path, str) or not _plausible(path):
        raise ManifestError(f"line {number}: bad path {path!r}")
    allowed = _FILE_FIELDS if kind == "file" else _DIR_FIELDS if kind == "dir" else None
    if allowed is None:
        raise ManifestError(f"line {number}: kind must be 'file' or 'dir', not {kind!r}")
    unknown = body.keys() - allowed
    if unknown:
        raise ManifestError(f"line {number}: unknown fields {sorted(unknown)} for a {kind}")
    size, sha256 = body.get("size"), body.get("sha256")
    generation, mtime = body.get("generation"), body.get("mtime")
    if kind == "file" and not (type(size) is int and size >= 0):
        raise ManifestError(f"line {number}: a file needs a size >= 0")
    if sha256 is not None and not (isinstance(sha256, str) and len(sha256) == 64 and _HEX.issuperset(sha256)):
        raise ManifestError(f"line {number}: sha256 must be 64 lowercase hex digits")
    if generation is not None and type(generation) is not int:
        raise ManifestError(f"line {number}: generation must be an integer")
    if mtime is not None and type(mtime) not in (int, float):
        raise ManifestError(f"line {number}: mtime must be a number")
    return Entry(path, "file" if kind == "file" else "dir", size, sha256, generation, mtime)


def _plausible(path: str) -> bool:
    """A structurally sound stored path (existing names need not follow plan rules)."""
    if not path or path[0] == "/" or path[-1] == "/" or "\x00" in path:
        return False
    return all(segment not in ("", ".", "..") for segment in path.split("/"))
