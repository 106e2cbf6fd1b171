"""Hypothesis strategies shared by the property tests: small stores and plans over them.

A ``Store`` is the test's own model of a store (path -> bytes, None for a
folder). ``plans`` draws ops mostly against what the store holds at that point
of the plan (existing sources, free names under existing folders, correct
``expect`` hashes), so a good share of plans verify; the rest is noise that
the verifier must reject: missing paths, out-of-scope paths, case variants of
existing names, wrong hashes, moves into themselves, unknown blobs.
"""

from __future__ import annotations

import base64
import hashlib
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from hypothesis import strategies as st

from planner.core.entry import Entry
from planner.core.paths import MAX_PATH_BYTES
from planner.core.plan import Plan
from planner.core.tree import Tree, tree_of

T = TypeVar("T")

SCOPE = "m"  # every plan's scope; the store may hold entries outside it
PLAIN_NAMES = ("a", "b", "c", "doc.pdf", "notes", "Inbox")
# Valid but awkward: a space, accents (NFC), CJK, a sharp s, a leading space.
AWKWARD_NAMES = ("x y.txt", "r\u00e9sum\u00e9.pdf", "\u6587\u4ef6.txt", "\u00c4rger", "stra\u00dfe", " lead")
NAME_ALPHABET = "abcXYZ\u00e9\u6587 -."
CONTENTS = (b"", b"alpha", b"beta\n", "r\u00e9sum\u00e9".encode(), bytes(range(8)))
TEXTS = ("", "hello", "file,custodian\n0001.pdf,alice\n", "\u00e9t\u00e9 \u6587\u4ef6")


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# Blobs "uploaded" before a plan runs: content_ref writes name them.
BLOBS = {sha256(data): data for data in CONTENTS}
UNKNOWN_BLOB = sha256(b"never uploaded")


def fold(name: str) -> str:
    """Collision key of a name or path: equal keys differ only by case or normalisation."""
    return unicodedata.normalize("NFC", unicodedata.normalize("NFD", name).casefold())


def parent_of(path: str) -> str:
    return path.rpartition("/")[0]


def name_of(path: str) -> str:
    return path.rpartition("/")[2]


def join(parent: str, name: str) -> str:
    return f"{parent}/{name}" if parent else name


def in_scope(path: str) -> bool:
    return path == SCOPE or path.startswith(SCOPE + "/")


def below(path: str, ancestor: str) -> bool:
    """True when ``path`` lies strictly below ``ancestor``, segment by segment."""
    return path.startswith(ancestor + "/")


def case_variants(name: str) -> list[str]:
    """Other spellings of ``name`` that differ only by case."""
    spellings = (name.upper(), name.lower(), name.swapcase(), name.capitalize(), name.title())
    return sorted({s for s in spellings if s != name and fold(s) == fold(name)})


@dataclass(frozen=True)
class Store:
    """A small store: path -> file content, or None for a folder; parents are listed."""

    entries: dict[str, bytes | None]

    @classmethod
    def of(cls, *dirs: str, **files: bytes) -> Store:
        """Build from folder paths and ``path=content`` files (for hand-written examples)."""
        entries: dict[str, bytes | None] = {}
        for path in [*dirs, *files]:
            cursor = parent_of(path)
            while cursor:
                entries[cursor] = None
                cursor = parent_of(cursor)
        entries.update(dict.fromkeys(dirs))
        entries.update(files)
        return cls(entries)

    def tree(self) -> Tree:
        return tree_of(
            Entry(path, "dir") if data is None else Entry(path, "file", len(data), sha256(data))
            for path, data in sorted(self.entries.items())
        )

    def contents(self) -> Iterable[bytes]:
        return (data for data in self.entries.values() if data is not None)


# -- names and stores ------------------------------------------------------


def _tidy(text: str) -> str:
    """Make drawn text a valid name: no trailing dot or space, not the reserved area."""
    name = text.rstrip(". ") or "z"
    return "pva" if fold(name) == ".pva" else name


@st.composite
def names(draw: st.DrawFn) -> str:
    """A valid name: mostly from a small set (so names repeat), sometimes awkward or random."""
    pick = draw(st.integers(0, 9))
    if pick < 6:
        return draw(st.sampled_from(PLAIN_NAMES))
    if pick < 8:
        return draw(st.sampled_from(AWKWARD_NAMES))
    if draw(st.integers(0, 4)) == 0:
        return draw(long_names())
    return draw(st.text(NAME_ALPHABET, min_size=1, max_size=5).map(_tidy))


