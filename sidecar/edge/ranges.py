"""HTTP byte ranges and validators for streamed files: ``Range``, ``ETag``, ``If-None-Match``. Pure.

One range only (``bytes=START-END``, ``bytes=START-``, ``bytes=-SUFFIX``);
a header that is not one satisfiable range of that form is answered as
RFC 9110 allows: ignored (the whole file) when it cannot be parsed or names
several ranges, 416 when it parses but lies past the end.
"""

from __future__ import annotations

import re

from planner.core.entry import Entry

_RANGE = re.compile(r"bytes=(\d*)-(\d*)")


class Unsatisfiable(Exception):
    """The range lies wholly past the end of the file (HTTP 416)."""


def etag(entry: Entry) -> str:
    """The strong validator of a file's content: its sha256, else its generation."""
    if entry.sha256 is not None:
        return f'"{entry.sha256}"'
    return f'"g{entry.generation}"'


def not_modified(if_none_match: str | None, tag: str) -> bool:
    """True when the client's ``If-None-Match`` names ``tag`` (or ``*``); weak tags compare weakly."""
    if not if_none_match:
        return False
    given = {part.strip().removeprefix("W/") for part in if_none_match.split(",")}
    return "*" in given or tag in given


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """``[start, stop)`` asked for by a ``Range`` header; None for the whole file.

    Unsatisfiable for a range starting at or past the end (or an empty suffix).
    """
    if header is None:
        return None
    found = _RANGE.fullmatch(header.strip())
    if found is None:
        return None  # unknown unit, several ranges, or malformed: serve the whole file
    first, last = found.groups()
    if not first and not last:
        return None
    if not first:  # the last N bytes
        suffix = int(last)
        if suffix == 0 or size == 0:
            raise Unsatisfiable(header)
        return max(0, size - suffix), size
    start = int(first)
    stop = size if not last else min(size, int(last) + 1)
    if not last or int(last) >= start:
        if start >= size:
            raise Unsatisfiable(header)
        return start, stop
    return None  # last < first: not a valid range, ignored
