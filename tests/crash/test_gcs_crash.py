"""Crash safety on a bucket: kill -9 while moving a folder of 1,000 objects, then recover.

The apply runs in a child process against the faithful test server (which
lives in this process, so the bucket survives the kill). After each kill,
opening the backend settles the half-done folder move from its local
journal and the engine's recovery settles the apply: the bucket must be
exactly the before or the after state, every file's content present once
(store and trash together), one audited outcome, and no journal left.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections import Counter
from contextlib import closing
from pathlib import Path

import pytest

from sidecar import db
from sidecar.backends.base import JOURNAL
from sidecar.backends.gcs.backend import GcsBackend
from tests.gcs.fixtures import bucket_state, new_bucket, open_gcs, seed, shared_server
from tests.gcs.server import GcsServer
from tests.support.scenes import CrashRun

FILES = 1000
PLAN = {
    "pva": "plan/v1",
    "title": "File the inbox under Alice",
    "scope": ["m"],
    "ops": [
        {"op": "mkdir", "path": "m/alice"},
        {"op": "move", "src": "m/inbox", "dst": "m/alice/inbox"},
        {"op": "write", "path": "m/alice/index.csv", "content": "file\n"},
        {"op": "delete", "path": "m/Thumbs.db"},
    ],
}


def contents(server: GcsServer, bucket: str) -> Counter[str]:
    """Every file's content in the store and its trash together: nothing may vanish or double."""
    names = server.objects(bucket)
    return Counter(
        hashlib.sha256(obj.data).hexdigest()
        for name, obj in names.items()
        if (not name.endswith("/") and not name.startswith("store/.pva/"))
        or (name.startswith("store/.pva/trash/") and not name.endswith("/"))
    )


class Scene:
    """A pristine bucket and database, copied fresh for each crash."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.server = shared_server()
        self.bucket = new_bucket(self.server)
        files: dict[str, bytes | None] = {
            f"m/inbox/{n:04}.pdf": f"document {n}".encode() for n in range(FILES)
        }
        seed(self.server, self.bucket, "store", {"m": None, "m/inbox": None, "m/Thumbs.db": b"junk"} | files)
        self.database = base / "pristine.db"
        db.upgrade(f"sqlite:///{self.database}")
        self.plan = base / "plan.json"
        self.plan.write_text(json.dumps(PLAN))
        self.before = bucket_state(self.server, self.bucket, "store")
        self.before_contents = contents(self.server, self.bucket)
        clean = self.copy("clean")
        done = clean.run("apply", -1)
        assert done.returncode == 0, done.stderr
        self.points: list[str] = json.loads(done.stdout)
        self.after = bucket_state(self.server, clean.bucket, "store")
        self.after_contents = contents(self.server, clean.bucket)

    def copy(self, name: str) -> Run:
        bucket = new_bucket(self.server)
        with self.server.state.lock:
            self.server.state.buckets[bucket] = dict(self.server.state.buckets[self.bucket])
        folder = self.base / name
        folder.mkdir()
        shutil.copy(self.database, folder / "audit.db")
        return Run(self.server, bucket, folder, self.plan)


class Run(CrashRun):
    """One copy of the scene: a bucket, a state folder and a SQLite audit, driven by gcs_runner."""

    runner = "tests.crash.gcs_runner"
    timeout = 120

    def __init__(self, server: GcsServer, bucket: str, folder: Path, plan: Path) -> None:
        super().__init__(f"sqlite:///{folder / 'audit.db'}", plan)
        self.server, self.bucket, self.folder = server, bucket, folder

    def where(self) -> list[str]:
        return [self.server.url, self.bucket, str(self.folder / "state")]

    def backend(self) -> closing[GcsBackend]:
        return closing(open_gcs(self.server, self.bucket, self.folder / "state"))  # settles the folder move

    def journals(self) -> Path:
        return self.folder / "state"


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory) -> Scene:
    return Scene(tmp_path_factory.mktemp("gcs-crash"))


def assert_settled(scene: Scene, run: Run) -> None:
    state = bucket_state(run.server, run.bucket, "store")
    assert state in (scene.before, scene.after), "the bucket is neither the before nor the after state"
    outcomes = run.outcomes()
    assert len(outcomes) == 1, outcomes
    expected = (
        (["apply:applied"], scene.after_contents)
        if state == scene.after
        else (["apply:failed"], scene.before_contents)
    )
    assert (outcomes, contents(run.server, run.bucket)) == expected
    assert list((run.folder / "state" / JOURNAL).glob("*.jsonl")) == []
    assert list((run.folder / "state" / "moves").glob("*.jsonl")) == []


def kill_points(scene: Scene) -> list[int]:
    """The first, the 500th and the last object of the folder move, and the engine's points around it."""
    objects = [n for n, label in enumerate(scene.points) if label == "object moved"]
    engine = [n for n, label in enumerate(scene.points) if label in ("staged", "batch 0", "commit")]
    return sorted({objects[0], objects[len(objects) // 2], objects[-1], *engine})


def test_the_clean_run_moves_a_thousand_objects(scene: Scene) -> None:
    """The clean apply passes one crash point per object moved, and changes the bucket."""
    assert scene.points.count("object moved") == FILES + 1  # and the folder's placeholder, last
    assert scene.before != scene.after
    assert scene.after[f"m/alice/inbox/{FILES - 1:04}.pdf"] == scene.before[f"m/inbox/{FILES - 1:04}.pdf"]


def test_kill_in_the_middle_of_a_folder_move_then_recover(scene: Scene) -> None:
    """kill -9 mid-folder-move (and around it); after restart the apply is whole or absent, nothing lost."""
    for number in kill_points(scene):
        run = scene.copy(f"kill-{number}")
        killed = run.run("apply", number)
        assert killed.returncode == -9, f"{scene.points[number]}: {killed.stderr[-2000:]}"
        run.recover_here()
        assert_settled(scene, run)


@pytest.mark.slow
def test_kill_at_every_tenth_object_then_recover(scene: Scene) -> None:
    """kill -9 after every tenth object of the folder move; recovery always settles the apply."""
    objects = [n for n, label in enumerate(scene.points) if label == "object moved"]
    for number in objects[::10]:
        run = scene.copy(f"tenth-{number}")
        assert run.run("apply", number).returncode == -9
        run.recover_here()
        assert_settled(scene, run)
