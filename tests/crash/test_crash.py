"""Crash safety: kill -9 an apply at every step boundary, and recovery at each of its steps.

After each kill, recovery must leave the store exactly as before the plan or
exactly as after it, with no file lost or duplicated (store and trash
counted together), one terminal audit record, and no journal left open.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections import Counter
from pathlib import Path

import pytest

from sidecar import db
from sidecar.backends.base import JOURNAL
from sidecar.backends.local import LocalBackend
from tests.support.files import store_state, write_files
from tests.support.scenes import CrashRun

PLAN = {
    "pva": "plan/v1",
    "title": "Reorganise the Acme matter",
    "scope": ["m"],
    "ops": [
        {"op": "mkdir", "path": "m/custodians/alice", "parents": True},
        {"op": "move", "src": "m/inbox", "dst": "m/custodians/alice/inbox"},
        {"op": "rename", "path": "m/custodians/alice/inbox/1.pdf", "name": "0001 Contract.pdf"},
        {"op": "rename", "path": "m/custodians/alice/inbox/2.pdf", "name": "0002 Letter.pdf"},
        {"op": "write", "path": "m/custodians/alice/index.csv", "content": "file\n0001\n0002\n"},
        {
            "op": "write",
            "path": "m/notes.txt",
            "content": "revised notes",
            "overwrite": True,
            "expect": {"sha256": hashlib.sha256(b"old notes").hexdigest()},
        },
        {"op": "copy", "src": "m/templates", "dst": "m/custodians/alice/templates"},
        {"op": "delete", "path": "m/Thumbs.db"},
    ],
}


FILES = {
    "m/inbox/1.pdf": b"contract",
    "m/inbox/2.pdf": b"letter",
    "m/inbox/sub/3.pdf": b"memo",
    "m/notes.txt": b"old notes",
    "m/templates/cover.docx": b"cover",
    "m/templates/letterhead.docx": b"letterhead",
    "m/Thumbs.db": b"junk",
}


def visible(root: Path) -> list[tuple[str, str]]:
    """Every store entry outside .pva/, as (path, sha256 or 'dir')."""
    return sorted(store_state(root).items())


def trashed(root: Path) -> list[str]:
    """Contents (sha256) of every file in the trash."""
    trash = root / ".pva" / "trash"
    if not trash.exists():
        return []
    return sorted(hashlib.sha256(p.read_bytes()).hexdigest() for p in trash.rglob("*") if p.is_file())


def contents(root: Path) -> Counter[str]:
    """Every file's content in the store and its trash together: nothing may vanish or double."""
    return Counter([sha for _, sha in visible(root) if sha != "dir"] + trashed(root))


class Scene:
    """A pristine store and migrated database, copied fresh for each crash."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.store = write_files(base / "pristine" / "store", FILES)
        self.database = base / "pristine" / "audit.db"
        db.upgrade(f"sqlite:///{self.database}")
        self.plan = base / "plan.json"
        self.plan.write_text(json.dumps(PLAN))
        self.before = visible(self.store)
        self.before_contents = contents(self.store)
        clean = self.copy("clean")
        points = clean.run("apply", -1)
        assert points.returncode == 0, points.stderr
        self.apply_points: list[str] = json.loads(points.stdout)
        self.after = visible(clean.store)
        self.after_contents = contents(clean.store)

    def copy(self, name: str) -> Run:
        target = self.base / name
        shutil.copytree(self.base / "pristine", target)
        return Run(target / "store", target / "audit.db", self.plan)


class Run(CrashRun):
    """One copy of the scene: a store folder and its SQLite audit, driven by tests.crash.runner."""

    runner = "tests.crash.runner"
    timeout = 60

    def __init__(self, store: Path, database: Path, plan: Path) -> None:
        super().__init__(f"sqlite:///{database}", plan)
        self.store = store

    def where(self) -> list[str]:
        return [str(self.store)]

    def backend(self) -> LocalBackend:
        return LocalBackend(self.store)

    def journals(self) -> Path:
        return self.store


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory) -> Scene:
    return Scene(tmp_path_factory.mktemp("crash"))


def assert_settled(scene: Scene, run: Run) -> None:
    state = visible(run.store)
    assert state in (scene.before, scene.after), "the store is neither the before nor the after state"
    outcomes = run.outcomes()
    assert len(outcomes) == 1, outcomes
    if state == scene.after:
        assert outcomes == ["apply:applied"]
        assert contents(run.store) == scene.after_contents
    else:
        assert outcomes == ["apply:failed"]
        assert contents(run.store) == scene.before_contents
    assert list((run.store / JOURNAL).glob("*.jsonl")) == []
    assert not any((run.store / ".pva" / "staging").rglob("*.*"))


def test_the_clean_run_passes_every_kind_of_crash_point(scene: Scene) -> None:
    """The plan's apply crosses staging, intent, every step, batch records, commit and cleanup."""
    labels = {label.split()[0] for label in scene.apply_points}
    assert {"staged", "intent", "step", "batch", "commit", "audited", "checked", "done"} <= labels
    assert scene.before != scene.after


def test_kill_at_every_apply_step_then_recover(scene: Scene) -> None:
    """kill -9 at each crash point of an apply; recovery leaves exactly before or after."""
    for number, label in enumerate(scene.apply_points):
        run = scene.copy(f"apply-{number}")
        killed = run.run("apply", number)
        assert killed.returncode == -9, f"{label}: {killed.stderr[-2000:]}"
        run.recover_here()
        assert_settled(scene, run)


@pytest.mark.parametrize(
    "where",
    [
        "step 4",  # rolled back
        "commit",  # rolled forward
        pytest.param("intent", marks=pytest.mark.slow),
        pytest.param("batch 2", marks=pytest.mark.slow),
    ],
)
def test_kill_recovery_at_each_of_its_steps(scene: Scene, where: str) -> None:
    """Recovery killed at any of its own steps can be run again and still settles the apply."""
    crash = scene.apply_points.index(where)
    probe = scene.copy(f"probe-{where}")
    assert probe.run("apply", crash).returncode == -9
    counted = probe.run("recover", -1)
    assert counted.returncode == 0, counted.stderr
    recovery_points = json.loads(counted.stdout)
    assert recovery_points, "recovery passed no crash points"
    for number, label in enumerate(recovery_points):
        run = scene.copy(f"recover-{where}-{number}")
        assert run.run("apply", crash).returncode == -9
        killed = run.run("recover", number)
        assert killed.returncode == -9, f"{label}: {killed.stderr[-2000:]}"
        run.recover_here()
        assert_settled(scene, run)
