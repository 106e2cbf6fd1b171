"""Stateful tests of the GCS backend: the in-memory tree is the oracle, the bucket must agree.

The machines of ``test_local_vs_tree`` with the GCS backend (on the faithful
test server, real google-cloud-storage client) in place of the local folder,
and the server's objects (read directly, no client) as the backdoor.
Generations are the store's to give, so reads are compared without them.
"""

from __future__ import annotations

import shutil
from dataclasses import replace

from hypothesis import event, settings
from hypothesis import strategies as st
from hypothesis.stateful import invariant, precondition, rule

from planner.core.builder import PlanBuilder
from planner.core.entry import Entry
from planner.core.paths import join
from planner.core.report import Code
from planner.core.tree import Tree, tree_of
from planner.core.verify import simulate
from sidecar.apply.direct import DirectOps
from sidecar.apply.engine import Engine
from sidecar.apply.journal import FileJournals
from sidecar.audit.memory import MemoryAudit
from tests.gcs.fixtures import bucket_state, new_bucket, open_gcs, seed, shared_server, staged
from tests.stateful.test_local_vs_tree import (
    BUDGET,
    FILE_OPS_SETTINGS,
    PLAN_SETTINGS,
    SCOPE,
    SEED,
    LocalVsTree,
    PlanDrawer,
    PlansThroughEngine,
    fresh_folder,
    sha,
    tree_state,
)


def bare(entry: Entry | None) -> Entry | None:
    return None if entry is None else replace(entry, mtime=None, generation=None)


class GcsVsTree(LocalVsTree):
    """Random file operations applied to the tree (the oracle) and to a bucket alike."""

    def __init__(self) -> None:  # replaces the local folder with a bucket
        super(LocalVsTree, self).__init__()
        self.state = fresh_folder()
        self.server = shared_server()
        self.bucket = new_bucket(self.server)
        self.backend = open_gcs(self.server, self.bucket, self.state)  # type: ignore[assignment]
        self.local = DirectOps(self.backend)
        self.tree = Tree()

    def teardown(self) -> None:
        self.backend.close()
        shutil.rmtree(self.state, ignore_errors=True)

    @rule(parent=LocalVsTree.parents, name=LocalVsTree.names)
    def read(self, parent: str, name: str) -> None:
        """stat, collision, deepest and walk of a path and its parent read the same from both."""
        path = join(parent, name)
        for probe in (parent, path):
            assert bare(self.local.stat(probe)) == self.tree.stat(probe)
            assert self.local.collision(probe) == self.tree.collision(probe)
            assert self.local.deepest(probe) == self.tree.deepest(probe)
            assert [bare(e) for e in self.local.walk(probe)] == list(self.tree.walk(probe))

    @invariant()
    def same_state(self) -> None:
        """The bucket (by the backdoor and by the backend's walk) holds exactly what the tree holds."""
        assert bucket_state(self.server, self.bucket, "store") == tree_state(self.tree)
        assert [bare(e) for e in self.backend.walk("")] == list(self.tree.walk())
        assert staged(self.server, self.bucket, "store") == []


# Every step is HTTP round trips to the test server: a tenth of the local machines' budget under
# the deep profile (50 machines of 60 ops, 25 of 25 plans), the same as the local ones otherwise.
GCS_FILE_OPS_SETTINGS = settings(FILE_OPS_SETTINGS, max_examples=max(10, BUDGET // 20))
GCS_PLAN_SETTINGS = settings(PLAN_SETTINGS, max_examples=max(5, BUDGET // 40))


class TestGcsVsTree(GcsVsTree.TestCase):  # type: ignore[misc,valid-type]  # hypothesis types TestCase as an attribute
    """DirectOps over the GCS backend agrees with the in-memory tree after every random op."""

    settings = GCS_FILE_OPS_SETTINGS


class GcsPlansThroughEngine(PlansThroughEngine):
    """Random plans of one to four ops applied by the engine to a bucket, checked against the prediction."""

    def __init__(self) -> None:  # replaces the local folder with a bucket
        super(PlansThroughEngine, self).__init__()
        self.root = fresh_folder()  # local state: journals
        self.server = shared_server()
        self.bucket = new_bucket(self.server)
        seed(self.server, self.bucket, "store", SEED)
        self.tree = tree_of(
            Entry(path, "dir") if data is None else Entry(path, "file", len(data), sha(data))
            for path, data in SEED.items()
        )
        self.backend = open_gcs(self.server, self.bucket, self.root)  # type: ignore[assignment]
        self.audit = MemoryAudit()
        self.engine = Engine(self.backend, self.audit, FileJournals(self.root))
        self.applies = 0

    def state(self) -> dict[str, str]:
        return bucket_state(self.server, self.bucket, "store")

    @rule(data=st.data(), size=st.integers(min_value=1, max_value=4))
    def apply_a_plan(self, data: st.DataObject, size: int) -> None:
        """Apply a random plan: as predicted when the verifier accepts it, nothing changed when it refuses."""
        self.applies += 1
        builder = PlanBuilder(f"plan {self.applies}", scope=[SCOPE])
        drawer = PlanDrawer(data, self.tree)
        kinds = [drawer.add(builder) for _ in range(size)]
        plan = builder.build()
        simulation = simulate(plan, self.tree)
        report = simulation.report
        codes = sorted({d.code.value for d in report.errors})
        expected = "applied" if report.ok else "stale" if Code.PRECONDITION_FAILED in codes else "failed"
        before = self.state()
        record = self.engine.apply(plan, actor="hypothesis")
        event(f"{len(kinds)} ops: {record.status}")
        assert self.audit.incidents == []
        assert record.status == expected, f"{record.message}; the verifier said {codes}"
        if report.ok:
            assert self.state() == tree_state(simulation.tree)
            self.tree = simulation.tree
        else:
            assert self.state() == before

    @precondition(lambda self: self.applies > 0)
    @invariant()
    def nothing_left_over(self) -> None:
        """After every apply no journal is open and the staging area is empty."""
        assert self.engine.journals.names() == []
        assert staged(self.server, self.bucket, "store") == []


class TestGcsPlansThroughEngine(GcsPlansThroughEngine.TestCase):  # type: ignore[misc,valid-type]  # hypothesis types TestCase as an attribute
    """The engine applies to a bucket exactly what the verifier predicts, and nothing when it refuses."""

    settings = GCS_PLAN_SETTINGS
