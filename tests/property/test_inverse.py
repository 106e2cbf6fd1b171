"""Property: a verified plan followed by its inverse gives back the tree it started from.

Also pins that verification is pure: it never changes the tree it is given
and says the same thing twice.
"""

from __future__ import annotations

import pytest
from hypothesis import event, example, given

from planner.core.ops import Change, CopyEntry, MakeDirs, MoveEntry, TrashEntry, WriteFile
from planner.core.plan import Plan, Write
from planner.core.report import Code
from planner.core.verify import simulate, verify
from tests.property.strategies import (
    BLOBS,
    CONTENTS,
    Store,
    cases,
    fold,
    plan_of,
    sha256,
)

A, B, C = CONTENTS[1], CONTENTS[2], CONTENTS[4]

# Hand-written cases that every run checks, so each op kind and variant is
# exercised whatever the random draw: mkdir with and without parents, moves of
# files and folders, an overwriting move, renames (one case-only), writes that
# create and overwrite, copies of a file and a folder, deletes of both.
FILING = (
    Store.of(**{"m/inbox/0001.pdf": A, "m/inbox/0002.pdf": B, "m/templates/cover.docx": C}),
    plan_of(
        [
            {"op": "mkdir", "path": "m/custodians/alice", "parents": True},
            {"op": "mkdir", "path": "m/custodians/bob"},
            {
                "op": "move",
                "src": "m/inbox/0001.pdf",
                "dst": "m/custodians/alice/0001.pdf",
                "expect": {"sha256": sha256(A)},
            },
            {"op": "rename", "path": "m/custodians/alice/0001.pdf", "name": "0001 Email re contract.pdf"},
            {
                "op": "write",
                "path": "m/custodians/alice/notes.txt",
                "content": "r\u00e9sum\u00e9 \u6587\u4ef6",
            },
            {"op": "copy", "src": "m/templates/cover.docx", "dst": "m/custodians/alice/cover.docx"},
        ]
    ),
)
TIDYING = (
    Store.of("m/old/empty", **{"m/old/x.txt": A, "m/index.csv": B, "m/a.pdf": A, "m/b.pdf": C}),
    plan_of(
        [
            {"op": "copy", "src": "m/old", "dst": "m/old copy"},
            {"op": "move", "src": "m/old", "dst": "m/archived"},
            {"op": "delete", "path": "m/archived"},
            {
                "op": "write",
                "path": "m/index.csv",
                "content": "ZmlsZQo=",
                "encoding": "base64",
                "overwrite": True,
                "expect": {"sha256": sha256(B)},
            },
            {
                "op": "move",
                "src": "m/a.pdf",
                "dst": "m/b.pdf",
                "overwrite": True,
                "expect_dst": {"sha256": sha256(C)},
            },
            {"op": "delete", "path": "m/old copy/x.txt", "expect": {"sha256": sha256(A)}},
        ]
    ),
)
RECASING = (
    Store.of("m/Dir", **{"m/a.pdf": A, "m/Dir/x": B}),
    plan_of(
        [
            {"op": "rename", "path": "m/a.pdf", "name": "A.pdf"},
            {"op": "move", "src": "m/Dir", "dst": "m/DIR"},
            {"op": "write", "path": "m/DIR/y", "content_ref": sha256(C)},
            {"op": "mkdir", "path": "m/DIR", "parents": True},
        ]
    ),
)
EXAMPLES = (FILING, TIDYING, RECASING)


def blob_sizes(store: Store, plan: Plan) -> dict[str, int]:
    """Sizes of every blob a plan or its inverse may name: the store's, uploads, inline writes."""
    written = [op.data() for op in plan.ops if isinstance(op, Write)]
    datas = [*store.contents(), *BLOBS.values(), *(d for d in written if d is not None)]
    return {sha256(data): len(data) for data in datas}


def variant(change: Change) -> str:
    """A label for what one resolved change does, e.g. 'move dir case-only'."""
    match change:
        case MakeDirs(paths=paths):
            return {0: "mkdir existing", 1: "mkdir"}.get(len(paths), "mkdir parents")
        case MoveEntry(src=src, dst=dst, entry=entry, replaced=replaced, rename=rename):
            label = f"{'rename' if rename else 'move'} {entry.kind}"
            return (
                label + (" overwrite" if replaced else "") + (" case-only" if fold(src) == fold(dst) else "")
            )
        case WriteFile(blob=blob, replaced=replaced):
            return f"write {'overwrite' if replaced else 'new'}" + ("" if blob.data else " content_ref")
        case CopyEntry(entries=entries):
            return f"copy {entries[0].kind}"
        case TrashEntry(removed=removed):
            return f"delete {removed[0].kind}"


