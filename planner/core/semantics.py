"""Op semantics: what each op requires of the store and what it resolves to.

``Stepper.step`` checks one op against the current state and returns its
diagnostics and, when there is no error, the resolved ``Change``. It is used
by the verifier on the in-memory tree and by the apply engine on a live
backend, so simulation and apply cannot drift. It never mutates the state;
``planner.core.ops.execute`` does.

Checks come in order: path spelling and scope first (static; an op failing
them is not simulated), then intra-plan conflicts, then the state.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, assert_never

from planner.core.entry import Blob, Entry
from planner.core.ops import Change, CopyEntry, MakeDirs, MoveEntry, StoreView, TrashEntry, WriteFile
from planner.core.paths import (
    MAX_PATH_BYTES,
    PathRuleError,
    check_name,
    is_strictly_inside,
    join,
    path_problem,
    rebase,
    split,
)
from planner.core.paths import fold as fold_key
from planner.core.plan import Copy, Delete, Expect, Mkdir, Move, Op, Rename, Write
from planner.core.report import WARNINGS, Code, Diagnostic


@dataclass(frozen=True)
class Limits:
    """Sizes a plan may not exceed (``too_large``)."""

    max_ops: int = 100_000
    max_inline_bytes: int = 10 * 1024 * 1024  # one write's inline content, decoded
    max_file_bytes: int = 5 * 1024**3  # one written file, inline or by reference


@dataclass
class _Step:
    """Diagnostics of one op; ``change`` is set only when it has no error."""

    index: int
    diagnostics: list[Diagnostic] = field(default_factory=list)
    failed: bool = field(default=False, init=False)  # an error was added (asked after every check)

    def add(self, code: Code, field: str | None, path: str | None, message: str) -> None:
        severity: Literal["error", "warning"] = "warning" if code in WARNINGS else "error"
        self.failed = self.failed or severity == "error"
        self.diagnostics.append(
            Diagnostic(
                code=code,
                severity=severity,
                op_index=self.index,
                field=field,
                path=path,
                message=message,
            )
        )


@dataclass
class StepResult:
    """What checking one op gave: its diagnostics, and its change when it has no error."""

    diagnostics: list[Diagnostic]
    change: Change | None


class Stepper:
    """Checks ops in plan order, remembering what earlier ops did (for ``conflict``)."""

    def __init__(
        self,
        scope: Sequence[str],
        *,
        limits: Limits | None = None,
        blobs: Mapping[str, int] | None = None,
    ) -> None:
        self.scope = tuple(scope)
        # Segment-wise containment, precomputed: a path is in scope when it is a
        # scope root or starts with a root followed by '/'.
        self._roots = frozenset(self.scope)
        self._prefixes = tuple(f"{root}/" for root in self.scope)
        self.limits = limits or Limits()
        self.blobs = blobs  # sha256 -> size of uploaded blobs; None: not known here
        self._targets: dict[str, int] = {}  # path -> op that created or wrote it
        self._vacated: dict[str, int] = {}  # path -> op that moved or deleted it
        self._spelled: dict[str, str] = {}  # fold key -> the spelling the plan uses

    def step(self, index: int, op: Op, state: StoreView) -> StepResult:
        """Check ``op`` against ``state``; resolve it to a change if it has no error."""
        step = _Step(index)
        paths = self._static_checks(step, op)
        if step.failed:
            return StepResult(step.diagnostics, None)
        self._spelling_checks(step, paths, op)
        change = self._resolve(step, op, state)
        if step.failed:
            return StepResult(step.diagnostics, None)
        assert change is not None
        self._remember(change)
        return StepResult(step.diagnostics, change)

    # -- static: spelling and scope ---------------------------------------

    def _static_checks(self, step: _Step, op: Op) -> list[tuple[str, str]]:
        """Check every path field; return (field, path) pairs the op touches."""
        fields = _path_fields(op)
        for name, path in fields:
            problem = path_problem(path)
            if problem is not None:
                step.add(Code.INVALID_PATH, name, path, problem)
        if isinstance(op, Rename):
            try:
                check_name(op.name)
            except PathRuleError as error:
                step.add(Code.INVALID_PATH, "name", op.name, str(error))
        if step.failed:
            return fields
        if isinstance(op, Rename):
            renamed = join(split(op.path)[0], op.name)
            problem = path_problem(renamed)  # a valid name can still make the path too long
            if problem is not None:
                step.add(Code.INVALID_PATH, "name", renamed, problem)
                return fields
            fields.append(("name", renamed))
        for name, path in fields:
            if path not in self._roots and not path.startswith(self._prefixes):
                where = f"the plan's scope {list(self.scope)}" if self.scope else "any usable scope root"
                step.add(Code.OUT_OF_SCOPE, name, path, f"{path!r} is outside {where}")
        return fields

    def _spelling_checks(self, step: _Step, fields: list[tuple[str, str]], op: Op) -> None:
        for name, path in fields:
            key = fold_key(path)
            earlier = self._spelled.get(key)
            if earlier is not None and earlier != path and not _renames_case(op, path):
                step.add(
                    Code.CONFLICT,
                    name,
                    path,
                    f"{path!r} is spelled {earlier!r} elsewhere in this plan; use one spelling for one name",
                )

    # -- per op -----------------------------------------------------------

    def _resolve(self, step: _Step, op: Op, state: StoreView) -> Change | None:
        match op:
            case Mkdir():
                return self._mkdir(step, op, state)
            case Move() | Rename():
                return self._move(step, op, state)
            case Write():
                return self._write(step, op, state)
            case Copy():
                return self._copy(step, op, state)
            case Delete():
                return self._delete(step, op, state)
            case _:
                assert_never(op)

    def _mkdir(self, step: _Step, op: Mkdir, state: StoreView) -> Change | None:
        existing = state.stat(op.path)
        _check_expect(step, "expect", op.path, op.expect, existing)
        if existing is not None:
            if existing.is_dir and op.parents:
                return MakeDirs(step.index, ())  # mkdir -p of an existing folder
            what = "folder" if existing.is_dir else "file"
            hint = "; set parents: true to accept an existing folder" if existing.is_dir else ""
            step.add(Code.ALREADY_EXISTS, "path", op.path, f"a {what} already exists at {op.path!r}{hint}")
            return None
        missing = [op.path]
        parent = split(op.path)[0]
        while op.parents and parent and state.stat(parent) is None:
            missing.append(parent)
            parent = split(parent)[0]
        self._check_parent(step, "path", missing[-1], state)
        for path in missing:
            self._check_new_name(step, "path", path, state)
        self._check_target(step, "path", op.path)
        return MakeDirs(step.index, tuple(reversed(missing)))

    def _move(self, step: _Step, op: Move | Rename, state: StoreView) -> Change | None:
        src, src_field = (op.src, "src") if isinstance(op, Move) else (op.path, "path")
        dst, dst_field = (
            (op.dst, "dst") if isinstance(op, Move) else (join(split(op.path)[0], op.name), "name")
        )
        overwrite = isinstance(op, Move) and op.overwrite
        entry = self._need_source(step, src_field, src, op.expect, state)
        if src == dst:
            step.add(
                Code.ALREADY_EXISTS, dst_field, dst, f"{src!r} is already at {dst!r}; the op does nothing"
            )
            return None
        if is_strictly_inside(src, dst):
            step.add(Code.INTO_ITSELF, dst_field, dst, f"cannot move {src!r} into itself")
            return None
        _check_descendant_lengths(step, dst_field, src, dst, entry, state)
        replaced = self._check_destination(
            step, dst_field, dst, state, overwrite=overwrite, source=entry, moving=True
        )
        if isinstance(op, Move) and op.expect_dst is not None:
            _check_expect(step, "expect_dst", dst, op.expect_dst, state.stat(dst))
        if entry is None:
            return None
        return MoveEntry(step.index, src, dst, entry, replaced, rename=isinstance(op, Rename))

    def _write(self, step: _Step, op: Write, state: StoreView) -> Change | None:
        blob = self._blob(step, op)
        existing = state.stat(op.path)
        _check_expect(step, "expect", op.path, op.expect, existing)
        replaced = self._check_destination(step, "path", op.path, state, overwrite=op.overwrite, source=None)
        if blob is None:
            return None
        return WriteFile(step.index, op.path, blob, replaced)

    def _copy(self, step: _Step, op: Copy, state: StoreView) -> Change | None:
        entry = self._need_source(step, "src", op.src, op.expect, state)
        if op.src == op.dst:
            step.add(Code.ALREADY_EXISTS, "dst", op.dst, f"{op.src!r} cannot be copied onto itself")
            return None
        if is_strictly_inside(op.src, op.dst):
            step.add(Code.INTO_ITSELF, "dst", op.dst, f"cannot copy {op.src!r} into itself")
            return None
        _check_descendant_lengths(step, "dst", op.src, op.dst, entry, state)
        self._check_destination(step, "dst", op.dst, state, overwrite=False, source=entry)
        if entry is None:
            return None
        entries = tuple(state.walk(op.src)) if entry.is_dir else (entry,)
        return CopyEntry(step.index, op.src, op.dst, entries)

    def _delete(self, step: _Step, op: Delete, state: StoreView) -> Change | None:
        entry = self._need_source(step, "path", op.path, op.expect, state)
        if entry is None:
            return None
        removed = tuple(state.walk(op.path)) if entry.is_dir else (entry,)
        return TrashEntry(step.index, op.path, removed)

    # -- shared checks ----------------------------------------------------

    def _need_source(
        self, step: _Step, name: str, path: str, expect: Expect | None, state: StoreView
    ) -> Entry | None:
        entry = state.stat(path)
        _check_expect(step, "expect", path, expect, entry)
        if entry is None:
            self._missing(step, name, path, state, code=Code.NOT_FOUND, what="does not exist")
        return entry

    def _check_destination(
        self,
        step: _Step,
        name: str,
        path: str,
        state: StoreView,
        *,
        overwrite: bool,
        source: Entry | None,
        moving: bool = False,
    ) -> Entry | None:
        """Check a create target; return the file it replaces, if any."""
        self._check_parent(step, name, path, state)
        if not overwrite:  # an overwrite pins what it replaces, so a second write is deliberate
            self._check_target(step, name, path)
        existing = state.stat(path)
        if existing is None:
            self._check_new_name(step, name, path, state, moving=source if moving else None)
            return None
        if not overwrite:
            hint = (
                "; to replace a file set overwrite: true with an expect on it" if not existing.is_dir else ""
            )
            step.add(Code.ALREADY_EXISTS, name, path, f"{path!r} already exists{hint}")
            return None
        if existing.is_dir:
            step.add(Code.IS_A_DIRECTORY, name, path, f"{path!r} is a folder; only files can be overwritten")
        elif source is not None and source.is_dir:
            step.add(
                Code.IS_A_DIRECTORY,
                name,
                path,
                f"{source.path!r} is a folder; a folder cannot overwrite the file {path!r}",
            )
        return existing

    def _check_parent(self, step: _Step, name: str, path: str, state: StoreView) -> None:
        parent = split(path)[0]
        if not parent:
            return
        entry = state.stat(parent)
        if entry is None:
            self._missing(
                step,
                name,
                parent,
                state,
                code=Code.PARENT_NOT_FOUND,
                what="(the parent folder) does not exist",
            )
        elif not entry.is_dir:
            step.add(Code.NOT_A_DIRECTORY, name, parent, f"{parent!r} is a file, not a folder")

    def _check_new_name(
        self, step: _Step, name: str, path: str, state: StoreView, moving: Entry | None = None
    ) -> None:
        other = state.collision(path, besides=None if moving is None else moving.path)
        if other is not None:
            step.add(
                Code.NAME_COLLISION,
                name,
                path,
                f"{path!r} differs from the existing {other!r} only by case or Unicode "
                "normalisation; stores that fold names would see one file",
            )

    def _check_target(self, step: _Step, name: str, path: str) -> None:
        """Two ops creating one path (with no op freeing it between) conflict."""
        earlier = self._targets.get(path)
        if earlier is not None:
            step.add(
                Code.CONFLICT,
                name,
                path,
                f"op {earlier} already creates {path!r}; to replace it, set overwrite: true with an expect",
            )

    def _missing(self, step: _Step, name: str, path: str, state: StoreView, *, code: Code, what: str) -> None:
        """Report a missing path, as a conflict when an earlier op moved it away."""
        cursor = path
        while cursor:
            mover = self._vacated.get(cursor)
            if mover is not None:
                step.add(
                    Code.CONFLICT, name, path, f"{path!r} is gone: op {mover} moved or deleted {cursor!r}"
                )
                return
            cursor = split(cursor)[0]
        other = state.collision(path)
        hint = f"; the store has {other!r}, which differs only by case" if other else ""
        step.add(code, name, path, f"{path!r} {what}{hint}")

    def _blob(self, step: _Step, op: Write) -> Blob | None:
        data = op.data()
        if data is not None:
            if len(data) > self.limits.max_inline_bytes:
                step.add(
                    Code.TOO_LARGE,
                    "content",
                    op.path,
                    f"inline content is {len(data)} bytes, over {self.limits.max_inline_bytes}; "
                    "upload it and use content_ref",
                )
                return None
            return Blob(hashlib.sha256(data).hexdigest(), len(data), data)
        assert op.content_ref is not None
        if self.blobs is None:
            step.add(
                Code.UNVERIFIED,
                "content_ref",
                op.path,
                f"blob {op.content_ref[:12]}... is not known here; the sidecar checks it was uploaded",
            )
            return Blob(op.content_ref, None)
        size = self.blobs.get(op.content_ref)
        if size is None:
            step.add(Code.NOT_FOUND, "content_ref", op.path, f"no uploaded blob has sha256 {op.content_ref}")
            return None
        if size is not None and size > self.limits.max_file_bytes:
            step.add(
                Code.TOO_LARGE,
                "content_ref",
                op.path,
                f"blob is {size} bytes, over {self.limits.max_file_bytes}",
            )
            return None
        return Blob(op.content_ref, size)

    def _remember(self, change: Change) -> None:
        targets, vacated = _touched(change)
        for path in vacated:
            self._vacated[path] = change.index
            self._targets.pop(path, None)  # a vacated path may be created again
        for path in targets:
            self._targets[path] = change.index
            self._vacated.pop(path, None)
        for path in (*vacated, *targets):
            self._spelled[fold_key(path)] = path
        if (
            isinstance(change, MoveEntry)
            and change.entry.is_dir
            and fold_key(change.src) == fold_key(change.dst)
        ):
            self._respell(change.src, change.dst)

    def _respell(self, old: str, new: str) -> None:
        """A folder's case changed: paths recorded below it now read with its new spelling."""
        for key, spelling in list(self._spelled.items()):
            if is_strictly_inside(old, spelling):
                self._spelled[key] = rebase(spelling, old, new)


