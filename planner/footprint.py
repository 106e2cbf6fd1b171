"""What a plan reads: the paths it names, the folders whose contents it moves.

Verification needs only this part of a store, so a live snapshot for a 10-op
plan reads a few folders, never the whole store. Pure: the backends do the
reading.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import assert_never

from planner.entry import Entry
from planner.paths import contains, join, path_problem, rebase, split
from planner.plan import Copy, Delete, Expect, Mkdir, Move, Op, Plan, Rename, Write
from planner.tree import Tree, tree_of


@dataclass(frozen=True)
class Read:
    """Read ``path`` (and its ancestors and its parent's listing).

    ``tree``: also everything below it. ``hashed``: with sha256 for the files
    read (the verifier needs hashes for ``expect``, and the inverse plan for
    what a plan deletes, overwrites or copies).
    """

    path: str
    tree: bool = False
    hashed: bool = False


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
    entries: dict[str, Entry] = {}
    for read in reads:
        found = tree.walk(read.path) if read.tree else (tree.stat(read.path),)
        entries.update((entry.path, entry) for entry in found if entry is not None)
    return tree_of(entries.values())


def _reads(ops: Iterable[Op], *, pins: bool) -> Iterable[Read]:
    """Each op's reads; a hashed read of a path an earlier op moved or copied there is read at its origin too.

    The live store holds that content at the origin (``contracts/nda.pdf``
    for a delete of ``archive/nda.pdf`` after ``contracts`` moved to
    ``archive``); without its hash the inverse could not restore it.
    """
    arrivals: list[tuple[str, str]] = []  # (where content went, where it came from), in plan order
    for op in ops:
        for read in _op_reads(op, pins=pins):
            yield read
            origin = _origin(read.path, arrivals) if read.hashed else read.path
            if origin != read.path:
                yield Read(origin, tree=read.tree, hashed=True)
        match op:
            case Move() | Copy():
                arrivals.append((op.dst, op.src))
            case Rename() if "/" not in op.name:
                arrivals.append((join(split(op.path)[0], op.name), op.path))
            case _:
                pass


def _origin(path: str, arrivals: list[tuple[str, str]]) -> str:
    """Where the content at ``path`` (after ``arrivals``) is in the store before the plan."""
    for dst, src in reversed(arrivals):
        if contains(dst, path):
            path = rebase(path, dst, src)
    return path


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
