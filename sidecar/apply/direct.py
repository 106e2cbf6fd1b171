"""``DirectOps``: the file-operations protocol on a backend, each op applied at once.

No journal, no lock: for the conformance suite, the state-machine test and
tools. It compiles each op with the engine's own ``StepRecorder``, so it
exercises the same steps an apply runs.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable

from planner.core.entry import Blob, Entry
from planner.core.errors import NotFound
from planner.core.footprint import Read
from planner.core.tree import Tree
from sidecar.apply.compile import StepRecorder, run_step
from sidecar.backends.base import BLOBS, STAGING, Backend


class DirectOps:
    """``planner.core.ops.FileOps`` over a backend: reads delegate, writes run as steps now."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    # -- reading ---------------------------------------------------------

    def stat(self, path: str) -> Entry | None:
        return self.backend.stat(path)

    def collision(self, path: str, *, besides: str | None = None) -> str | None:
        return self.backend.collision(path, besides=besides)

    def walk(self, path: str) -> Iterable[Entry]:
        return self.backend.walk(path)

    def deepest(self, path: str) -> int:
        return self.backend.deepest(path)

    # -- writing ---------------------------------------------------------

    def _run(self, record: Callable[[StepRecorder], None]) -> None:
        name = f"direct-{uuid.uuid4().hex}"
        self.backend.ensure_dir(f"{STAGING}/{name}")
        recorder = StepRecorder(name)
        try:
            record(recorder)
            for path, blob in recorder.blobs:
                self._stage_blob(path, blob)
            for folder in recorder.trash_dirs:
                self.backend.ensure_dir(folder)
            for step in recorder.steps:
                run_step(self.backend, step)
        finally:
            self.backend.discard(f"{STAGING}/{name}")

    def _stage_blob(self, path: str, blob: Blob) -> None:
        if blob.data is not None:
            self.backend.stage_bytes(path, blob.data)
        elif self.backend.exists(f"{BLOBS}/{blob.sha256}"):
            self.backend.stage_copy(path, f"{BLOBS}/{blob.sha256}")
        else:
            raise NotFound(path, f"no blob with sha256 {blob.sha256} in {BLOBS}/")

    def _rehearse(self, *paths: str) -> Tree:
        """The part of the store these paths need, to try an op on first.

        The tree raises exactly the errors the protocol promises, before any
        step touches the store; the steps then cannot meet a surprise.
        """
        return self.backend.read_tree([Read(path) for path in paths])

    def make_dir(self, path: str) -> None:
        self._rehearse(path).make_dir(path)
        self._run(lambda recorder: recorder.make_dir(path))

    def move(self, src: str, dst: str, *, replace: bool = False) -> None:
        trial = self._rehearse(src, dst)
        replace = replace and trial.stat(dst) is not None  # as the tree: replace only what is there
        trial.move(src, dst, replace=replace)
        if src == dst:
            return  # a file replacing itself: the tree does nothing, and nor may the store
        self._run(lambda recorder: recorder.move(src, dst, replace=replace))

    def copy(self, src: str, dst: str) -> None:
        self._rehearse(src, dst).copy(src, dst)
        self._run(lambda recorder: recorder.copy(src, dst))

    def write_file(self, path: str, blob: Blob, *, replace: bool = False) -> None:
        trial = self._rehearse(path)
        replace = replace and trial.stat(path) is not None
        trial.write_file(path, blob, replace=replace)
        self._run(lambda recorder: recorder.write_file(path, blob, replace=replace))

    def delete(self, path: str) -> None:
        self._rehearse(path).delete(path)
        self._run(lambda recorder: recorder.delete(path))
