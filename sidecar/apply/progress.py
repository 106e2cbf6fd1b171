"""How far an apply has got: ops and store objects done of their totals, for anyone to read.

The engine counts while it runs an apply's steps (``Tracker``) and posts what
it counted to a ``ProgressBoard`` at most every ``interval`` seconds, and
once more when the steps are over. The board is a table of the database
(``SqlProgress``), so whichever replica serves ``GET /v1/plans/{id}`` shows
the progress of an apply another replica runs; ``MemoryProgress`` serves
tests and stores without one.

An op is done when its last step is; ops with no step (a ``mkdir`` of a
folder that exists) count as done from the start. An object is one store
object: a step is one object unless its backend says it moves more
(``sidecar.backends.progress``: a folder on a flat bucket is every object
below it), so the objects' total grows as a bucket's folders are listed.
An apply taken over by another replica settles without counting: its
progress stays where the dead replica last posted it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy import insert, update
from sqlalchemy.exc import IntegrityError

from sidecar import db
from sidecar.apply.compile import Step
from sidecar.audit.tables import ApplyProgressRow


@dataclass(frozen=True, slots=True)
class Progress:
    """What an apply has done: ops of the plan's, objects of the store's (the total may grow)."""

    ops_done: int
    ops_total: int
    objects_done: int
    objects_total: int

    def to_json(self) -> dict[str, int]:
        return {
            "ops_done": self.ops_done,
            "ops_total": self.ops_total,
            "objects_done": self.objects_done,
            "objects_total": self.objects_total,
        }


class ProgressBoard(Protocol):
    """Where applies post their progress, by plan digest."""

    def post(self, digest: str, progress: Progress) -> None: ...

    def read(self, digest: str) -> Progress | None: ...


class MemoryProgress:
    """A board in this process's memory."""

    def __init__(self) -> None:
        self.posted: dict[str, Progress] = {}

    def post(self, digest: str, progress: Progress) -> None:
        self.posted[digest] = progress

    def read(self, digest: str) -> Progress | None:
        return self.posted.get(digest)


class SqlProgress(db.SqlStore):
    """A board in the audit database's ``apply_progress`` table: one row per plan, the latest post."""

    def post(self, digest: str, progress: Progress) -> None:
        values = progress.to_json() | {"updated": self._clock()}
        with self._sessions() as session, session.begin():
            done = session.execute(
                update(ApplyProgressRow).where(ApplyProgressRow.digest == digest).values(**values)
            )
            if done.rowcount:  # type: ignore[attr-defined]  # a CursorResult
                return
        try:
            with self._sessions() as session, session.begin():
                session.execute(insert(ApplyProgressRow).values(digest=digest, **values))
        except IntegrityError:  # another poster inserted it first: ours is the later post
            self.post(digest, progress)

    def read(self, digest: str) -> Progress | None:
        with self._sessions() as session:
            row = session.get(ApplyProgressRow, digest)
        if row is None:
            return None
        return Progress(row.ops_done, row.ops_total, row.objects_done, row.objects_total)

    def updated(self, digest: str) -> datetime | None:
        """When the apply of ``digest`` last posted (None if never)."""
        with self._sessions() as session:
            row = session.get(ApplyProgressRow, digest)
        return None if row is None else row.updated


class Tracker:
    """Counts one apply's steps and objects, and posts to ``board`` at most every ``interval`` s.

    Backends call ``found`` and ``done`` from their pools' threads (it is a
    ``sidecar.backends.progress.Objects``); the engine calls ``stepped``
    after each step and ``post`` when the steps are over.
    """

    def __init__(
        self,
        board: ProgressBoard,
        digest: str,
        steps: Sequence[Step],
        ops: int,
        *,
        interval: float = 1.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.board = board
        self.digest = digest
        self.interval = interval
        self.monotonic = monotonic
        self._lock = threading.Lock()
        self._last_of_op = {step.op: index for index, step in enumerate(steps) if step.op >= 0}
        self._ops_total = ops
        self._ops_done = ops - len(self._last_of_op)
        self._objects_total = len(steps)
        self._objects_done = 0  # of the steps finished
        self._step_found: int | None = None  # what the step in hand said it moves
        self._step_done = 0
        self._posted = float("-inf")

    def found(self, count: int) -> None:
        with self._lock:
            self._objects_total += count - (self._step_found or 1)
            self._step_found = count

    def done(self, count: int = 1) -> None:
        with self._lock:
            self._step_done += count
            self._post_if_due()

    def stepped(self, index: int, step: Step) -> None:
        """Step ``index`` is done."""
        with self._lock:
            self._objects_done += self._step_found or 1
            self._step_found, self._step_done = None, 0
            if self._last_of_op.get(step.op) == index:
                self._ops_done += 1
            self._post_if_due()

    def progress(self) -> Progress:
        with self._lock:
            return self._progress()

    def post(self) -> None:
        """Post now, whenever the last post was."""
        with self._lock:
            self._post(self.monotonic())

    def _progress(self) -> Progress:
        in_hand = min(self._step_done, self._step_found or 0)
        return Progress(self._ops_done, self._ops_total, self._objects_done + in_hand, self._objects_total)

    def _post_if_due(self) -> None:
        now = self.monotonic()
        if now - self._posted >= self.interval:
            self._post(now)

    def _post(self, now: float) -> None:
        self.board.post(self.digest, self._progress())
        self._posted = now
