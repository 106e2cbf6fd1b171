"""Model-based test: the verifier's verdict agrees with plain os calls on a real folder.

Hypothesis builds a small store, writes it to a temporary folder, draws a plan,
verifies it against ``scan_tree`` of that folder, then carries the same ops out
with plain os calls written here (no pva code). The oracle, checked before each
op with direct os calls, is the DSL's documented contract:

R1 scope: every path the op names (for rename, also the new path) is the scope
   root or below it, segment by segment.
R2 one spelling: a path that folds (case, normalisation) like a path an earlier
   op created, wrote, moved away or deleted is spelled the same way; the new
   name of a case-only move or rename is the exception, and such a rename
   re-spells what earlier ops recorded below the renamed path.
R3 sources exist (move, rename, copy, delete); a content_ref names an uploaded blob.
R4 nothing moves or copies onto or into itself.
R5 a new path's parent exists and is a folder (mkdir parents: the nearest
   existing ancestor is a folder).
R6 a new path is absent, except mkdir parents of an existing folder (a no-op)
   and overwrite: true, where a file replaces a file.
R7 no new name folds to a sibling's different name (a case-sensitive disk would
   hold both; stores that fold names would see one), the moved entry itself aside.
R8 an op without overwrite: true does not create a path (mkdir path,
   move/rename/copy dst, write path) that an earlier op created or wrote,
   unless an op moved or deleted that very path in between.
R9 expect and expect_dst hold: absent, or exists with that sha256 and size.
R10 every path the op names is at most 1024 bytes (UTF-8), and a folder moved
   or copied to a longer path leaves nothing below it longer than that.

A plan the verifier accepts must pass R1-R10 at every op, its os calls must all
succeed, and a scan of the folder afterwards must equal the predicted tree. A
plan it rejects must break a rule at some op, or an os call must raise there.
The disk is case-sensitive, so a name that only folds like a sibling's is
created without complaint: R7 is what makes such a plan "do something other
than its ops say". Plans never use ``generation`` (a local folder has none).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import event, example, given

from planner.agent.snapshot import scan_tree
from planner.core.entry import Entry
from planner.core.paths import MAX_PATH_BYTES
from planner.core.plan import Copy, Delete, Expect, Mkdir, Move, Op, Plan, Rename, Write
from planner.core.report import Code, Report
from planner.core.verify import simulate, verify
from tests.property.strategies import (
    BLOBS,
    Store,
    below,
    cases,
    fold,
    in_scope,
    join,
    name_of,
    parent_of,
    plan_of,
    sha256,
)

TWINS = " (a case-only rename beside another twin)"


class Violation(Exception):
    """An op breaks one of the oracle's rules (the message names which)."""


