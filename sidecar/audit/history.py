"""A document's chain of custody: follow its names back to its origin and forward to now.

An op concerns a document named N when the op's ``path`` or ``src`` is N or
a folder containing N (``planner.core.paths.contains``), so moving ``inbox`` to
``archive`` moves ``inbox/1.pdf`` to ``archive/1.pdf`` (``rebase``). The walk
only ever asks for the ops at a handful of exact names (a name and its
ancestors), through the ``path`` and ``src`` indexes: its cost grows with the
document's history, not with the audit.

From the path asked about, every op at that name is listed; each arrival is
followed back (to the name it came from, and so on to where it was created),
and each departure forward (to where it went, and on, to where it is now or
to the trash). Copies are followed back (provenance), not forward.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from enum import Enum

from planner.core.paths import contains, rebase
from sidecar.audit.views import History, HistoryItem, OpView

MAX_STEPS = 1000  # walks per query, against pathological histories


@dataclass(frozen=True)
class Who:
    """Who submitted a plan (and its title), who applied an op, who approved the plan."""

    title: str
    author: str
    actor: str
    approvers: tuple[str, ...] = ()


Lookup = Callable[[Sequence[str]], Iterable[OpView]]  # ops whose path or src is one of the names
Details = Callable[[Sequence[OpView]], dict[tuple[int, int], Who]]  # for the ops found, by position


class Role(Enum):
    """What an op did to the document at one name."""

    ARRIVE = "arrive"  # moved or renamed to this name (itself, or in its folder)
    COPY_IN = "copy_in"  # copied to this name
    CREATE = "create"  # written or made here from nothing
    VERSION = "version"  # given new content here; the old went to the trash
    DEPART = "depart"  # moved or renamed away
    COPY_OUT = "copy_out"  # copied elsewhere; it stays
    DELETE = "delete"  # moved to the trash


@dataclass(frozen=True)
class Relation:
    """An op seen from one name: its role, the other name involved, and the item's wording."""

    role: Role
    action: str
    other: str | None  # the name it came from or went to
    folder: bool  # the op moved, copied or deleted a folder holding the document
    trash: str | None = None


def relate(op: OpView, name: str) -> Relation | None:
    """How ``op`` concerns the document at ``name``, or None when it does not."""
    if op.src is not None and contains(op.src, name):
        folder, other = op.src != name, rebase(name, op.src, op.path)
        if op.kind == "copy":
            return Relation(Role.COPY_OUT, _folder("copied to", folder), other, folder)
        return Relation(Role.DEPART, _folder(_moved(op.kind), folder), other, folder)
    if not contains(op.path, name):
        return None
    return _at_path(op, name)


def _at_path(op: OpView, name: str) -> Relation | None:
    """How an op whose ``path`` is ``name`` or a folder above it concerns the document."""
    folder = op.path != name
    trash = None if op.trash is None else rebase(name, op.path, op.trash)
    if op.kind in ("move", "rename", "copy"):
        assert op.src is not None
        role, action = (Role.COPY_IN, "copied from") if op.kind == "copy" else (Role.ARRIVE, _moved(op.kind))
        return Relation(role, _folder(action, folder), rebase(name, op.path, op.src), folder, trash)
    if op.kind == "delete":
        return Relation(Role.DELETE, _folder("deleted", folder), None, folder, trash)
    if folder:  # a folder made above the document says nothing about it
        return None
    if op.kind == "write" and op.trash is not None:
        return Relation(Role.VERSION, "overwritten", None, folder, trash)
    return Relation(Role.CREATE, "written" if op.kind == "write" else "created", None, folder)


def _moved(kind: str) -> str:
    return "renamed" if kind == "rename" else "moved"


def _folder(action: str, folder: bool) -> str:
    return f"folder {action}" if folder else action


def ancestry(path: str) -> list[str]:
    """``path`` and every folder above it: 'a/b/c' -> ['a', 'a/b', 'a/b/c']."""
    parts = path.split("/")
    return ["/".join(parts[: i + 1]) for i in range(len(parts))]


