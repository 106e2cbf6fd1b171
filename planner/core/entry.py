"""The small value types every store speaks: an entry's metadata and content to write."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["file", "dir"]


@dataclass(frozen=True, slots=True)
class Entry:
    """What a tree or a backend knows about one path."""

    path: str
    kind: Kind
    size: int | None = None
    sha256: str | None = None  # lowercase hex
    generation: int | None = None
    mtime: float | None = None  # seconds since the epoch; informational, never compared

    @property
    def is_dir(self) -> bool:
        return self.kind == "dir"


@dataclass(frozen=True, slots=True)
class Blob:
    """Content for a write: inline ``data``, or a reference to an uploaded blob."""

    sha256: str
    size: int | None  # None: a content_ref whose size the verifier was not told
    data: bytes | None = None