def _touched(change: Change) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(paths created or written, paths vacated) by a change."""
    match change:
        case MakeDirs(paths=paths):
            return paths, ()
        case MoveEntry(src=src, dst=dst):
            return (dst,), (src,)
        case WriteFile(path=path):
            return (path,), ()
        case CopyEntry(dst=dst):
            return (dst,), ()
        case TrashEntry(path=path):
            return (), (path,)


def _check_descendant_lengths(  # noqa: PLR0917  # a private check; call sites name the roles
    step: _Step, name: str, src: str, dst: str, entry: Entry | None, state: StoreView
) -> None:
    """A folder moved or copied to a longer path must not push its contents over the limit."""
    growth = len(dst.encode()) - len(src.encode())
    if entry is None or not entry.is_dir or growth <= 0:
        return
    longest = len(dst.encode()) + 1 + state.deepest(src)
    if longest > MAX_PATH_BYTES:
        step.add(
            Code.INVALID_PATH,
            name,
            dst,
            f"below {dst!r} the longest path would be {longest} bytes, over {MAX_PATH_BYTES}",
        )


def _path_fields(op: Op) -> list[tuple[str, str]]:
    match op:
        case Move() | Copy():
            return [("src", op.src), ("dst", op.dst)]
        case Mkdir() | Rename() | Write() | Delete():
            return [("path", op.path)]


def _renames_case(op: Op, path: str) -> bool:
    """True for the destination of a move that changes only the case of a name."""
    if isinstance(op, Move):
        return path == op.dst and fold_key(op.src) == fold_key(op.dst)
    if isinstance(op, Rename):
        return path != op.path and fold_key(op.path) == fold_key(path)
    return False


def _check_expect(step: _Step, name: str, path: str, expect: Expect | None, entry: Entry | None) -> None:
    """Compare stated preconditions with what the state holds."""
    if expect is None:
        return
    for why in _expect_mismatches(step, name, path, expect, entry):
        step.add(Code.PRECONDITION_FAILED, name, path, f"expected {why}")


def _expect_mismatches(step: _Step, name: str, path: str, expect: Expect, entry: Entry | None) -> list[str]:
    if expect.absent:
        if entry is None:
            return []
        return [f"{path!r} to be absent, but a {'folder' if entry.is_dir else 'file'} is there"]
    if entry is None:
        return [f"{path!r} to exist, but it does not"]
    if entry.is_dir and (expect.sha256 is not None or expect.size is not None):
        return [f"a file at {path!r}, but it is a folder"]
    mismatches = []
    for what, wanted, actual in (
        ("sha256", expect.sha256, entry.sha256),
        ("size", expect.size, entry.size),
        ("generation", expect.generation, entry.generation),
    ):
        if wanted is None:
            continue
        if actual is None:
            step.add(
                Code.UNVERIFIED,
                name,
                path,
                f"the {what} of {path!r} is not known here; it is checked against the live store at apply",
            )
        elif wanted != actual:
            mismatches.append(f"{what} {wanted} for {path!r}, but it is {actual}")
    return mismatches
