"""Approvals bind to the content of what the ops name: any change between verification and apply is stale.

The engine is given the footprint it read when the plan was verified (as the
service stores it at submit); a file the plan moves or renames is then
rewritten with the same number of bytes. On every backend (memory, a local
folder, a bucket on the faithful GCS server) the apply must come back
``stale``, name the path and say what changed, and change nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from planner.core.plan import Plan
from sidecar.apply.engine import Engine
from sidecar.apply.journal import FileJournals
from sidecar.audit.memory import MemoryAudit
from sidecar.backends.base import Backend
from sidecar.backends.local import LocalBackend
from sidecar.backends.memory import MemoryBackend
from tests.gcs.fixtures import new_bucket, open_gcs, put, seed, shared_server
from tests.support.files import write_files
from tests.support.plans import make_plan

FILES = {"m/in/1.pdf": b"one!", "m/in/2.pdf": b"two!", "m/done/z.pdf": b"zulu"}


@dataclass
class Scene:
    """A backend holding FILES, and a backdoor that rewrites a file behind its back."""

    backend: Backend
    rewrite: Callable[[str, bytes], object]
    journals: Path


def memory_scene(tmp_path: Path) -> Iterator[Scene]:
    backend = MemoryBackend()
    for path, data in FILES.items():
        backend.put(path, data)

    def rewrite(path: str, data: bytes) -> None:
        if backend.tree.kind(path) is not None:
            backend.tree.delete(path)
        backend.put(path, data)

    yield Scene(backend, rewrite, tmp_path)


def local_scene(tmp_path: Path) -> Iterator[Scene]:
    root = write_files(tmp_path / "store", FILES)
    with LocalBackend(root) as backend:
        yield Scene(backend, lambda path, data: (root / path).write_bytes(data), root)


def gcs_scene(tmp_path: Path) -> Iterator[Scene]:
    server = shared_server()
    bucket = new_bucket(server)
    seed(server, bucket, "store", {"m": None, "m/in": None, "m/done": None, **FILES})
    backend = open_gcs(server, bucket, tmp_path / "state")
    try:
        yield Scene(backend, lambda path, data: put(server, bucket, f"store/{path}", data), tmp_path)
    finally:
        backend.close()


SCENES = {"memory": memory_scene, "local": local_scene, "gcs": gcs_scene}


@pytest.fixture(params=sorted(SCENES))
def scene(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Scene]:
    yield from SCENES[request.param](tmp_path)


def plan(*ops: dict[str, Any]) -> Plan:
    return make_plan(*ops, scope=["m"])


def state(backend: Backend) -> dict[str, str | None]:
    return {e.path: e.sha256 for e in backend.walk("")}


@pytest.mark.parametrize(
    "op",
    [
        {"op": "move", "src": "m/in/1.pdf", "dst": "m/done/1.pdf"},
        {"op": "rename", "path": "m/in/1.pdf", "name": "0001 One.pdf"},
        {"op": "move", "src": "m/in", "dst": "m/done/in"},
    ],
    ids=["move", "rename", "folder-move"],
)
def test_a_same_size_rewrite_after_verification_makes_the_apply_stale(
    scene: Scene, op: dict[str, Any]
) -> None:
    """A file a move or rename names (or moves in its folder), rewritten same-size: stale, unchanged."""
    engine = Engine(scene.backend, MemoryAudit(), FileJournals(scene.journals))
    the_plan = plan(op)
    simulation, base = engine.examine(the_plan)
    assert simulation.report.ok, simulation.report.diagnostics
    scene.rewrite("m/in/1.pdf", b"ONE!")
    before = state(scene.backend)
    record = engine.apply(the_plan, actor="ops", base=base)
    assert record.status == "stale"
    (problem,) = record.diagnostics
    assert problem.path == "m/in/1.pdf"
    assert "1.pdf" in record.message
    assert "since the plan was verified" in problem.message
    assert state(scene.backend) == before


def test_an_unchanged_store_applies_with_the_base_it_was_verified_against(scene: Scene) -> None:
    """The same plan with nothing changed in between applies: the binding is not a false alarm."""
    engine = Engine(scene.backend, MemoryAudit(), FileJournals(scene.journals))
    the_plan = plan({"op": "move", "src": "m/in", "dst": "m/done/in"})
    _, base = engine.examine(the_plan)
    record = engine.apply(the_plan, actor="ops", base=base)
    assert record.status == "applied", record.message
    assert state(scene.backend)["m/done/in/1.pdf"] == hashlib.sha256(b"one!").hexdigest()


def test_a_path_that_appears_is_named_alone_not_the_folder_above_it(scene: Scene) -> None:
    """A file appearing where the plan makes a folder is reported; its existing parent never 'appeared'."""
    engine = Engine(scene.backend, MemoryAudit(), FileJournals(scene.journals))
    the_plan = plan({"op": "mkdir", "path": "m/done/new"})
    _, base = engine.examine(the_plan)
    scene.rewrite("m/done/new", b"in the way")
    record = engine.apply(the_plan, actor="ops", base=base)
    assert record.status == "stale"
    assert [d.path for d in record.diagnostics if "since the plan was verified" in d.message] == [
        "m/done/new"
    ]
