"""Baseline A: a naive simulation of a plan on a flat dict, the verifier's yardstick.

The store is ``{path: size}`` with folders marked ``DIR``, and each op gets
existence and parent checks only: no path rules, scope, case collisions,
conflicts, preconditions, effect or inverse plan. A flat dict has no notion
of what a folder holds, so moving one re-keys every entry below it. To find
those entries without scanning the whole store it can keep ``children`` (the
names in each folder), at the price of a little work on every op; without it
a folder move scans every key. The verify benchmark uses the plain dict for
the file-only mix and the indexed one for the mix with folder moves.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from bench.corpus import DIR
from planner.core.plan import Plan


class FlatStore:
    """``{path: size}``; ``errors`` collects (op index, message) as a verifier would."""

    def __init__(self, sizes: dict[str, int], *, indexed: bool) -> None:
        self.sizes = sizes
        self.children: dict[str, set[str]] | None = _index(sizes) if indexed else None
        self.errors: list[tuple[int, str]] = []
        self.rekeyed = 0  # entries re-keyed by folder moves

    @classmethod
    def of(cls, entries: Iterable[tuple[str, int]], *, indexed: bool) -> FlatStore:
        return cls(dict(entries), indexed=indexed)

    def copy(self) -> FlatStore:
        """A fresh store with the same entries (a simulation must not change its input)."""
        return FlatStore(dict(self.sizes), indexed=self.children is not None)

    def run(self, plan: Plan) -> list[tuple[int, str]]:
        """Simulate every op in order; an op with an error changes nothing."""
        for index, op in enumerate(plan.ops):
            problem = self._step(op)
            if problem is not None:
                self.errors.append((index, problem))
        return self.errors

    def _step(self, op: Any) -> str | None:
        kind = op.op
        if kind == "move":
            return self.move(op.src, op.dst)
        if kind == "rename":
            path = op.path
            return self.move(path, path.rpartition("/")[0] + "/" + op.name)
        if kind == "mkdir":
            return self.mkdir(op.path, parents=op.parents)
        if kind == "write":
            return self.write(op.path, len(op.content.encode()))
        return f"{kind} is not simulated by the baseline"

    # -- ops -------------------------------------------------------------

    def mkdir(self, path: str, *, parents: bool) -> str | None:
        size = self.sizes.get(path)
        if size is not None:
            return None if size == DIR and parents else f"{path} exists"
        missing = [path]
        parent = path.rpartition("/")[0]
        while parents and parent and parent not in self.sizes:
            missing.append(parent)
            parent = parent.rpartition("/")[0]
        problem = self._parent_problem(missing[-1])
        if problem is not None:
            return problem
        for folder in reversed(missing):
            self._add(folder, DIR)
        return None

    def move(self, src: str, dst: str) -> str | None:
        size = self.sizes.get(src)
        if size is None:
            return f"{src} does not exist"
        if dst in self.sizes:
            return f"{dst} exists"
        if dst == src or dst.startswith(src + "/"):
            return f"cannot move {src} into itself"
        problem = self._parent_problem(dst)
        if problem is not None:
            return problem
        if size == DIR:
            self._move_folder(src, dst)
        else:
            self._remove(src)
            self._add(dst, size)
        return None

    def write(self, path: str, size: int) -> str | None:
        if path in self.sizes:
            return f"{path} exists"
        problem = self._parent_problem(path)
        if problem is None:
            self._add(path, size)
        return problem

    # -- helpers ---------------------------------------------------------

    def _parent_problem(self, path: str) -> str | None:
        parent = path.rpartition("/")[0]
        if not parent:
            return None
        size = self.sizes.get(parent)
        if size is None:
            return f"{parent} does not exist"
        return None if size == DIR else f"{parent} is a file"

    def _add(self, path: str, size: int) -> None:
        self.sizes[path] = size
        if self.children is not None:
            parent, _, name = path.rpartition("/")
            self.children[parent].add(name)
            if size == DIR:
                self.children[path] = set()

    def _remove(self, path: str) -> int:
        if self.children is not None:
            parent, _, name = path.rpartition("/")
            self.children[parent].discard(name)
        return self.sizes.pop(path)

    def _move_folder(self, src: str, dst: str) -> None:
        """Re-key the folder and every entry below it."""
        below = self._below(src)
        self._add(dst, self._remove(src))
        cut = len(src)
        for path in below:
            self.sizes[dst + path[cut:]] = self.sizes.pop(path)
        if self.children is not None:
            for path in [src, *below]:
                if path in self.children:
                    self.children[dst + path[cut:]] = self.children.pop(path)
        self.rekeyed += len(below)

    def _below(self, folder: str) -> list[str]:
        """Every path strictly below ``folder``: a walk of the index, else a scan of every key."""
        if self.children is None:
            prefix = folder + "/"
            return [path for path in self.sizes if path.startswith(prefix)]
        found: list[str] = []
        stack = [folder]
        while stack:
            parent = stack.pop()
            for name in self.children.get(parent, ()):
                path = f"{parent}/{name}"
                found.append(path)
                if self.sizes[path] == DIR:
                    stack.append(path)
        return found


def _index(sizes: dict[str, int]) -> dict[str, set[str]]:
    children: dict[str, set[str]] = {"": set()}
    for path, size in sizes.items():
        if size == DIR:
            children.setdefault(path, set())
    for path in sizes:
        parent, _, name = path.rpartition("/")
        children[parent].add(name)
    return children