@dataclass
class Runner:
    """Carries ops out on a real folder with os calls, checking R1-R10 first."""

    root: str
    trash: str
    created: set[str] = field(default_factory=set)  # R8
    spelled: dict[str, str] = field(default_factory=dict)  # R2: fold key -> spelling
    trashed: int = 0

    def real(self, path: str) -> str:
        return os.path.join(self.root, path) if path else self.root

    def exists(self, path: str) -> bool:
        return os.path.lexists(self.real(path))

    def is_file(self, path: str) -> bool:
        return os.path.isfile(self.real(path))

    # -- the rules -------------------------------------------------------------

    def check_named(self, op: Op) -> None:
        """R1, R2 and R10 over every path the op names."""
        dst = _destination(op)
        case_only = isinstance(op, Move | Rename) and fold(dst or "") == fold(_source(op) or "")
        for path in _named(op):
            if len(path.encode()) > MAX_PATH_BYTES:
                raise Violation(f"R10: {path!r} is over {MAX_PATH_BYTES} bytes")
            if not in_scope(path):
                raise Violation(f"R1: {path!r} is out of scope")
            earlier = self.spelled.get(fold(path), path)
            if earlier != path and not (case_only and path == dst):
                raise Violation(f"R2: {path!r} is spelled {earlier!r} by an earlier op")

    def need_source(self, path: str) -> None:
        if not self.exists(path):
            raise Violation(f"R3: {path!r} does not exist")

    def need_parent(self, path: str) -> None:
        if not os.path.isdir(self.real(parent_of(path))):
            raise Violation(f"R5: the parent of {path!r} is not a folder")

    def need_free(self, path: str, *, moving: str | None = None) -> None:
        """R6 and R7 for a path that must be new."""
        if self.exists(path):
            raise Violation(f"R6: {path!r} exists")
        name = name_of(path)
        recasing = moving is not None and fold(moving) == fold(path)
        for sibling in os.listdir(self.real(parent_of(path))):
            if sibling != name and fold(sibling) == fold(name) and join(parent_of(path), sibling) != moving:
                raise Violation(
                    f"R7: {path!r} folds like its sibling {sibling!r}" + (TWINS if recasing else "")
                )

    def need_short(self, src: str, dst: str) -> None:
        """R10 for what a folder holds when it moves or is copied to a longer path."""
        if len(dst.encode()) <= len(src.encode()) or not os.path.isdir(self.real(src)):
            return
        for folder, dirs, files in os.walk(self.real(src)):
            for name in (*dirs, *files):
                below_src = os.path.relpath(os.path.join(folder, name), self.real(src))
                if len(f"{dst}/{below_src}".encode()) > MAX_PATH_BYTES:
                    raise Violation(
                        f"R10: {dst!r}/{below_src[:20]!r}... would be over {MAX_PATH_BYTES} bytes"
                    )

    def need_untargeted(self, path: str) -> None:
        if path in self.created:
            raise Violation(f"R8: an earlier op created or wrote {path!r}")

    def need_expected(self, path: str, expect: Expect | None) -> None:
        if expect is None:
            return
        if expect.absent:
            if self.exists(path):
                raise Violation(f"R9: {path!r} exists, expected absent")
            return
        if not self.exists(path):
            raise Violation(f"R9: {path!r} does not exist, expected it to")
        if not self.is_file(path):
            if expect.sha256 is not None or expect.size is not None:
                raise Violation(f"R9: {path!r} is a folder, expected a file")
            return
        data = Path(self.real(path)).read_bytes()
        if expect.sha256 not in (None, hashlib.sha256(data).hexdigest()) or expect.size not in (
            None,
            len(data),
        ):
            raise Violation(f"R9: {path!r} does not hold the expected content")

    def remember(self, created: list[str], vacated: list[str], op: Op) -> None:
        self.created.difference_update(vacated)
        self.created.update(created)
        for path in (*vacated, *created):
            self.spelled[fold(path)] = path
        src, dst = _source(op), _destination(op)
        if isinstance(op, Move | Rename) and src is not None and dst is not None and fold(src) == fold(dst):
            for key, spelling in list(self.spelled.items()):
                if below(spelling, src):
                    self.spelled[key] = dst + spelling[len(src) :]

    # -- the ops ---------------------------------------------------------------

    def run(self, op: Op) -> None:
        """Check the op against R1-R10 (raise Violation), then carry it out with os calls."""
        self.check_named(op)
        match op:
            case Mkdir():
                self.mkdir(op)
            case Move() | Rename():
                self.move(op)
            case Write():
                self.write(op)
            case Copy():
                self.copy(op)
            case Delete():
                self.need_expected(op.path, op.expect)
                self.need_source(op.path)
                self.trashed += 1
                os.rename(self.real(op.path), os.path.join(self.trash, str(self.trashed)))
                self.remember([], [op.path], op)

    def mkdir(self, op: Mkdir) -> None:
        self.need_expected(op.path, op.expect)
        if op.parents and os.path.isdir(self.real(op.path)):
            return  # mkdir -p of an existing folder creates nothing
        missing = [op.path]
        while op.parents and parent_of(missing[-1]) and not self.exists(parent_of(missing[-1])):
            missing.append(parent_of(missing[-1]))
        missing.reverse()
        self.need_parent(missing[0])
        self.need_untargeted(op.path)
        self.need_free(missing[0])
        for path in missing:
            os.mkdir(self.real(path))
        self.remember(missing, [], op)

    def move(self, op: Move | Rename) -> None:
        src, dst = _source(op), _destination(op)
        assert src is not None
        assert dst is not None
        self.need_expected(src, op.expect)
        self.need_source(src)
        if dst == src or below(dst, src):
            raise Violation(f"R4: {dst!r} is {src!r} or inside it")
        self.need_short(src, dst)
        self.need_parent(dst)
        overwrite = isinstance(op, Move) and op.overwrite
        if not overwrite:
            self.need_untargeted(dst)
        if isinstance(op, Move):
            self.need_expected(dst, op.expect_dst)
        if overwrite and self.exists(dst):
            if not (self.is_file(dst) and self.is_file(src)):
                raise Violation(f"R6: only a file may replace a file ({src!r} -> {dst!r})")
            os.replace(self.real(src), self.real(dst))
        else:
            self.need_free(dst, moving=src)
            os.rename(self.real(src), self.real(dst))
        self.remember([dst], [src], op)

    def write(self, op: Write) -> None:
        data = op.data()
        if data is None:
            assert op.content_ref is not None
            if op.content_ref not in BLOBS:
                raise Violation(f"R3: no uploaded blob has sha256 {op.content_ref}")
            data = BLOBS[op.content_ref]
        self.need_expected(op.path, op.expect)
        self.need_parent(op.path)
        if not op.overwrite:
            self.need_untargeted(op.path)
        if op.overwrite and self.exists(op.path):
            if not self.is_file(op.path):
                raise Violation(f"R6: {op.path!r} is a folder, not a file to overwrite")
            mode = "wb"
        else:
            self.need_free(op.path)
            mode = "xb"
        with open(self.real(op.path), mode) as handle:
            handle.write(data)
        self.remember([op.path], [], op)

    def copy(self, op: Copy) -> None:
        self.need_expected(op.src, op.expect)
        self.need_source(op.src)
        if op.dst == op.src or below(op.dst, op.src):
            raise Violation(f"R4: {op.dst!r} is {op.src!r} or inside it")
        self.need_short(op.src, op.dst)
        self.need_parent(op.dst)
        self.need_untargeted(op.dst)
        self.need_free(op.dst)  # the source stays: a fold twin of it is a collision
        if os.path.isdir(self.real(op.src)):
            shutil.copytree(self.real(op.src), self.real(op.dst))
        else:
            shutil.copy2(self.real(op.src), self.real(op.dst))
        self.remember([op.dst], [], op)


