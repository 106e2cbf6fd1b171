"""An apply's progress: ops done when their last step is, objects as backends count them, posts throttled."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import create_engine

from sidecar.apply.compile import MakeDir, Rename, Step
from sidecar.apply.engine import Engine
from sidecar.apply.journal import FileJournals
from sidecar.apply.progress import Progress, SqlProgress, Tracker
from sidecar.audit.memory import MemoryAudit
from sidecar.backends.memory import MemoryBackend
from tests.support.plans import make_plan


class Board:
    """A board that keeps every post, in order."""

    def __init__(self) -> None:
        self.posts: list[Progress] = []

    def post(self, digest: str, progress: Progress) -> None:
        assert len(digest) == 64
        self.posts.append(progress)

    def read(self, _digest: str) -> Progress | None:
        return self.posts[-1] if self.posts else None


class Ticks:
    """A monotonic clock a test moves."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


DIGEST = "d" * 64


def test_an_op_is_done_when_its_last_step_is_and_an_op_without_steps_from_the_start() -> None:
    steps: list[Step] = [MakeDir("m/a", 0), Rename("m/b", "m/x", 1), Rename("m/c", "m/y", 1)]
    tracker = Tracker(Board(), DIGEST, steps, ops=3, interval=0)  # op 2 made no step
    assert tracker.progress() == Progress(1, 3, 0, 3)
    tracker.stepped(0, steps[0])
    assert tracker.progress() == Progress(2, 3, 1, 3)
    tracker.stepped(1, steps[1])
    assert tracker.progress() == Progress(2, 3, 2, 3)  # op 1 has a step to go
    tracker.stepped(2, steps[2])
    assert tracker.progress() == Progress(3, 3, 3, 3)


def test_a_step_that_moves_many_objects_counts_each_and_grows_the_total() -> None:
    steps: list[Step] = [Rename("m/out", "m/in", 0), MakeDir("m/z", 1)]
    tracker = Tracker(Board(), DIGEST, steps, ops=2, interval=0)
    tracker.found(10)  # the backend lists the folder: ten objects, not one
    assert tracker.progress() == Progress(0, 2, 0, 11)
    for _ in range(4):
        tracker.done()
    assert tracker.progress() == Progress(0, 2, 4, 11)
    tracker.stepped(0, steps[0])
    assert tracker.progress() == Progress(1, 2, 10, 11)
    tracker.stepped(1, steps[1])
    assert tracker.progress() == Progress(2, 2, 11, 11)


def test_posts_come_at_most_once_an_interval_and_when_asked() -> None:
    board, ticks = Board(), Ticks()
    steps = [MakeDir(f"m/{n}", n) for n in range(4)]
    tracker = Tracker(board, DIGEST, steps, ops=4, interval=1.0, monotonic=ticks)
    tracker.post()
    tracker.stepped(0, steps[0])
    tracker.stepped(1, steps[1])  # within the second: not posted
    assert board.posts == [Progress(0, 4, 0, 4)]
    ticks.now = 1.0
    tracker.stepped(2, steps[2])
    assert board.posts[-1] == Progress(3, 4, 3, 4)
    tracker.stepped(3, steps[3])
    tracker.post()
    assert board.posts == [Progress(0, 4, 0, 4), Progress(3, 4, 3, 4), Progress(4, 4, 4, 4)]


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_an_apply_posts_its_totals_first_and_everything_done_last(tmp_path: Path) -> None:
    backend = MemoryBackend()
    backend.put("m/inbox/1.pdf", b"one")
    backend.put("m/inbox/2.pdf", b"two")
    board = Board()
    engine = Engine(
        backend, MemoryAudit(), FileJournals(tmp_path, "journal"), progress=board, progress_interval=0
    )
    plan = make_plan(
        {"op": "mkdir", "path": "m/alice"},
        {"op": "move", "src": "m/inbox/1.pdf", "dst": "m/alice/1.pdf", "expect": {"sha256": sha(b"one")}},
        {"op": "write", "path": "m/alice/notes.txt", "content": "from Alice"},
        {"op": "delete", "path": "m/inbox/2.pdf"},
        title="file",
        scope=["m"],
    )
    assert engine.apply(plan, actor="alice").status == "applied"
    first, last = board.posts[0], board.posts[-1]
    assert (first.ops_done, first.ops_total, first.objects_done) == (0, 4, 0)
    assert (last.ops_done, last.ops_total) == (4, 4)
    assert last.objects_done == last.objects_total == first.objects_total
    done = [(p.ops_done, p.objects_done) for p in board.posts]
    assert done == sorted(done)  # never backwards


def test_the_database_board_keeps_the_latest_post_of_each_plan(url: str) -> None:
    engine = create_engine(url)
    try:
        board = SqlProgress(engine, clock=lambda: datetime(2026, 12, 4, tzinfo=UTC))
        assert board.read(DIGEST) is None
        board.post(DIGEST, Progress(0, 5, 0, 9))
        board.post(DIGEST, Progress(2, 5, 7, 9))
        board.post("e" * 64, Progress(1, 1, 1, 1))
        assert board.read(DIGEST) == Progress(2, 5, 7, 9)
        assert board.read("e" * 64) == Progress(1, 1, 1, 1)
    finally:
        engine.dispose()
