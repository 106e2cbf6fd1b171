"""A folder move on a flat bucket counts every object it moves toward the apply's progress."""

from __future__ import annotations

from sidecar.apply.compile import Rename, run_step
from sidecar.apply.progress import Progress, Tracker
from sidecar.backends.gcs.backend import GcsBackend
from sidecar.backends.progress import counting
from tests.gcs.fixtures import seed
from tests.gcs.server import GcsServer


class Board:
    def __init__(self) -> None:
        self.posts: list[Progress] = []

    def post(self, _digest: str, progress: Progress) -> None:
        self.posts.append(progress)

    def read(self, _digest: str) -> Progress | None:
        return self.posts[-1] if self.posts else None


def test_a_folder_move_counts_each_object_and_its_placeholder(
    server: GcsServer, bucket: str, backend: GcsBackend
) -> None:
    seed(server, bucket, "store", {"m": None, "m/in": None} | {f"m/in/{n}.txt": b"x" for n in range(7)})
    board = Board()
    step = Rename("m/out", "m/in", 0)
    tracker = Tracker(board, "d" * 64, [step], ops=1, interval=0)
    with counting(tracker):
        run_step(backend, step)
    tracker.stepped(0, step)
    assert tracker.progress() == Progress(1, 1, 8, 8)  # seven objects, then the folder's placeholder
    moving = [p.objects_done for p in board.posts if p.ops_done == 0]
    assert moving == list(range(1, 9))  # each object counted as it moved, the placeholder last
    assert all(p.objects_total == 8 for p in board.posts)