@st.composite
def long_names(draw: st.DrawFn, min_bytes: int = 40) -> str:
    """A name of ``min_bytes`` to 250 bytes (1, 2 or 3 bytes a character)."""
    char = draw(st.sampled_from("L\u00e9\u6587"))
    return char * (draw(st.integers(min_bytes, 250)) // len(char.encode()))


def _children(entries: dict[str, bytes | None], folder: str) -> list[str]:
    return sorted(name_of(p) for p in entries if parent_of(p) == folder and p)


@st.composite
def stores(draw: st.DrawFn, *, max_entries: int = 12, collisions: bool = False) -> Store:
    """A store with the scope folder and up to ``max_entries`` entries in all.

    Names in one folder never fold together unless ``collisions`` (a case-sensitive
    store may hold ``a`` and ``A`` side by side; pva must cope with that too).
    Paths stay within the 1024-byte limit, some of them close to it.
    """
    entries: dict[str, bytes | None] = {SCOPE: None}
    if draw(st.integers(0, 2)) == 0:  # a chain of long folder names, near the 1024-byte limit
        path = SCOPE
        for name in draw(st.lists(long_names(min_bytes=180), min_size=3, max_size=4)):
            path = join(path, name)
            entries[path] = None
    for _ in range(draw(st.integers(0, max_entries - len(entries)))):
        dirs = [*sorted(p for p, data in entries.items() if data is None), ""]  # "": out of scope
        parent = draw(st.sampled_from(dirs))
        siblings = _children(entries, parent)
        variants = [v for s in siblings for v in case_variants(s)]
        if collisions and variants and draw(st.booleans()):
            name = draw(st.sampled_from(variants))
        else:
            name = draw(names())
        path = join(parent, name)
        if path in entries or (not collisions and any(fold(s) == fold(name) for s in siblings)):
            continue
        if len(path.encode()) > MAX_PATH_BYTES:
            continue  # a store pva could hold: every path within the limit
        if draw(st.booleans()):
            entries[path] = None
        else:
            entries[path] = draw(st.sampled_from(CONTENTS) | st.binary(max_size=12))
    return Store(entries)


# -- plans -------------------------------------------------------------------


class _Planner:
    """Draws ops one by one against a lenient model of the store as the plan changes it.

    A clean planner (``noisy`` False) only draws ops it expects to verify:
    existing sources, free names, true preconditions, no path created twice
    (an overwrite, or a create after the path was moved away, is fine).
    A noisy one sometimes draws mistakes on purpose.
    """

    def __init__(self, draw: st.DrawFn, store: Store, *, noisy: bool) -> None:
        self.draw = draw
        self.noisy = noisy
        self.cur = dict(store.entries)
        self.created: set[str] = set()  # paths earlier ops created or wrote, and still hold
        self.spelled: dict[str, str] = {}  # fold key -> the spelling earlier ops used

    def chance(self, tenths: int) -> bool:
        """True with probability ``tenths``/10 (shrinks towards False)."""
        return self.draw(st.integers(0, 9)) >= 10 - tenths

    def noise(self, tenths: int) -> bool:
        """A deliberate mistake, with probability ``tenths``/10 in a noisy plan only."""
        return self.noisy and self.chance(tenths)

    def pick(self, options: list[T]) -> T:
        return self.draw(st.sampled_from(options))

    def is_dir(self, path: str) -> bool:
        return path == "" or (path in self.cur and self.cur[path] is None)

    def dirs(self) -> list[str]:
        return sorted(p for p, data in self.cur.items() if data is None and in_scope(p))

    def files(self) -> list[str]:
        return sorted(p for p, data in self.cur.items() if data is not None and in_scope(p))

    # -- paths ---------------------------------------------------------------

    def free(self, path: str) -> bool:
        """True when creating ``path`` breaks no rule: absent, no fold twin, not created before."""
        name = name_of(path)
        twins = [s for s in _children(self.cur, parent_of(path)) if fold(s) == fold(name)]
        return not twins and path not in self.created and self.spelled.get(fold(path), path) == path

    def fresh(self, parent: str) -> str:
        """A new name in ``parent``; in a clean plan one that is free."""
        name = self.draw(names())
        path, suffix = join(parent, name), 0
        while not self.noisy and not self.free(path):
            suffix += 1
            path = join(parent, f"{name}-{suffix}")
        return path

    def source(self) -> str:
        """Mostly an existing in-scope path; sometimes the scope root, out of scope, or missing."""
        inside = sorted(p for p in self.cur if in_scope(p) and p != SCOPE)
        if inside and not self.noise(3):
            return self.pick(inside)
        if self.cur and self.chance(5):
            return self.pick(sorted(self.cur))
        return self.target()

    def target(self, near: str | None = None) -> str:
        """A path to create: mostly a free name in an existing folder, sometimes not."""
        mine = [d for d in self.dirs() if near is None or not (d == near or below(d, near))]
        if near is not None and in_scope(parent_of(near)) and self.chance(4):
            parent = parent_of(near)  # beside the source: case variants of it are likely
        elif near is not None and mine and self.chance(1):
            deepest = max(mine, key=lambda d: len(d.encode()))  # its contents may grow too long
            path = join(deepest, name_of(near))
            return path if self.noisy or self.free(path) else self.fresh(deepest)
        elif self.noise(2):
            parent = self.pick([*sorted(self.cur), "", join(SCOPE, "missing")])
        else:
            parent = self.pick(mine or [SCOPE])
        siblings = _children(self.cur, parent) if self.is_dir(parent) else []
        variants = [v for s in siblings for v in case_variants(s)]
        if variants and self.noise(3):
            return join(parent, self.pick(variants))
        if siblings and self.noise(2):
            return join(parent, self.pick(siblings))
        return self.fresh(parent)

    def expect(self, path: str) -> dict[str, Any] | None:
        """Mostly none or a true precondition on ``path``; in a noisy plan sometimes a false one."""
        if not self.chance(4):
            return None
        if self.noise(3):
            wrong: list[dict[str, Any]] = [{"sha256": sha256(b"wrong")}, {"size": 999}, {"absent": True}]
            return self.pick(wrong)
        if path not in self.cur:
            return {"absent": True}
        data = self.cur[path]
        if data is None:
            return None
        right: list[dict[str, Any]] = [{"sha256": sha256(data)}, {"size": len(data)}]
        return self.pick(right)

    # -- ops -----------------------------------------------------------------

    def op(self) -> dict[str, Any]:
        kinds = ["mkdir", "move", "rename", "write", "copy", "delete"]
        if not self.noisy and not any(in_scope(p) and p != SCOPE for p in self.cur):
            kinds = ["mkdir", "write"]  # nothing to move, copy or delete yet
        kind = self.pick(kinds)
        op: dict[str, Any] = {"op": kind, **getattr(self, f"_{kind}")()}
        if op.get("expect") is None:
            op.pop("expect", None)
        self.apply(op)
        return op

    def _mkdir(self) -> dict[str, Any]:
        deep = False
        if self.dirs() and self.chance(1):
            path = self.pick(self.dirs())
            parents = not self.noisy or self.draw(st.booleans())
        else:
            path = self.target()
            if self.chance(2):
                deeper = join(path, self.draw(names()))  # its parent is missing
                deep = self.free(deeper) or self.noisy
                path = deeper if deep else path
            parents = self.draw(st.booleans()) or (deep and not self.noise(5))
        return {"path": path, "parents": parents, "expect": self.expect(path)}

    def _move(self) -> dict[str, Any]:
        src = self.source()
        op: dict[str, Any] = {"src": src, "expect": self.expect(src)}
        variants = case_variants(name_of(src))
        files = [f for f in self.files() if f != src]
        if files and self.chance(2) and (self.cur.get(src) is not None or self.noisy):
            dst = self.pick(files)
            data = self.cur[dst]
            assert data is not None
            op["overwrite"] = True
            op["expect_dst"] = {"sha256": sha256(b"wrong" if self.noise(3) else data)}
        elif variants and self.chance(1):
            dst = join(parent_of(src), self.pick(variants))  # a case-only move
        elif self.noise(1):
            dst = join(src, self.draw(names()))  # into itself
        else:
            dst = self.target(near=src)
        return {**op, "dst": dst}

    def _rename(self) -> dict[str, Any]:
        path = self.source()
        variants = case_variants(name_of(path))
        siblings = _children(self.cur, parent_of(path))
        if variants and self.chance(3):
            name = self.pick(variants)  # a case-only rename
        elif self.noise(2):
            name = self.pick(siblings or [name_of(path)])
        else:
            name = name_of(self.fresh(parent_of(path)))
        return {"path": path, "name": name, "expect": self.expect(path)}

    def _write(self) -> dict[str, Any]:
        op: dict[str, Any]
        files = self.files()
        if files and self.chance(2):
            path = self.pick(files)
            data = self.cur[path]
            assert data is not None
            wrong = self.noise(3)
            op = {"path": path, "overwrite": True, "expect": {"sha256": sha256(b"x" if wrong else data)}}
        else:
            path = self.target()
            op = {"path": path, "expect": self.expect(path)}
        how = self.draw(st.integers(0, 9))
        if self.noise(1):
            op["content_ref"] = UNKNOWN_BLOB
        elif how < 5:
            op["content"] = self.pick(list(TEXTS))
        elif how < 7:
            data = self.draw(st.binary(max_size=12))
            op.update(content=base64.b64encode(data).decode("ascii"), encoding="base64")
        else:
            op["content_ref"] = self.pick(sorted(BLOBS))
        return op

    def _copy(self) -> dict[str, Any]:
        src = self.source()
        dst = join(src, self.draw(names())) if self.noise(1) else self.target(near=src)
        return {"src": src, "dst": dst, "expect": self.expect(src)}

    def _delete(self) -> dict[str, Any]:
        path = self.source()
        return {"path": path, "expect": self.expect(path)}

    # -- the lenient model ---------------------------------------------------

    def apply(self, op: dict[str, Any]) -> None:
        """Follow the op in the model when its basic preconditions hold (a guide, not an oracle)."""
        touched = self._change(op)
        if touched is None:
            return
        created, vacated = touched
        self.created.difference_update(vacated)  # a path moved away or deleted may be created again
        self.created.update(created)
        for path in (*vacated, *created):
            self.spelled[fold(path)] = path

    def _change(self, op: dict[str, Any]) -> tuple[list[str], list[str]] | None:
        """(paths created or written, paths vacated), or None when the op would fail."""
        kind = "transfer" if op["op"] in {"move", "rename", "copy"} else op["op"]
        change: tuple[list[str], list[str]] | None = getattr(self, f"_change_{kind}")(op)
        return change

    def _change_mkdir(self, op: dict[str, Any]) -> tuple[list[str], list[str]] | None:
        missing = [op["path"]]
        while op["parents"] and parent_of(missing[-1]) and parent_of(missing[-1]) not in self.cur:
            missing.append(parent_of(missing[-1]))
        if op["path"] in self.cur or not self.is_dir(parent_of(missing[-1])):
            return None
        self.cur.update(dict.fromkeys(missing))
        return missing, []

    def _change_transfer(self, op: dict[str, Any]) -> tuple[list[str], list[str]] | None:
        cur = self.cur
        src: str = op["src"] if "src" in op else op["path"]
        dst: str = op["dst"] if "dst" in op else join(parent_of(src), op["name"])
        replace = op.get("overwrite") and cur.get(dst) is not None and cur.get(src) is not None
        if src not in cur or (dst in cur and not replace) or dst == src or below(dst, src):
            return None
        if not self.is_dir(parent_of(dst)):
            return None
        moved = {p: d for p, d in cur.items() if p == src or below(p, src)}
        if op["op"] != "copy":
            for p in moved:
                del cur[p]
        cur.update({dst + p[len(src) :]: d for p, d in moved.items()})
        return [dst], ([] if op["op"] == "copy" else [src])

    def _change_write(self, op: dict[str, Any]) -> tuple[list[str], list[str]] | None:
        path = op["path"]
        if not self.is_dir(parent_of(path)) or (path in self.cur and not op.get("overwrite")):
            return None
        if path in self.cur and self.cur[path] is None:
            return None
        self.cur[path] = _content(op)
        return [path], []

    def _change_delete(self, op: dict[str, Any]) -> tuple[list[str], list[str]] | None:
        path = op["path"]
        if path not in self.cur:
            return None
        for p in [p for p in self.cur if p == path or below(p, path)]:
            del self.cur[p]
        return [], [path]


def _content(op: dict[str, Any]) -> bytes:
    if "content_ref" in op:
        return BLOBS.get(op["content_ref"], b"")
    if op.get("encoding") == "base64":
        return base64.b64decode(op["content"])
    return str(op["content"]).encode()


def plan_of(ops: list[dict[str, Any]], *, scope: str = SCOPE) -> Plan:
    return Plan.model_validate({"pva": "plan/v1", "title": "property plan", "scope": [scope], "ops": ops})


@st.composite
def plans(draw: st.DrawFn, store: Store, *, max_ops: int = 6) -> Plan:
    """A plan of 1 to ``max_ops`` ops over ``store`` (see the module docstring)."""
    planner = _Planner(draw, store, noisy=draw(st.booleans()))
    return plan_of([planner.op() for _ in range(draw(st.integers(1, max_ops)))])


@st.composite
def cases(
    draw: st.DrawFn, *, max_entries: int = 12, max_ops: int = 6, collisions: bool = False
) -> tuple[Store, Plan]:
    """A store and a plan over it."""
    store = draw(stores(max_entries=max_entries, collisions=collisions))
    return store, draw(plans(store, max_ops=max_ops))
