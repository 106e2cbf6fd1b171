"""The small value types every store speaks: an entry's metadata and content to write."""

from __future__ import annotations

import stat
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

Kind = Literal["file", "dir"]


def stored_kind(mode: int, names: int) -> Kind | None:
    """What an ``lstat`` (mode, link count) shows as store content: a folder, a file, or None.

    A file is a regular file with one name. A symlink, a FIFO, socket or
    device, and a file with a second name (a hard link) are no store
    content: no plan can name one, listings on both sides leave them out,
    and the sidecar will not touch them (``sidecar.backends.confined.check``).
    """
    if stat.S_ISDIR(mode):
        return "dir"
    if stat.S_ISREG(mode) and names == 1:
        return "file"
    return None


@dataclass(frozen=True, slots=True, init=False)
class Entry:
    """What a tree or a backend knows about one path."""

    path: str
    kind: Kind
    size: int | None = None
    sha256: str | None = None  # lowercase hex
    generation: int | None = None
    mtime: float | None = None  # seconds since the epoch; informational, never compared

    def __init__(  # noqa: PLR0917  # the dataclass's own signature
        self,
        path: str,
        kind: Kind,
        size: int | None = None,
        sha256: str | None = None,
        generation: int | None = None,
        mtime: float | None = None,
    ) -> None:
        # Frozen, yet built through the slots' own setters: the generated __init__
        # goes through object.__setattr__ by name, twice as slow, and listings,
        # manifests and every tree lookup make an Entry each.
        _set_path(self, path)
        _set_kind(self, kind)
        _set_size(self, size)
        _set_sha256(self, sha256)
        _set_generation(self, generation)
        _set_mtime(self, mtime)

    @property
    def is_dir(self) -> bool:
        return self.kind == "dir"


def _slot_setter(name: str) -> Callable[[Entry, Any], None]:
    """The ``__set__`` of one of Entry's slots (a member descriptor), which frozen leaves alone."""
    setter: Callable[[Entry, Any], None] = vars(Entry)[name].__set__
    return setter


_set_path = _slot_setter("path")
_set_kind = _slot_setter("kind")
_set_size = _slot_setter("size")
_set_sha256 = _slot_setter("sha256")
_set_generation = _slot_setter("generation")
_set_mtime = _slot_setter("mtime")


@dataclass(frozen=True, slots=True)
class Blob:
    """Content for a write: inline ``data``, or a reference to an uploaded blob."""

    sha256: str
    size: int | None  # None: a content_ref whose size the verifier was not told
    data: bytes | None = None