def _source(op: Op) -> str | None:
    match op:
        case Move() | Copy():
            return op.src
        case Rename():
            return op.path
        case _:
            return None


def _destination(op: Op) -> str | None:
    match op:
        case Move() | Copy():
            return op.dst
        case Rename():
            return join(parent_of(op.path), op.name)
        case _:
            return None


def _named(op: Op) -> list[str]:
    match op:
        case Move() | Copy() | Rename():
            return [p for p in (_source(op), _destination(op)) if p is not None]
        case Mkdir() | Write() | Delete():
            return [op.path]


def materialise(store: Store, root: str) -> None:
    for path, data in sorted(store.entries.items()):
        if data is None:
            os.mkdir(os.path.join(root, path))
        else:
            Path(root, path).write_bytes(data)


def carry_out(plan_ops: list[Op], runner: Runner) -> str | None:
    """Run the ops in order; return why the first failing one failed, or None."""
    for index, op in enumerate(plan_ops):
        try:
            runner.run(op)
        except Violation as violation:
            return f"op {index} ({op.op}) breaks {violation}"
        except OSError as error:
            return f"op {index} ({op.op}) raised {error!r}"
    return None


@dataclass(frozen=True)
class Outcome:
    """The verifier's report, and what happened when the os calls ran the same plan."""

    report: Report
    failure: str | None  # why an op broke a rule or raised; None when all ran
    predicted: list[Entry]  # the verifier's tree
    scanned: list[Entry]  # a scan of the real folder after the os calls


def run_both(store: Store, plan: Plan, base: Path) -> Outcome:
    """Verify ``plan`` against ``store`` written under ``base``, then run it there with os calls."""
    with tempfile.TemporaryDirectory(dir=base) as tmp:
        root, trash = os.path.join(tmp, "store"), os.path.join(tmp, "trash")
        os.mkdir(root)
        os.mkdir(trash)
        materialise(store, root)
        tree = scan_tree(Path(root))
        assert tree == store.tree()
        sim = simulate(plan, tree, blobs={sha: len(data) for sha, data in BLOBS.items()})
        failure = carry_out(list(plan.ops), Runner(root, trash))
        return Outcome(sim.report, failure, list(sim.tree.walk()), list(scan_tree(Path(root)).walk()))


