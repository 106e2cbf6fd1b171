"""What a plan reads, and the one reader that reads it from any store.

``footprint(plan)`` says what verification needs: the paths the ops name and
the folders whose contents they move, copy or delete. ``read(source, reads)``
reads exactly that from a ``ReadSource`` (a small protocol: stat, list a
folder, list below one, hash a file) that the in-memory tree, the folder
scan and every backend implement, so every store yields the same footprint.
``pinned`` is the part of it an approval binds to. Pure: sources do the I/O.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from itertools import repeat
from typing import Protocol, assert_never

from planner.core.entry import Entry
from planner.core.paths import RESERVED_ROOT, fold, join, path_problem, rebase, split
from planner.core.plan import Copy, Delete, Expect, Mkdir, Move, Op, Plan, Rename, Write
from planner.core.tree import Tree, tree_of


@dataclass(frozen=True)
class Read:
    """Read ``path`` (and its ancestors and its parent's listing).

    ``tree``: also everything below it. ``hashed``: with sha256 for the files
    read (the verifier needs hashes for ``expect``, and the inverse plan for
    what a plan deletes, overwrites or copies). ``identified`` (the default):
    every file it names gets a content identity, hashed or not (what an
    approval binds to); without it, only ``hashed`` files are hashed (the
    read-back after an apply compares only what the prediction knows).
    """

    path: str
    tree: bool = False
    hashed: bool = False
    identified: bool = True


def footprint(plan: Plan) -> list[Read]:
    """The reads a plan's verification needs, merged per path, in path order.

    A plan that pins a hash anywhere gets what it moves hashed too: a later
    op may pin the moved file (or one inside a moved folder) at its new path,
    and the pin must be checked against the live bytes.
    """
    pins = any(_pinned(op.expect) or _pinned(getattr(op, "expect_dst", None)) for op in plan.ops)
    merged: dict[str, Read] = {}
    for read in _reads(plan.ops, pins=pins):
        if path_problem(read.path) is not None:
            continue  # the verifier reports it; nothing to read
        old = merged.get(read.path, read)
        merged[read.path] = Read(read.path, old.tree or read.tree, old.hashed or read.hashed)
    return [merged[path] for path in sorted(merged)]


def pinned(tree: Tree, reads: Sequence[Read]) -> Tree:
    """The part of ``tree`` an approval binds to: what the reads name, and all below what they read whole.

    Not the other entries of the parents' listings: those are read only to
    look for collisions, and verification at apply time looks again. So a
    document filed next to a plan's target does not void the plan's approvals,
    while any change to what the plan moves, writes, copies or deletes does.
    """
    return tree_of(bound(tree, reads).values())


def bound(tree: Tree, reads: Sequence[Read]) -> dict[str, Entry]:
    """The entries of ``pinned`` by path, without the folders a tree implies above them.

    Compare these, not two pinned trees' walks: a file that appears at a
    named path implies its parent folder in a tree, and that folder did not
    "appear" (it was there all along, only not named).
    """
    entries: dict[str, Entry] = {}
    for one in reads:
        found = tree.walk(one.path) if one.tree else (tree.stat(one.path),)
        entries.update((entry.path, entry) for entry in found if entry is not None)
    return entries


SHOWN_LISTING = 1000  # a folder's other entries kept for review, up to this many


def reviewed(tree: Tree, reads: Sequence[Read]) -> Tree:
    """The part of a footprint kept with a plan for people to review: the bound entries, their folders.

    ``bound`` (what an approval binds to), the folders above each read, and
    the other entries of each read's folder when it holds at most
    ``SHOWN_LISTING`` of them (an approver sees what else a destination
    holds). A folder of 200,000 documents is not copied into every plan that
    files one of them: only what the plan names of it is kept. The resolved
    changes replay on this as on the whole footprint, since they need only
    the folders above what they name.
    """
    entries = bound(tree, reads)
    for one in reads:
        folder = one.path
        while folder:
            folder = split(folder)[0]
            found = tree.stat(folder) if folder else None
            if found is not None and found.is_dir and folder not in entries:
                entries[folder] = found
        parent = split(one.path)[0]
        if tree.kind(parent) == "dir" and len(names := tree.names(parent)) <= SHOWN_LISTING:
            for name in names:
                sibling = tree.stat(join(parent, name))
                if sibling is not None:
                    entries.setdefault(sibling.path, sibling)
    return tree_of(entries.values())


class ReadSource(Protocol):
    """What the footprint reader asks of a store. Metadata calls never hash; none follows a link.

    Entries are folders and regular files only (links and special files are
    not store content), and never in the reserved area.
    """

    def stat(self, path: str) -> Entry | None:
        """The entry at ``path`` without sha256; None when absent or below a file."""
        ...

    def listing(self, folder: str) -> Iterable[Entry]:
        """The direct children of the existing folder ``folder``, without sha256."""
        ...

    def below(self, folder: str) -> Iterable[Entry]:
        """Everything below the existing folder ``folder``, without sha256, in any order."""
        ...

    def hashed(self, entry: Entry) -> Entry | None:
        """The file ``entry`` with its sha256 (and the size of the bytes hashed); None if gone."""
        ...


def read(source: ReadSource, reads: Sequence[Read]) -> Tree:
    """The part of a store that ``reads`` need (see ``Read``), nothing more: the one footprint reader.

    Per read: the path's ancestors; the listing of its parent, or of the
    deepest folder that exists (the plan would create the rest there); the
    path itself; with ``tree``, everything below it. What a read names, and
    all below a whole read, is what an approval binds to (``pinned``), so each
    such file gets a content identity: its generation where the store keeps
    one (GCS), else its sha256; and its sha256 anyway when the read is
    ``hashed``. The other entries of a listing come without hashes.
    """
    found: dict[str, Entry] = {}
    listed: set[str] = set()  # folders already listed: reads often share a parent
    for one in reads:
        if not _reserved(one.path):
            _read_one(source, one, found, listed)
    return tree_of(found[path] for path in sorted(found, key=lambda path: path.split("/")))


def _read_one(source: ReadSource, one: Read, found: dict[str, Entry], listed: set[str]) -> None:
    names = one.path.split("/") if one.path else []
    if not names:
        _list(source, "", found, listed)
    prefix, first = "", 0
    if len(names) > 1 and (parent := one.path.rpartition("/")[0]) in listed:
        prefix, first = parent, len(names) - 1  # every folder above a listed one was read on the way
    for index in range(first, len(names)):
        path, last = join(prefix, names[index]), index == len(names) - 1
        if last:  # its folder is listed anyway (collisions): the listing says what is there
            _list(source, prefix, found, listed)
        entry = _stat(source, path, prefix, found, listed)
        if entry is None:
            _list(source, prefix, found, listed)
            return
        _keep(found, _identified(source, entry, one) if last else entry)
        if not entry.is_dir:
            return
        prefix = path
    if one.tree:
        for below in source.below(one.path):
            _keep(found, _identified(source, below, one))


def _stat(
    source: ReadSource, path: str, folder: str, found: dict[str, Entry], listed: set[str]
) -> Entry | None:
    """The entry at ``path`` in ``folder``: as its listing shows it, a folder read already, or a stat.

    So reads that share folders (a plan filing a thousand files from one
    inbox) cost one listing per folder, not a walk from the root per path.
    What a listing does not show is asked for: a bucket's listing may leave
    out a folder that its own stat finds (a placeholder rolled into a prefix).
    """
    known = found.get(path)
    if known is not None and (known.is_dir or folder in listed):
        return known
    return source.stat(path)


def _list(source: ReadSource, folder: str, found: dict[str, Entry], listed: set[str]) -> None:
    if folder not in listed:
        listed.add(folder)
        for entry in source.listing(folder):
            _keep(found, entry)


def _identified(source: ReadSource, entry: Entry, one: Read) -> Entry:
    """A bound file with what identifies its content: a generation, or else (or when asked) its sha256."""
    if entry.is_dir or entry.sha256 is not None or (entry.generation is not None and not one.hashed):
        return entry
    if not (one.identified or one.hashed):
        return entry
    return source.hashed(entry) or entry


def _keep(found: dict[str, Entry], entry: Entry) -> None:
    """Record an entry; a reading with a hash, or of another kind (changed meanwhile), wins."""
    old = found.get(entry.path)
    if old is None or old.kind != entry.kind or entry.sha256 is not None:
        found[entry.path] = entry


def _reserved(path: str) -> bool:
    return fold(path.split("/", 1)[0]) == RESERVED_ROOT


class TreeSource:
    """A ``ReadSource`` over an in-memory tree: a manifest's, or a memory store's."""

    def __init__(self, tree: Tree) -> None:
        self.tree = tree

    def stat(self, path: str) -> Entry | None:
        entry = None if _reserved(path) else self.tree.stat(path)
        return None if entry is None else replace(entry, sha256=None)

    def listing(self, folder: str) -> Iterable[Entry]:
        for name in self.tree.names(folder):
            entry = self.stat(join(folder, name))
            if entry is not None:
                yield entry

    def below(self, folder: str) -> Iterable[Entry]:
        for entry in self.tree.walk(folder):
            if entry.path != folder and not _reserved(entry.path):
                yield replace(entry, sha256=None)

    def hashed(self, entry: Entry) -> Entry | None:
        return self.tree.stat(entry.path)


def _reads(ops: Iterable[Op], *, pins: bool) -> Iterable[Read]:
    """Each op's reads; a hashed read of a path an earlier op moved or copied there is read at its origin too.

    The live store holds that content at the origin (``contracts/nda.pdf``
    for a delete of ``archive/nda.pdf`` after ``contracts`` moved to
    ``archive``); without its hash the inverse could not restore it.
    """
    arrivals = Arrivals()
    for op in ops:
        for read in _op_reads(op, pins=pins):
            yield read
            origin = arrivals.origin(read.path) if read.hashed else read.path
            if origin != read.path:
                yield Read(origin, tree=read.tree, hashed=True)
        match op:
            case Move() | Copy():
                arrivals.add(op.dst, op.src)
            case Rename() if "/" not in op.name:
                arrivals.add(join(split(op.path)[0], op.name), op.path)
            case _:
                pass


class Arrivals:
    """Where content went and where it came from, in plan order, indexed by where it went.

    ``origin`` follows a path back through them without scanning them all: a
    plan of 10,000 pinned moves asks 10,000 times, and a scan of every earlier
    arrival each time was 10^8 steps.
    """

    def __init__(self) -> None:
        self._moves: list[tuple[str, str]] = []  # (dst, src), in plan order
        self._at: dict[str, list[int]] = {}  # dst -> the indices of the arrivals there, ascending

    def add(self, dst: str, src: str) -> None:
        self._at.setdefault(dst, []).append(len(self._moves))
        self._moves.append((dst, src))

    def origin(self, path: str) -> str:
        """Where the content at ``path`` (after every arrival) is in the store before the plan.

        The same as going back through the arrivals, latest first, moving
        ``path`` back across each that contains it: each step finds the latest
        earlier arrival at the path or at one of its folders.
        """
        limit = len(self._moves)
        while True:
            latest = max(map(self._latest_at, _and_folders(path), repeat(limit)), default=-1)
            if latest < 0:
                return path
            dst, src = self._moves[latest]
            path, limit = rebase(path, dst, src), latest

    def _latest_at(self, dst: str, limit: int) -> int:
        """The index of the latest arrival at ``dst`` before ``limit``; -1 if none."""
        indices = self._at.get(dst)
        before = 0 if indices is None else bisect_left(indices, limit)
        return indices[before - 1] if indices and before else -1


def _and_folders(path: str) -> Iterator[str]:
    """``path`` and every string ``contains`` counts as holding it: each prefix before a '/', and ''."""
    yield path
    while path:
        path = path.rpartition("/")[0]
        yield path


def _op_reads(op: Op, *, pins: bool) -> Iterable[Read]:
    match op:
        case Mkdir():
            yield Read(op.path)
        case Move():
            # A move keeps bytes: what it moves is hashed only when the plan
            # pins a hash; otherwise a moved folder's contents are only listed.
            yield Read(op.src, tree=True, hashed=pins)
            yield Read(op.dst, hashed=op.overwrite)
        case Rename():
            yield Read(op.path, tree=True, hashed=pins)
            if "/" not in op.name:
                yield Read(join(split(op.path)[0], op.name))
        case Write():
            yield Read(op.path, hashed=True)
        case Copy():
            yield Read(op.src, tree=True, hashed=True)
            yield Read(op.dst)
        case Delete():
            yield Read(op.path, tree=True, hashed=True)
        case _:
            assert_never(op)


def _pinned(expect: Expect | None) -> bool:
    return expect is not None and expect.sha256 is not None
