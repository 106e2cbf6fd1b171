"""The file-operations protocol and the resolved changes that run against it.

One interpreter, two targets: ``planner.core.semantics`` decides what each op means
against the current state (checks and a resolved ``Change``), and ``execute``
carries a change out on any ``FileOps``: the in-memory ``Tree`` for
simulation, a real backend for apply. A new change kind is a type error in
``execute`` until it is handled (``assert_never``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol, assert_never

from planner.core.entry import Blob, Entry
from planner.core.tree import Tree


class StoreView(Protocol):
    """The read side: what the op semantics ask of a store."""

    def stat(self, path: str) -> Entry | None: ...

    def collision(self, path: str, *, besides: str | None = None) -> str | None:
        """An existing sibling spelled unlike ``path`` whose name folds to the same key.

        ``besides`` is left out: the entry a move would put at ``path``.
        """
        ...

    def walk(self, path: str) -> Iterable[Entry]: ...

    def deepest(self, path: str) -> int:
        """Bytes of the longest path below the folder ``path``, relative to it (0 if none)."""
        ...


class Mutator(Protocol):
    """The write side. Every create is create-only unless ``replace`` says otherwise."""

    def make_dir(self, path: str) -> None: ...

    def move(self, src: str, dst: str, *, replace: bool = False) -> None: ...

    def copy(self, src: str, dst: str) -> None: ...

    def write_file(self, path: str, blob: Blob, *, replace: bool = False) -> None: ...

    def delete(self, path: str) -> None: ...


class FileOps(StoreView, Mutator, Protocol):
    """A store that can be read and changed: the in-memory tree, a backend's direct ops."""


@dataclass(frozen=True, slots=True)
class MakeDirs:
    """Create these folders in order (none for ``mkdir parents`` of an existing folder)."""

    index: int
    paths: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class MoveEntry:
    """Move ``src`` (a file or folder) to ``dst``, replacing the file ``replaced`` if set."""

    index: int
    src: str
    dst: str
    entry: Entry  # the source before the move
    replaced: Entry | None
    rename: bool


@dataclass(frozen=True, slots=True)
class WriteFile:
    """Give ``path`` the content ``blob``, replacing the file ``replaced`` if set."""

    index: int
    path: str
    blob: Blob
    replaced: Entry | None


@dataclass(frozen=True, slots=True)
class CopyEntry:
    """Copy ``src`` to the new path ``dst``; ``entries`` is what was copied (files, folders)."""

    index: int
    src: str
    dst: str
    entries: tuple[Entry, ...]


@dataclass(frozen=True, slots=True)
class TrashEntry:
    """Move ``path`` to the trash; ``removed`` is everything it held, parents first."""

    index: int
    path: str
    removed: tuple[Entry, ...]


Change = MakeDirs | MoveEntry | WriteFile | CopyEntry | TrashEntry


def execute(change: Change, target: Mutator) -> None:
    """Carry out one resolved change on a target."""
    match change:
        case MakeDirs(paths=paths):
            for path in paths:
                target.make_dir(path)
        case MoveEntry(src=src, dst=dst, replaced=replaced):
            target.move(src, dst, replace=replaced is not None)
        case WriteFile(path=path, blob=blob, replaced=replaced):
            target.write_file(path, blob, replace=replaced is not None)
        case CopyEntry(src=src, dst=dst):
            target.copy(src, dst)
        case TrashEntry(path=path):
            target.delete(path)
        case _:
            assert_never(change)


def _tree_conforms(tree: Tree) -> FileOps:
    """Type-level proof that the in-memory tree implements the protocol."""
    return tree
