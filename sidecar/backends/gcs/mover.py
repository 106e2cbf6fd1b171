"""Moves and copies of many objects: journaled, in bounded parallel, resumable after a crash.

A folder on a flat bucket is many objects, so moving it is many calls. The
mover writes the whole list of (source, destination) pairs to a journal
(``movejournals``: a file on the VM's disk, or rows in the database shared
by the replicas) before the first call, runs the pairs on a bounded thread
pool (each call retried with backoff on 429 and 503 by the client's retry
policy), then the folder's own placeholder last, so that the destination
folder appears only once it is complete. The journal is removed when the
move is done.

A journal nobody holds belongs to a crashed process: ``settle`` rolls it
forward, pair by pair, reading each pair's state from the bucket (source
there: move it; destination there: done; both, after a copy whose delete did
not run: delete the source), and rolls it back instead if a destination was
taken by someone else meanwhile. Either way the folder is whole in one
place afterwards, which is what the engine's recovery reads.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from planner.core.errors import AlreadyExists, PvaError
from sidecar.backends.gcs.movejournals import FileMoveJournals, Hook, MoveJournal, MoveJournals, no_hook
from sidecar.backends.gcs.objects import Obj, Objects
from sidecar.backends.progress import counter
from sidecar.errors import StoreFault

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Pair:
    """Move (or copy) the object ``src`` at generation ``generation`` to the new name ``dst``."""

    src: str
    dst: str
    generation: int
    size: int = 0
    crc32c: str = ""

    @classmethod
    def of(cls, obj: Obj, dst: str) -> Pair:
        return cls(obj.name, dst, obj.generation, obj.size, obj.crc32c)

    def source(self) -> Obj:
        return Obj(self.src, self.generation, self.size, self.crc32c, None, None, None)

    def to_json(self) -> list[object]:
        return [self.src, self.dst, self.generation, self.size, self.crc32c]


class Counted:
    """The objects of the step in hand, counted for the apply's progress (``sidecar.backends.progress``).

    Made in the step's thread, which has the counter; the pool's threads have none of their own.
    """

    def __init__(self, count: int) -> None:
        self.objects = counter()
        if self.objects is not None:
            self.objects.found(count)

    def each(self, action: Callable[[Pair], object]) -> Callable[[Pair], None]:
        """``action``, counting one object done each time it returns."""

        def counted(pair: Pair) -> None:
            action(pair)
            self.one()

        return counted

    def one(self) -> None:
        if self.objects is not None:
            self.objects.done()


class Mover:
    """Many object moves as one resumable operation; copies as one all-or-nothing operation."""

    def __init__(
        self, objects: Objects, journals: MoveJournals | Path, *, workers: int = 32, hook: Hook = no_hook
    ) -> None:
        self.objects = objects
        # A folder: journals on this VM's disk (FileMoveJournals); else, wherever the caller keeps them.
        self.journals = FileMoveJournals(journals, hook=hook) if isinstance(journals, Path) else journals
        self.workers = workers
        self.hook = hook
        self._pool: ThreadPoolExecutor | None = None

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None

    def map(self, action: Callable[[T], object], pairs: Sequence[T]) -> None:
        """Run ``action`` on every item in bounded parallel; re-raise the first failure after all finished."""
        if len(pairs) <= 1:
            for pair in pairs:
                action(pair)
            return
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="pva-gcs")
        futures = [self._pool.submit(action, pair) for pair in pairs]
        errors = [error for future in futures if (error := future.exception()) is not None]
        if errors:
            raise errors[0]

    # -- moving ------------------------------------------------------------

    def move(self, pairs: Sequence[Pair], last: Pair | None) -> None:
        """Move every pair, then ``last``; on a failure, move back what moved and raise it."""
        intent = {
            "type": "intent",
            "pairs": [pair.to_json() for pair in pairs],
            "last": last.to_json() if last else None,
        }
        move = Counted(len(pairs) + (last is not None)).each(self._move_known)
        with self.journals.started(intent) as journal:
            self.hook("move journaled")
            try:
                self.map(move, pairs)
                self.hook("moved")
                if last is not None:
                    move(last)
            except PvaError:
                journal.append({"type": "reverse"})
                self._reverse(pairs, last)
                self.journals.finished(journal)
                raise
            self.journals.finished(journal)  # done: nothing left to settle

    def _move_known(self, pair: Pair) -> None:
        self.objects.move(pair.source(), pair.dst)
        self.hook("object moved")

    def _reverse(self, pairs: Sequence[Pair], last: Pair | None) -> None:
        back = [Pair(pair.dst, pair.src, 0) for pair in ([last] if last else []) + list(pairs)]
        self.map(self._advance, back)

    def _advance(self, pair: Pair) -> None:
        """Bring one pair to "moved", whatever state a crash left it in (the bucket says which)."""
        src, dst = self.objects.get(pair.src), self.objects.get(pair.dst)
        if src is None:
            if dst is None:
                raise StoreFault(pair.src, f"{pair.src!r} is in neither place; an operator must look")
            return
        if pair.generation and src.generation != pair.generation and dst is None:
            raise StoreFault(pair.src, f"{pair.src!r} changed since the move began")
        if dst is not None:
            if not dst.same_bytes(src):
                raise AlreadyExists(pair.dst, f"{pair.dst!r} was created by someone else during the move")
            self.objects.delete(src)  # a copy whose delete did not run
            return
        self.objects.move(src, pair.dst)

    # -- settling after a crash ---------------------------------------------

    def settle(self) -> int:
        """Finish (or undo) every move a dead process left; return how many it settled."""
        settled = 0
        for journal in self.journals.dead():
            self._settle_one(journal)
            settled += 1
        return settled

    def _settle_one(self, journal: MoveJournal) -> None:
        records = journal.records()
        if not records:
            return  # died before its intent was written: nothing moved
        intent = records[0]
        pairs = [Pair(*body) for body in intent["pairs"]]
        last = Pair(*intent["last"]) if intent["last"] else None
        if any(record["type"] == "reverse" for record in records):
            self._reverse(pairs, last)
            return
        try:
            self.map(self._advance, pairs)
            if last is not None:
                self._advance(last)
        except AlreadyExists:
            journal.append({"type": "reverse"})
            self._reverse(pairs, last)