class Walk:
    """One history query: the ops found so far, and the names still to follow."""

    def __init__(self, lookup: Lookup) -> None:
        self._lookup = lookup
        self._by_name: dict[str, list[OpView]] = {}
        self._found: dict[tuple[int, int, str], tuple[OpView, Relation]] = {}
        self._tasks: deque[tuple[bool, str, tuple[int, int]]] = deque()
        self._seen: set[tuple[bool, str, tuple[int, int]]] = set()
        self.origins: list[str] = []
        self.current: list[str] = []

    def run(self, path: str) -> list[tuple[OpView, Relation, str]]:
        """Every (op, relation, name) in the history of ``path``, oldest first."""
        self._at(path)
        steps = 0
        while self._tasks and steps < MAX_STEPS:
            forward, name, position = self._tasks.popleft()
            (self._forward if forward else self._backward)(name, position)
            steps += 1
        ordered = sorted(self._found.items(), key=lambda item: item[0])
        # One op is one event of the document's history, whichever of its
        # names (the source's or the destination's) led the walk to it.
        unique: dict[tuple[int, int], tuple[OpView, Relation, str]] = {}
        for key, (op, relation) in ordered:
            unique.setdefault(op.position, (op, relation, key[2]))
        return list(unique.values())

    def touching(self, name: str) -> list[OpView]:
        """The ops at ``name`` or at a folder above it, oldest first (one query per new name)."""
        names = ancestry(name)
        missing = [n for n in names if n not in self._by_name]
        if missing:
            for n in missing:
                self._by_name[n] = []
            wanted = set(missing)
            for op in self._lookup(missing):
                for n in wanted.intersection((op.path, op.src)):
                    self._by_name[n].append(op)
        unique = {op.position: op for n in names for op in self._by_name[n]}
        return [unique[position] for position in sorted(unique)]

    def _add(self, op: OpView, relation: Relation, name: str) -> None:
        self._found.setdefault((*op.position, name), (op, relation))

    def _follow(self, name: str, position: tuple[int, int], *, forward: bool) -> None:
        task = (forward, name, position)
        if task not in self._seen:
            self._seen.add(task)
            self._tasks.append(task)

    def _at(self, path: str) -> None:
        """Every op at the name asked about; a folder op counts unless the name was known empty."""
        related = [(op, relation) for op in self.touching(path) if (relation := relate(op, path))]
        exact = [relation for _, relation in related if not relation.folder]
        coming = (Role.CREATE, Role.ARRIVE, Role.COPY_IN)
        present: bool | None = None  # None: unknown (it may have existed before the audit began)
        if exact and exact[0].role in coming:
            present = False
        if related and related[0][1].role not in coming:
            self.origins.append(path)  # it was here before the audit saw it
        for op, relation in related:
            leaving = relation.role in (Role.DEPART, Role.DELETE, Role.COPY_OUT)
            if relation.folder and leaving and present is False:
                continue
            self._add(op, relation, path)
            present = self._step_at(op, relation, present)
        if present is not False:
            self.current.append(path)

    def _step_at(self, op: OpView, relation: Relation, present: bool | None) -> bool | None:
        role, other = relation.role, relation.other
        if role in (Role.ARRIVE, Role.COPY_IN) and other is not None:
            self._follow(other, op.position, forward=False)
            return None if relation.folder else True
        if role == Role.DEPART and other is not None:
            self._follow(other, op.position, forward=True)
            return False
        if role == Role.DELETE:
            return False
        if role in (Role.CREATE, Role.VERSION):
            return True
        return present

    def _backward(self, name: str, before: tuple[int, int]) -> None:
        """Follow back the document that was at ``name`` just before ``before``, to how it got there."""
        for op in reversed(self.touching(name)):
            relation = relate(op, name)
            if op.position >= before or relation is None:
                continue
            if relation.role in (Role.DEPART, Role.DELETE):
                break  # a document that was here earlier, not this one
            self._add(op, relation, name)
            if relation.role in (Role.ARRIVE, Role.COPY_IN) and relation.other is not None:
                self._follow(relation.other, op.position, forward=False)
                if relation.trash is None:
                    return
            elif relation.role == Role.CREATE:
                self.origins.append(name)
                return
        self.origins.append(name)

    def _forward(self, name: str, after: tuple[int, int]) -> None:
        """Follow forward the document that was at ``name`` just after ``after``, to where it went."""
        for op in self.touching(name):
            relation = relate(op, name)
            if op.position <= after or relation is None:
                continue
            if relation.role in (Role.CREATE, Role.ARRIVE, Role.COPY_IN):
                if relation.trash is None:
                    break  # something new arrived where it was: it had left unseen
                relation = replace(relation, role=Role.VERSION, action="replaced", other=None)
            self._add(op, relation, name)
            if relation.role == Role.DEPART and relation.other is not None:
                self._follow(relation.other, op.position, forward=True)
                return
            if relation.role == Role.DELETE:
                return
        self.current.append(name)


def item(op: OpView, relation: Relation, name: str, who: Who) -> HistoryItem:
    """The history entry for one op seen from the document's ``name``."""
    role = relation.role
    before, after = _names(role, name, relation.other)
    gone = role == Role.DELETE
    sha256, size = (op.before_sha256, op.before_size) if gone else (op.after_sha256, op.after_size)
    if relation.folder:
        sha256 = size = None
    return HistoryItem(
        seq=op.seq,
        ordinal=op.ordinal,
        time=op.time,
        action=relation.action,
        name_before=before,
        name_after=after,
        kind=op.kind,
        op_index=op.op_index,
        op_path=op.path,
        op_src=op.src,
        sha256=sha256,
        size=size,
        trash=relation.trash,
        digest=op.digest,
        title=who.title,
        author=who.author,
        actor=who.actor,
        approvers=who.approvers,
    )


def _names(role: Role, name: str, other: str | None) -> tuple[str | None, str | None]:
    if role in (Role.ARRIVE, Role.COPY_IN):
        return other, name
    if role == Role.DEPART:
        return name, other
    if role == Role.CREATE:
        return None, name
    if role == Role.DELETE:
        return name, None
    return name, name


def history(path: str, lookup: Lookup, details: Details) -> History:
    """The chain of custody of the document at ``path`` (see the module docstring).

    ``lookup`` is asked once per new name; ``details`` once, at the end, for
    the plans, appliers and approvers of the ops found.
    """
    walk = Walk(lookup)
    found = walk.run(path)
    who = details([op for op, _, _ in found])
    items = tuple(item(op, relation, name, who[op.position]) for op, relation, name in found)
    return History(path, items, tuple(dict.fromkeys(walk.origins)), tuple(dict.fromkeys(walk.current)))