def assert_agree(outcome: Outcome) -> None:
    if outcome.report.ok:
        assert outcome.failure is None, f"the verifier accepted the plan, but {outcome.failure}"
        assert outcome.scanned == outcome.predicted
    else:
        errors = "\n".join(map(str, outcome.report.errors))
        assert outcome.failure is not None, f"the verifier rejected a plan that breaks no rule:\n{errors}"


# Near the 1024-byte limit: m/P/Q/S is 754 bytes, so R moved below it lands at 1004.
P, Q, R, S = "L" * 250, "\u00e9" * 125, "\u6587" * 83, "L" * 250
NEAR_LIMIT = Store.of(f"m/{P}/{Q}/{S}", **{f"m/{P}/{Q}/{R}/f.txt": b"alpha"})
LONG_ENOUGH = [{"op": "move", "src": f"m/{P}/{Q}/{R}", "dst": f"m/{P}/{Q}/{S}/{R}"}]
TOO_LONG: list[dict[str, Any]] = [
    {"op": "rename", "path": f"m/{P}/{Q}/{R}/f.txt", "name": "f" * 30},
    {"op": "move", "src": f"m/{P}/{Q}/{R}", "dst": f"m/{P}/{Q}/{S}/{R}"},
]
RECASED = Store.of("m/Inbox/old", **{"m/Inbox/a.pdf": b"alpha", "m/b": b"beta\n"})
RECASING: list[dict[str, Any]] = [
    {"op": "rename", "path": "m/Inbox/a.pdf", "name": "A.pdf"},
    {"op": "move", "src": "m/Inbox", "dst": "m/INBOX"},
    {"op": "copy", "src": "m/INBOX", "dst": "m/copy"},
    {
        "op": "move",
        "src": "m/b",
        "dst": "m/copy/A.pdf",
        "overwrite": True,
        "expect_dst": {"sha256": sha256(b"alpha")},
    },
]


@example(case=(NEAR_LIMIT, plan_of(LONG_ENOUGH)))
@example(case=(NEAR_LIMIT, plan_of(TOO_LONG)))
@example(case=(RECASED, plan_of(RECASING)))
@given(case=cases(collisions=True))
def test_verifier_verdict_matches_os_calls_on_a_real_folder(
    case: tuple[Store, Plan], tmp_path_factory: pytest.TempPathFactory
) -> None:
    """An accepted plan runs cleanly with os calls to the predicted tree; a rejected one breaks a rule."""
    store, plan = case
    outcome = run_both(store, plan, tmp_path_factory.getbasetemp())
    assert_agree(outcome)
    event("accepted" if outcome.report.ok else "rejected")


def test_copy_to_a_case_variant_of_its_source_is_a_collision(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """Copying a file beside itself under a name differing only by case is a name_collision."""
    store = Store.of(**{"m/a.pdf": b"alpha"})
    plan = plan_of([{"op": "copy", "src": "m/a.pdf", "dst": "m/A.pdf"}])
    assert [d.code for d in verify(plan, store.tree()).errors] == [Code.NAME_COLLISION]
    assert_agree(run_both(store, plan, tmp_path_factory.getbasetemp()))


def test_rename_beside_two_case_twins_is_a_collision(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Renaming one of two existing case twins to a third spelling collides with the other twin."""
    store = Store.of(**{"m/AB": b"1", "m/ab": b"2"})  # a case-sensitive store may hold both
    plan = plan_of([{"op": "rename", "path": "m/AB", "name": "Ab"}])
    assert [d.code for d in verify(plan, store.tree()).errors] == [Code.NAME_COLLISION]
    assert_agree(run_both(store, plan, tmp_path_factory.getbasetemp()))


def test_case_only_folder_rename_respells_what_is_inside(tmp_path_factory: pytest.TempPathFactory) -> None:
    """After a case-only rename of a folder, later ops may name its contents by the new spelling."""
    store = Store.of("m/D")
    plan = plan_of(
        [
            {"op": "write", "path": "m/D/x", "content": "hi"},
            {"op": "rename", "path": "m/D", "name": "d"},
            {"op": "delete", "path": "m/d/x"},
        ]
    )
    assert verify(plan, store.tree()).errors == []
    assert_agree(run_both(store, plan, tmp_path_factory.getbasetemp()))
