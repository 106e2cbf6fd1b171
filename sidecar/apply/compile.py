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
from typing import Literal

from planner.core.entry import Blob
from planner.core.paths import split
from sidecar.backends.base import STAGING, TRASH, Backend


@dataclass(frozen=True)
class Step:
    """One primitive: make the folder ``dst``, rename ``src`` to ``dst``, or copy it to staging ``dst``."""

    kind: Literal["mkdir", "rename", "copy"]
    dst: str
    src: str | None = None
    op: int = -1  # the plan op this step belongs to

    def to_json(self) -> dict[str, object]:
        body: dict[str, object] = {"kind": self.kind, "dst": self.dst, "op": self.op}
        if self.src is not None:
            body["src"] = self.src
        return body

    @classmethod
    def from_json(cls, body: dict[str, object]) -> Step:
        kind, dst, src, op = body["kind"], body["dst"], body.get("src"), body["op"]
        if kind not in ("mkdir", "rename", "copy") or not isinstance(dst, str) or not isinstance(op, int):
            raise ValueError(f"not a journal step: {body!r}")
        if src is not None and not isinstance(src, str):
            raise ValueError(f"not a journal step: {body!r}")
        return cls(kind, dst, src, op)

    def paths(self) -> tuple[str, ...]:
        return (self.dst,) if self.src is None else (self.src, self.dst)


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

    def _add(self, kind: Literal["mkdir", "rename", "copy"], dst: str, src: str | None = None) -> None:
        self.steps.append(Step(kind, dst, src, self.op))

    def _staging_path(self) -> str:
        self._staged += 1
        return f"{STAGING}/{self.digest}/{self._staged}"

    def _to_trash(self, path: str) -> None:
        folder = f"{TRASH}/{self.digest}/{len(self.trash_dirs)}"
        self.trash_dirs.append(folder)
        where = f"{folder}/{split(path)[1]}"
        self.trashed.append((self.op, path, where))
        self._add("rename", where, path)

    def make_dir(self, path: str) -> None:
        self._add("mkdir", path)

    def move(self, src: str, dst: str, *, replace: bool = False) -> None:
        if replace:
            self._to_trash(dst)
        self._add("rename", dst, src)

    def copy(self, src: str, dst: str) -> None:
        staged = self._staging_path()
        self._add("copy", staged, src)
        self._add("rename", dst, staged)

    def write_file(self, path: str, blob: Blob, *, replace: bool = False) -> None:
        staged = self._staging_path()
        self.blobs.append((staged, blob))
        if replace:
            self._to_trash(path)
        self._add("rename", path, staged)

    def delete(self, path: str) -> None:
        self._to_trash(path)


def run_step(backend: Backend, step: Step) -> None:
    """Carry out one step."""
    if step.kind == "mkdir":
        backend.mkdir(step.dst)
        return
    assert step.src is not None
    if step.kind == "copy":
        backend.stage_copy(step.dst, step.src)
    else:
        backend.rename(step.src, step.dst)


def undo_step(backend: Backend, step: Step) -> None:
    """Reverse one step that took effect."""
    if step.kind == "mkdir":
        backend.rmdir(step.dst)
        return
    assert step.src is not None
    if step.kind == "copy":
        backend.discard(step.dst)
    else:
        backend.rename(step.dst, step.src)


def took_effect(backend: Backend, step: Step) -> bool | None:
    """Whether a step took effect, read from the store; None when the store says neither.

    Sound only when no other step of its batch touches its paths (the engine's
    batches guarantee it).
    """
    if step.kind in ("mkdir", "copy"):  # a copy appears at its staging path whole, or not at all
        return backend.exists(step.dst)
    assert step.src is not None
    here, there = backend.exists(step.src), backend.exists(step.dst)
    if here != there:
        return there
    return None