def test_examples_verify_and_cover_every_op_kind() -> None:
    """The hand-written cases verify ok and use every op kind and variant the inverse must undo."""
    seen: set[str] = set()
    for store, plan in EXAMPLES:
        sim = simulate(plan, store.tree(), blobs=blob_sizes(store, plan))
        assert sim.report.ok, sim.report.errors
        seen.update(variant(change) for change in sim.changes)
    assert seen >= {
        "mkdir",
        "mkdir parents",
        "mkdir existing",
        "move file",
        "move dir",
        "move file overwrite",
        "move dir case-only",
        "rename file",
        "rename file case-only",
        "write new",
        "write new content_ref",
        "write overwrite",
        "copy file",
        "copy dir",
        "delete file",
        "delete dir",
    }


def assert_inverse_restores(store: Store, plan: Plan) -> bool:
    """If ``plan`` verifies, its inverse verifies on the result and gives back ``store``'s tree.

    Returns whether the plan verified.
    """
    tree = store.tree()
    blobs = blob_sizes(store, plan)
    sim = simulate(plan, tree, blobs=blobs)
    if not sim.report.ok:
        assert sim.report.inverse is None
        return False
    assert not [d for d in sim.report.diagnostics if d.code == Code.NO_INVERSE]
    inverse = sim.report.inverse_plan()
    if inverse is None:
        assert sim.tree == tree  # nothing to undo: the plan changed nothing
        return True
    undo = simulate(inverse, sim.tree, blobs=blobs)
    assert undo.report.ok, "\n".join(map(str, undo.report.errors)) + "\n" + inverse.to_json()
    assert list(undo.tree.walk()) == list(tree.walk())
    return True


@example(case=FILING)
@example(case=TIDYING)
@example(case=RECASING)
@given(case=cases())
def test_inverse_restores_the_original_tree(case: tuple[Store, Plan]) -> None:
    """Simulating an ok plan and then its inverse gives back exactly the original tree."""
    event("plan ok" if assert_inverse_restores(*case) else "plan rejected")


OLD = CONTENTS[1]
OVERWRITE = {
    "op": "write",
    "path": "m/a",
    "content": "new",
    "overwrite": True,
    "expect": {"sha256": sha256(OLD)},
}


@pytest.mark.parametrize(
    "ops",
    [
        [OVERWRITE, {"op": "rename", "path": "m/a", "name": "b"}],
        [OVERWRITE, {"op": "delete", "path": "m/a"}],
        [
            {"op": "delete", "path": "m/a"},
            {"op": "write", "path": "m/a", "content": "new"},
            {"op": "delete", "path": "m/a"},
        ],
    ],
    ids=["overwrite-rename", "overwrite-delete", "delete-write-delete"],
)
def test_inverse_may_write_a_path_twice(ops: list[dict[str, object]]) -> None:
    """An inverse that restores a file and then rewrites it (or the reverse) is not a conflict."""
    store = Store.of(**{"m/a": OLD})
    assert assert_inverse_restores(store, plan_of(ops))


def test_inverse_of_a_case_only_folder_rename_verifies() -> None:
    """Writing into a folder, recasing it and deleting it has an inverse that restores the tree."""
    store = Store.of("m/Dir")
    plan = plan_of(
        [
            {"op": "write", "path": "m/Dir/b", "content": "new"},
            {"op": "move", "src": "m/Dir", "dst": "m/DIR"},
            {"op": "delete", "path": "m/DIR"},
        ]
    )
    assert assert_inverse_restores(store, plan)


@given(case=cases())
def test_verify_leaves_its_input_tree_unchanged(case: tuple[Store, Plan]) -> None:
    """Verifying a plan, ok or not, never changes the tree passed in (nor does verifying its inverse)."""
    store, plan = case
    tree = store.tree()
    before = list(tree.walk())
    sim = simulate(plan, tree, blobs=blob_sizes(store, plan))
    assert list(tree.walk()) == before
    inverse = sim.report.inverse_plan()
    if inverse is not None:
        after = list(sim.tree.walk())
        simulate(inverse, sim.tree, blobs=blob_sizes(store, plan))
        assert list(sim.tree.walk()) == after
    assert list(tree.walk()) == before


@given(case=cases())
def test_verify_is_deterministic(case: tuple[Store, Plan]) -> None:
    """Verifying the same plan against the same tree twice gives the same report."""
    store, plan = case
    tree = store.tree()
    first = verify(plan, tree, blobs=blob_sizes(store, plan))
    second = verify(plan, tree, blobs=blob_sizes(store, plan))
    assert first == second
    assert first.model_dump_json() == second.model_dump_json()
