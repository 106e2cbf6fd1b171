"""Compile resolved changes into primitive steps, through the same interpreter as simulation.

``planner.core.ops.execute`` drives a ``StepRecorder`` exactly as it drives the
in-memory tree; the recorder turns each mutation into steps on the backend
(see ``sidecar.backends.base``): ``mkdir``, ``rename`` (never replacing) and
``copy`` (into the staging area, then a rename into place). New content is
staged while recording. Nothing is destroyed: what a plan replaces or deletes
is renamed into ``.pva/trash/<digest>/<n>/``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import assert_never

from planner.core.entry import Blob
from planner.core.paths import split
from sidecar.backends.base import STAGING, TRASH, Backend


@dataclass(frozen=True, slots=True)
class MakeDir:
    """Make the folder ``dst`` (its parent exists)."""

    dst: str
    op: int = -1  # the plan op this step belongs to


@dataclass(frozen=True, slots=True)
class Rename:
    """Rename ``src`` to ``dst``, never replacing."""

    dst: str
    src: str
    op: int = -1


@dataclass(frozen=True, slots=True)
class StageCopy:
    """Copy ``src`` to the staging path ``dst`` (a rename puts it in place later)."""

    dst: str
    src: str
    op: int = -1


Step = MakeDir | Rename | StageCopy
"""One primitive step: a new kind is a type error until every ``match`` below handles it."""


def step_paths(step: Step) -> tuple[str, ...]:
    """The paths a step touches."""
    match step:
        case MakeDir(dst=dst):
            return (dst,)
        case Rename(dst=dst, src=src) | StageCopy(dst=dst, src=src):
            return (src, dst)
        case _:
            assert_never(step)


def step_json(step: Step) -> dict[str, object]:
    """The step's journal form: ``{"kind", "dst", "op"}``, and ``"src"`` for a rename or a copy."""
    match step:
        case MakeDir(dst=dst, op=op):
            return {"kind": "mkdir", "dst": dst, "op": op}
        case Rename(dst=dst, src=src, op=op):
            return {"kind": "rename", "dst": dst, "op": op, "src": src}
        case StageCopy(dst=dst, src=src, op=op):
            return {"kind": "copy", "dst": dst, "op": op, "src": src}
        case _:
            assert_never(step)


def step_from(body: object) -> Step:
    """A step from its journal form; ValueError if it is not one."""
    match body:
        case {"kind": "mkdir", "dst": str(dst), "op": int(op), **rest} if not rest:
            return MakeDir(dst, op)
        case {"kind": "rename", "dst": str(dst), "src": str(src), "op": int(op)}:
            return Rename(dst, src, op)
        case {"kind": "copy", "dst": str(dst), "src": str(src), "op": int(op)}:
            return StageCopy(dst, src, op)
        case _:
            raise ValueError(f"not a journal step: {body!r}")


@dataclass
class StepRecorder:
    """A ``planner.core.ops.Mutator`` that records steps instead of changing anything.

    New content to stage is listed in ``blobs`` (reserved path, blob): the
    engine stages it once the journal's intent is durable. A copy is a step
    instead: its source may be made by an earlier op.
    """

    digest: str
    blobs: list[tuple[str, Blob]] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    trash_dirs: list[str] = field(default_factory=list)  # reserved folders the steps rename into
    trashed: list[tuple[int, str, str]] = field(default_factory=list)  # (op, store path, trash path)
    op: int = -1  # set by the engine before each change
    _staged: int = 0

    def _staging_path(self) -> str:
        self._staged += 1
        return f"{STAGING}/{self.digest}/{self._staged}"

    def _to_trash(self, path: str) -> None:
        folder = f"{TRASH}/{self.digest}/{len(self.trash_dirs)}"
        self.trash_dirs.append(folder)
        where = f"{folder}/{split(path)[1]}"
        self.trashed.append((self.op, path, where))
        self.steps.append(Rename(where, path, self.op))

    def make_dir(self, path: str) -> None:
        self.steps.append(MakeDir(path, self.op))

    def move(self, src: str, dst: str, *, replace: bool = False) -> None:
        if replace:
            self._to_trash(dst)
        self.steps.append(Rename(dst, src, self.op))

    def copy(self, src: str, dst: str) -> None:
        staged = self._staging_path()
        self.steps.append(StageCopy(staged, src, self.op))
        self.steps.append(Rename(dst, staged, self.op))

    def write_file(self, path: str, blob: Blob, *, replace: bool = False) -> None:
        staged = self._staging_path()
        self.blobs.append((staged, blob))
        if replace:
            self._to_trash(path)
        self.steps.append(Rename(path, staged, self.op))

    def delete(self, path: str) -> None:
        self._to_trash(path)


def run_step(backend: Backend, step: Step) -> None:
    """Carry out one step."""
    match step:
        case MakeDir(dst=dst):
            backend.mkdir(dst)
        case Rename(dst=dst, src=src):
            backend.rename(src, dst)
        case StageCopy(dst=dst, src=src):
            backend.stage_copy(dst, src)
        case _:
            assert_never(step)


def undo_step(backend: Backend, step: Step) -> None:
    """Reverse one step that took effect."""
    match step:
        case MakeDir(dst=dst):
            backend.rmdir(dst)
        case Rename(dst=dst, src=src):
            backend.rename(dst, src)
        case StageCopy(dst=dst):
            backend.discard(dst)
        case _:
            assert_never(step)


def took_effect(backend: Backend, step: Step) -> bool | None:
    """Whether a step took effect, read from the store; None when the store says neither.

    Sound only when no other step of its batch touches its paths (the engine's
    batches guarantee it).
    """
    match step:
        case MakeDir(dst=dst) | StageCopy(dst=dst):  # a copy appears at its staging path whole, or not at all
            return backend.exists(dst)
        case Rename(dst=dst, src=src):
            here, there = backend.exists(src), backend.exists(dst)
            return there if here != there else None
        case _:
            assert_never(step)
