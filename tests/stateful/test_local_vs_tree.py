"""Stateful tests: the in-memory tree is the oracle, the local disk must agree after every step.

``LocalVsTree`` applies the same random ``FileOps`` to a ``planner.core.tree.Tree``
and to ``DirectOps(LocalBackend(folder))``: both must succeed, or both raise
the same exception type, and afterwards the tree, a backdoor scan of the
folder (``os.walk`` and ``hashlib``, no pva code) and the backend's own
``walk`` must list the same entries. ``PlansThroughEngine`` applies random
small plans through the apply engine (journal and audit on) and checks the
folder against ``simulate(plan, tree).tree`` when the verifier accepts the
plan, and against the folder before the apply when it refuses it.

Runs scale with the hypothesis profile (``tests/conftest.py``): a few dozen
short runs in ``fast``, hundreds of longer ones under ``HYPOTHESIS_PROFILE=deep``.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import unicodedata
from collections.abc import Callable, Iterable
from contextlib import suppress
from dataclasses import replace
from pathlib import Path
from typing import TypeVar

from hypothesis import event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    invariant,
    multiple,
    precondition,
    rule,
)

from planner.core.builder import PlanBuilder
from planner.core.entry import Blob, Entry
from planner.core.errors import PvaError
from planner.core.ops import FileOps
from planner.core.paths import is_strictly_inside, join, split
from planner.core.report import Code
from planner.core.tree import Tree, tree_of
from planner.core.verify import simulate
from sidecar.apply.direct import DirectOps
from sidecar.apply.engine import Engine
from sidecar.apply.journal import FileJournals
from sidecar.audit.memory import MemoryAudit
from sidecar.backends.base import RESERVED, STAGING
from sidecar.backends.local import LocalBackend
from tests.backends.faults import FaultyCalls

T = TypeVar("T")
State = dict[str, str]  # path -> "dir", or the sha256 of the file

# Case variants, a Unicode-normalisation pair (NFC and NFD spell one name two
# ways) and a non-Latin name: the disk is case-sensitive and keeps bytes as
# given, so each spelling is its own entry there and in the tree.
RESUME = "Résumé.pdf"
NAMES = ("a", "A", "b", "x.txt", "X.TXT", RESUME, unicodedata.normalize("NFD", RESUME), "дело")
CONTENTS = {"empty": b"", "alpha": b"alpha", "beta": b"beta", "big": b"x" * 5000}

# The profile decides how hard to look: fast (40 examples) runs 20 machines of up
# to 30 ops and 10 of up to 10 plans; deep (1000) runs 500 of 60 and 250 of 25.
assert settings.default is not None  # tests/conftest.py loads a profile
BUDGET = settings.default.max_examples
_DEEP = BUDGET >= 200
FILE_OPS_SETTINGS = settings(max_examples=max(10, BUDGET // 2), stateful_step_count=60 if _DEEP else 30)
PLAN_SETTINGS = settings(max_examples=max(5, BUDGET // 4), stateful_step_count=25 if _DEEP else 10)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def disk_state(root: Path) -> State:
    """The backdoor: what the folder holds, by os.walk and hashlib, the reserved area left out."""
    state: State = {}
    for top, dirs, files in os.walk(root):
        rel = os.path.relpath(top, root)
        if rel == ".":
            rel = ""
            if RESERVED in dirs:
                dirs.remove(RESERVED)
        for name in dirs:
            state[join(rel, name)] = "dir"
        for name in files:
            state[join(rel, name)] = sha(Path(top, name).read_bytes())
    return state


def tree_state(tree: Tree) -> State:
    return {entry.path: "dir" if entry.is_dir else str(entry.sha256) for entry in tree.walk()}


def plain(entries: Iterable[Entry]) -> list[Entry]:
    """Entries without their mtime, which the tree does not keep."""
    return [replace(entry, mtime=None) for entry in entries]


def bare(entry: Entry | None) -> Entry | None:
    return None if entry is None else replace(entry, mtime=None)


def leftovers(root: Path) -> list[str]:
    """What the ops left in the staging area (nothing, after every op)."""
    staging = root / STAGING
    return sorted(os.listdir(staging)) if staging.exists() else []


def outcome(action: Callable[[], object]) -> PvaError | None:
    """None when ``action`` succeeds, else the pva error it raised."""
    try:
        action()
    except PvaError as error:
        return error
    return None


def fresh_folder() -> Path:
    return Path(tempfile.mkdtemp(prefix="pva-stateful-"))


# -- machine 1: FileOps on the tree and on the local disk ------------------------


class LocalVsTree(RuleBasedStateMachine):
    """Random file operations applied to the tree (the oracle) and to a local folder alike."""

    dirs = Bundle("dirs")  # folders that existed once (some moved or deleted since)
    files = Bundle("files")  # files that existed once
    # Where new names go: the root, mostly folders, and now and then a file (an error case).
    parents = st.one_of(st.just(""), dirs, dirs, files)
    entries = st.one_of(dirs, files)
    names = st.sampled_from(NAMES)

    def __init__(self) -> None:
        super().__init__()
        self.root = fresh_folder()
        # Real fsyncs would only slow the machine down: durability is the crash tests' job.
        self.backend = LocalBackend(self.root, calls=FaultyCalls(durable=False))
        self.local = DirectOps(self.backend)
        self.tree = Tree()

    def teardown(self) -> None:
        self.backend.close()
        shutil.rmtree(self.root, ignore_errors=True)

    def both(self, label: str, action: Callable[[FileOps], object]) -> bool:
        """Run ``action`` on the tree, then on the disk; they must agree. True if both succeeded."""
        expected = outcome(lambda: action(self.tree))
        actual = outcome(lambda: action(self.local))
        event(f"{label}: {'ok' if expected is None else type(expected).__name__}")
        assert type(actual) is type(expected), f"tree: {expected!r}; disk: {actual!r}"
        return expected is None

    @rule(target=dirs, parent=parents, name=names)
    def make_dir(self, parent: str, name: str) -> object:
        """make_dir of a name below a folder (below a file, or onto an entry, as error cases)."""
        path = join(parent, name)
        return path if self.both("make_dir", lambda ops: ops.make_dir(path)) else multiple()

    def _write(self, label: str, path: str, content: str, replace: bool) -> object:
        data = CONTENTS[content]
        blob = Blob(sha(data), len(data), data)
        done = self.both(
            f"{label} replace={replace}", lambda ops: ops.write_file(path, blob, replace=replace)
        )
        return path if done else multiple()

    @rule(
        target=files,
        parent=parents,
        name=names,
        content=st.sampled_from(sorted(CONTENTS)),
        replace=st.booleans(),
    )
    def write_file(self, parent: str, name: str, content: str, replace: bool) -> object:
        """write_file of inline bytes to a name below a folder, create-only or replacing."""
        return self._write("write_file", join(parent, name), content, replace)

    @rule(target=files, path=entries, content=st.sampled_from(sorted(CONTENTS)), replace=st.booleans())
    def overwrite(self, path: str, content: str, replace: bool) -> object:
        """write_file onto an entry that exists (or did): replaced, or refused as the tree refuses it."""
        return self._write("overwrite", path, content, replace)

    def _move(self, label: str, src: str, dst: str, replace: bool) -> object:
        done = self.both(f"{label} replace={replace}", lambda ops: ops.move(src, dst, replace=replace))
        return dst if done else multiple()

    @rule(target=files, src=files, parent=parents, name=names, replace=st.booleans())
    def move_file(self, src: str, parent: str, name: str, replace: bool) -> object:
        """move of a file to a name below a folder (a case-only rename when only the case differs)."""
        return self._move("move file", src, join(parent, name), replace)

    @rule(target=dirs, src=dirs, parent=parents, name=names, replace=st.booleans())
    def move_dir(self, src: str, parent: str, name: str, replace: bool) -> object:
        """move of a folder with what it holds (into itself as an error case)."""
        return self._move("move dir", src, join(parent, name), replace)

    @rule(src=entries, dst=files, replace=st.booleans())
    def move_onto_a_file(self, src: str, dst: str, replace: bool) -> None:
        """move onto a file that exists (or did): replaced with replace, refused without."""
        self._move("move onto a file", src, dst, replace)

    def _copy(self, label: str, src: str, dst: str) -> object:
        return dst if self.both(label, lambda ops: ops.copy(src, dst)) else multiple()

    @rule(target=files, src=files, parent=parents, name=names)
    def copy_file(self, src: str, parent: str, name: str) -> object:
        """copy of a file to a name below a folder."""
        return self._copy("copy file", src, join(parent, name))

    @rule(target=dirs, src=dirs, parent=parents, name=names)
    def copy_dir(self, src: str, parent: str, name: str) -> object:
        """copy of a folder and everything below it (into itself as an error case)."""
        return self._copy("copy dir", src, join(parent, name))

    @rule(path=entries)
    def delete(self, path: str) -> None:
        """delete of a file or a whole folder (to the trash on disk)."""
        self.both("delete", lambda ops: ops.delete(path))

    @rule(parent=parents, name=names)
    def read(self, parent: str, name: str) -> None:
        """stat, collision, deepest and walk of a path and its parent read the same from both."""
        path = join(parent, name)
        for probe in (parent, path):
            assert bare(self.local.stat(probe)) == self.tree.stat(probe)
            assert self.local.collision(probe) == self.tree.collision(probe)
            assert self.local.deepest(probe) == self.tree.deepest(probe)
            assert plain(self.local.walk(probe)) == list(self.tree.walk(probe))

    @invariant()
    def same_state(self) -> None:
        """The folder (by the backdoor and by the backend's walk) holds exactly what the tree holds."""
        assert disk_state(self.root) == tree_state(self.tree)
        assert plain(self.backend.walk("")) == list(self.tree.walk())
        assert leftovers(self.root) == []


class TestLocalVsTree(LocalVsTree.TestCase):  # type: ignore[misc,valid-type]  # hypothesis types TestCase as an attribute
    """DirectOps over the local backend agrees with the in-memory tree after every random op."""

    settings = FILE_OPS_SETTINGS


# -- machine 2: small plans through the apply engine -------------------------------

SCOPE = "s"
# The store every run starts from: path -> bytes, None for a folder. "o" is outside the scope.
SEED: dict[str, bytes | None] = {
    "o": None,
    "o/out.txt": b"outside",
    SCOPE: None,
    f"{SCOPE}/a": None,
    f"{SCOPE}/a/x.txt": b"alpha",
    f"{SCOPE}/b": None,
    f"{SCOPE}/y.txt": b"beta",
}
PLAN_NAMES = ("a", "A", "b", "x.txt", "z", RESUME)
WRONG_SHA = sha(b"not what is there")


def seed_folder(root: Path) -> Tree:
    """Write ``SEED`` below ``root`` and return the same store as a tree."""
    for path, data in SEED.items():
        if data is None:
            (root / path).mkdir()
        else:
            (root / path).write_bytes(data)
    return tree_of(
        Entry(path, "dir") if data is None else Entry(path, "file", len(data), sha(data))
        for path, data in SEED.items()
    )


class PlanDrawer:
    """Draws the ops of one plan, picking paths from a scratch copy of the tree that each op updates.

    The scratch copy follows the ops loosely (plain tree ops, no verifier
    rules), only so that later ops mostly name what earlier ones made.
    """

    def __init__(self, data: st.DataObject, tree: Tree) -> None:
        self.data = data
        self.scratch = tree.fork()

    def draw(self, strategy: st.SearchStrategy[T]) -> T:
        return self.data.draw(strategy)

    def entries(self, *, dirs: bool) -> list[str]:
        return [e.path for e in self.scratch.walk() if e.is_dir == dirs]

    def pick(self, paths: list[str]) -> str:
        """One of ``paths``: below the scope root nine times in ten, anywhere (outside too) else."""
        inside = [path for path in paths if is_strictly_inside(SCOPE, path)]
        choices = inside if inside and self.draw(st.integers(0, 9)) > 0 else paths
        return self.draw(st.sampled_from(choices or [f"{SCOPE}/missing"]))

    def new_path(self) -> str:
        return join(self.pick(["", SCOPE, *self.entries(dirs=True)]), self.draw(st.sampled_from(PLAN_NAMES)))

    def any_path(self) -> str:
        return self.pick(self.entries(dirs=True) + self.entries(dirs=False))

    def expect(self, path: str) -> dict[str, object] | None:
        """Mostly no precondition; else the true one, or now and then one that fails (the apply is stale)."""
        entry = self.scratch.stat(path)
        choice = self.draw(st.sampled_from(["none", "none", "none", "true", "true", "wrong"]))
        if choice == "none" or (entry is not None and entry.is_dir):
            return None  # a folder has no hash to pin
        if choice == "wrong":
            return {"sha256": WRONG_SHA}
        return {"absent": True} if entry is None else {"sha256": entry.sha256}

    def pinned(self, path: str) -> dict[str, object]:
        """The sha256 an overwrite must pin: the file's own, or a wrong one now and then."""
        entry = self.scratch.stat(path)
        if entry is None or entry.sha256 is None or self.draw(st.integers(0, 5)) == 0:
            return {"sha256": WRONG_SHA}
        return {"sha256": entry.sha256}

    def follow(self, action: Callable[[Tree], object]) -> None:
        with suppress(PvaError):
            action(self.scratch)

    def add(self, plan: PlanBuilder) -> str:
        """Add one random op to ``plan``; return its kind."""
        kind = self.draw(st.sampled_from(["mkdir", "move", "rename", "write", "copy", "delete"]))
        match kind:
            case "mkdir":
                path = self.new_path()
                parents = self.draw(st.booleans())
                if parents:
                    path = join(path, self.draw(st.sampled_from(PLAN_NAMES)))
                plan.mkdir(path, parents=parents)
                self.follow(lambda tree: tree.make_dir(path))
            case "move":
                self.add_move(plan)
            case "rename":
                path, name = self.any_path(), self.draw(st.sampled_from(PLAN_NAMES))
                plan.rename(path, name, expect=self.expect(path))
                self.follow(lambda tree: tree.move(path, join(split(path)[0], name)))
            case "write":
                self.add_write(plan)
            case "copy":
                src, dst = self.any_path(), self.new_path()
                plan.copy(src, dst, expect=self.expect(src))
                self.follow(lambda tree: tree.copy(src, dst))
            case _:
                path = self.any_path()
                plan.delete(path, expect=self.expect(path))
                self.follow(lambda tree: tree.delete(path))
        return kind

    def add_move(self, plan: PlanBuilder) -> None:
        src = self.any_path()
        files = self.entries(dirs=False)
        if files and self.draw(st.integers(0, 3)) == 0:
            dst = self.pick(files)
            plan.move(src, dst, overwrite=True, expect_dst=self.pinned(dst), expect=self.expect(src))
            self.follow(lambda tree: tree.move(src, dst, replace=True))
        else:
            dst = self.new_path()
            plan.move(src, dst, expect=self.expect(src))
            self.follow(lambda tree: tree.move(src, dst))

    def add_write(self, plan: PlanBuilder) -> None:
        text = self.draw(st.sampled_from(["", "one", "two\n", "три"]))
        data = text.encode()
        blob = Blob(sha(data), len(data), data)
        files = self.entries(dirs=False)
        if files and self.draw(st.integers(0, 3)) == 0:
            path = self.pick(files)
            plan.write(path, text, overwrite=True, expect=self.pinned(path))
            self.follow(lambda tree: tree.write_file(path, blob, replace=True))
        else:
            path = self.new_path()
            plan.write(path, text)
            self.follow(lambda tree: tree.write_file(path, blob))


class PlansThroughEngine(RuleBasedStateMachine):
    """Random plans of one to four ops applied by the engine, checked against the verifier's prediction."""

    def __init__(self) -> None:
        super().__init__()
        self.root = fresh_folder()
        self.tree = seed_folder(self.root)
        self.backend = LocalBackend(self.root, calls=FaultyCalls(durable=False))
        self.audit = MemoryAudit()
        self.engine = Engine(self.backend, self.audit, FileJournals(self.root))
        self.applies = 0

    def teardown(self) -> None:
        self.backend.close()
        shutil.rmtree(self.root, ignore_errors=True)

    @rule(data=st.data(), size=st.integers(min_value=1, max_value=4))
    def apply_a_plan(self, data: st.DataObject, size: int) -> None:
        """Apply a random plan: as predicted when the verifier accepts it, nothing changed when it refuses."""
        self.applies += 1
        builder = PlanBuilder(f"plan {self.applies}", scope=[SCOPE])  # unique titles: unique digests
        drawer = PlanDrawer(data, self.tree)
        kinds = [drawer.add(builder) for _ in range(size)]
        plan = builder.build()
        simulation = simulate(plan, self.tree)
        report = simulation.report
        codes = sorted({d.code.value for d in report.errors})
        expected = "applied" if report.ok else "stale" if Code.PRECONDITION_FAILED in codes else "failed"
        before = disk_state(self.root)
        record = self.engine.apply(plan, actor="hypothesis")
        event(f"{len(kinds)} ops: {record.status}")
        for code in codes:
            event(f"refused for {code}")
        assert self.audit.incidents == []
        assert record.status == expected, f"{record.message}; the verifier said {codes}"
        if report.ok:
            assert disk_state(self.root) == tree_state(simulation.tree)
            self.tree = simulation.tree
        else:
            assert disk_state(self.root) == before

    @precondition(lambda self: self.applies > 0)
    @invariant()
    def nothing_left_over(self) -> None:
        """After every apply no journal is open and the staging area is empty."""
        assert self.engine.journals.names() == []
        assert leftovers(self.root) == []


class TestPlansThroughEngine(PlansThroughEngine.TestCase):  # type: ignore[misc,valid-type]  # hypothesis types TestCase as an attribute
    """The engine applies exactly what the verifier predicts, and nothing when it refuses a plan."""

    settings = PLAN_SETTINGS


def test_a_wrong_expect_on_a_file_the_plan_moved_stops_the_apply() -> None:
    """An overwrite whose expect names the wrong sha256 is stale, even where an earlier op moved the file."""
    root = fresh_folder()
    try:
        (root / SCOPE).mkdir()
        (root / SCOPE / "y.txt").write_bytes(b"beta")
        with LocalBackend(root) as backend:
            engine = Engine(backend, MemoryAudit(), FileJournals(root))
            plan = (
                PlanBuilder("move, then overwrite", scope=[SCOPE])
                .move(f"{SCOPE}/y.txt", f"{SCOPE}/x.txt")
                .write(f"{SCOPE}/x.txt", "new", overwrite=True, expect={"sha256": WRONG_SHA})
                .build()
            )
            before = disk_state(root)
            record = engine.apply(plan, actor="test")
        assert (record.status, disk_state(root)) == ("stale", before), record.message
    finally:
        shutil.rmtree(root, ignore_errors=True)
