"""Property: what a stale report says changed did change, and a change to what the ops name is caught.

Hypothesis draws a store and a plan; the engine verifies it (the base the
service stores), then one change is made to the store behind its back: a
file rewritten (same size or not), a file removed, a file added. The apply
that follows must say only true things: a path "appeared" was absent and is
now there, "was removed" was there and is gone, changed in any other way
holds other content. And when the change hit a file the plan names (or
reads whole), the apply is stale and nothing changed.
"""

from __future__ import annotations

import hashlib

from hypothesis import assume, given, note
from hypothesis import strategies as st

from planner.core.footprint import footprint, pinned
from planner.core.plan import Plan, Write
from sidecar.apply.engine import Engine
from sidecar.apply.journal import FileJournals
from sidecar.audit.memory import MemoryAudit
from sidecar.backends.memory import MemoryBackend
from tests.property.strategies import Store, cases
from tests.property.test_trees_match_apply import memory_store, seen

Change = tuple[str, str, bytes]  # (what, path, new bytes): rewrite, remove or add


@st.composite
def scenes(draw: st.DrawFn) -> tuple[Store, Plan, Change]:
    store, plan = draw(cases(max_entries=10, max_ops=4))
    files = sorted(path for path, data in store.entries.items() if data is not None)
    folders = sorted(path for path, data in store.entries.items() if data is None)
    what = draw(st.sampled_from(["rewrite", "remove", "add"] if files else ["add"]))
    if what == "add":
        path = f"{draw(st.sampled_from(folders))}/{draw(st.sampled_from(['new.txt', 'a', 'doc.pdf']))}"
        return store, plan, (what, path, b"added")
    path = draw(st.sampled_from(files))
    old = store.entries[path] or b""
    same_size = bytes((byte + 1) % 256 for byte in old)
    return store, plan, (what, path, draw(st.sampled_from([same_size, old + b"+"])))


def change(backend: MemoryBackend, made: Change) -> bool:
    """Make the change; False when it changes nothing (same bytes, or the path is taken)."""
    what, path, data = made
    existing = backend.tree.stat(path)
    if what == "add" or existing is None:
        if existing is not None:
            return False
        backend.put(path, data)
        return True
    if what == "rewrite" and existing.sha256 == hashlib.sha256(data).hexdigest():
        return False
    backend.tree.delete(path)
    if what == "rewrite":
        backend.put(path, data)
    return True


@given(scene=scenes())
def test_a_stale_report_says_only_true_things_and_misses_no_change_to_what_the_ops_name(
    scene: tuple[Store, Plan, Change],
) -> None:
    """Every line of a stale report is true, and a change to a bound file always makes the apply stale."""
    store, plan, made = scene
    assume(not any(isinstance(op, Write) and op.content_ref is not None for op in plan.ops))
    with memory_store(store) as (backend, journals):
        assert isinstance(backend, MemoryBackend)
        engine = Engine(backend, MemoryAudit(), FileJournals(journals))
        simulation, base = engine.examine(plan)
        assume(simulation.report.ok)
        bound = {entry.path for entry in pinned(base, footprint(plan)).walk()}
        before = seen(backend)
        assume(change(backend, made))
        now = seen(backend)
        record = engine.apply(plan, actor="test", base=base)
        note(f"store {store.entries}\nplan {plan.model_dump(mode='json', exclude_none=True)}\nchange {made}")
        if made[1] in bound:
            assert record.status == "stale", (made, record.message)
        if record.status != "stale":
            return
        assert seen(backend) == now  # nothing changed
        for problem in record.diagnostics:
            path, message = problem.path, problem.message
            if "appeared since" in message:
                assert path not in before, message
                assert path in now, message
            elif "was removed since" in message:
                assert path in before, message
                assert path not in now, message
            elif "since the plan was verified" in message:
                assert path in before, message
                assert path in now, message
                assert before[path] != now[path], message
