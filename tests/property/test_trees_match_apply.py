"""Property: the Before and After trees a person reviews are the store before and after the apply.

Hypothesis draws a small store and a plan over it. The sidecar's engine
verifies it against a real backend (memory, or a local folder), the base is
stored as the service stores it (JSON, and back), and the trees are built
from it exactly as the page, the API and the CLI build them. Then the plan
is applied; every row of the Before tree must match the store before, every
row of the After tree the store read back after, path for path (kind, size,
and sha256 where the row has one). The plan that undoes it (a revert plan,
restoring from the trash by ``content_ref``) is held to the same rule.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from hypothesis import assume, event, given

from planner.core.plan import Plan, Write
from planner.core.treeview import TreeRow
from sidecar.apply.engine import Engine
from sidecar.apply.journal import FileJournals
from sidecar.audit.memory import MemoryAudit
from sidecar.backends.base import Backend
from sidecar.backends.local import LocalBackend
from sidecar.backends.memory import MemoryBackend
from sidecar.service.cases import stored_trees
from sidecar.service.codec import base_from, base_json
from tests.property.strategies import Store, cases

Seen = dict[str, tuple[str, int | None, str | None]]  # path -> (kind, size, sha256)


@contextmanager
def memory_store(store: Store) -> Iterator[tuple[Backend, Path]]:
    backend = MemoryBackend()
    for path, data in sorted(store.entries.items()):
        if data is None:
            backend.tree.make_dir(path)
        else:
            backend.put(path, data)
    with tempfile.TemporaryDirectory() as journals:
        yield backend, Path(journals)


@contextmanager
def local_store(store: Store) -> Iterator[tuple[Backend, Path]]:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        for path, data in sorted(store.entries.items()):
            if data is None:
                (root / path).mkdir()
            else:
                (root / path).write_bytes(data)
        with LocalBackend(root) as backend:
            yield backend, root


STORES = {"memory": memory_store, "local": local_store}


def seen(backend: Backend) -> Seen:
    return {e.path: (e.kind, e.size, e.sha256) for e in backend.walk("")}


def agrees(row: TreeRow, store: Seen) -> bool:
    found = store.get(row.path)
    if found is None:
        return False
    kind, size, sha256 = found
    return (
        kind == ("dir" if row.is_dir else "file")
        and (row.is_dir or row.size == size)
        and (row.sha256 is None or row.sha256 == sha256)
    )


def reviewed_then_applied(engine: Engine, plan: Plan) -> dict[str, Any] | None:
    """Verify, store and show ``plan`` as the service does, apply it, and check both trees; its inverse."""
    simulation, footprint = engine.examine(plan)
    event("verified" if simulation.report.ok else "refused by the verifier")
    if not simulation.report.ok:
        return None
    base = json.loads(json.dumps(base_json(footprint, simulation.changes)))  # as the database holds it
    report = json.loads(simulation.report.model_dump_json())
    shown = stored_trees(base, report)
    before = seen(engine.backend)
    wrong_before = [row.path for row in shown.before if not agrees(row, before)]
    assert wrong_before == [], wrong_before
    record = engine.apply(plan, actor="test", base=base_from(base))
    assert record.status == "applied", record.message
    after = seen(engine.backend)
    wrong_after = [row.path for row in shown.after if not agrees(row, after)]
    assert wrong_after == [], (wrong_after, plan.model_dump(mode="json"))
    effect = simulation.report.effect
    arrived = {
        *effect.created,
        *effect.written,
        *(t.dst for t in effect.moved),
        *(t.dst for t in effect.copied),
    }
    shown_after = {row.path for row in shown.after}
    assert {path for path in arrived if path in after} <= shown_after
    return record.inverse


@pytest.mark.parametrize("kind", sorted(STORES))
@given(case=cases(max_entries=10, max_ops=5))
def test_the_trees_a_person_reviews_are_the_store_before_and_after_the_apply(
    kind: str, case: tuple[Store, Plan]
) -> None:
    """Each Before row is the store before, each After row the store after; the same for the revert."""
    store, plan = case
    assume(not any(isinstance(op, Write) and op.content_ref is not None for op in plan.ops))
    with STORES[kind](store) as (backend, journals):
        engine = Engine(backend, MemoryAudit(), FileJournals(journals))
        inverse = reviewed_then_applied(engine, plan)
        if inverse is not None:
            reviewed_then_applied(engine, Plan.model_validate(inverse))


def test_rows_show_what_the_store_holds_for_each_named_entry() -> None:
    """The checker itself: a row with the wrong size or kind does not agree with the store."""
    store: Seen = {"m/a": ("file", 3, None), "m": ("dir", None, None)}
    assert agrees(TreeRow("m/a", "a", 1, is_dir=False, size=3), store)
    assert not agrees(TreeRow("m/a", "a", 1, is_dir=False, size=4), store)
    assert not agrees(TreeRow("m/a", "a", 1, is_dir=True, size=None), store)
    assert not agrees(TreeRow("m/b", "b", 1, is_dir=False, size=3), store)
