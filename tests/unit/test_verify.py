"""The verifier's semantics: each diagnostic code, the effect and the inverse plan."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from planner import Code, Entry, Limits, Plan, PlanBuilder, PlanSyntaxError, Report, simulate, tree_of, verify
from planner.core.tree import Tree
from tests.support.plans import make_plan


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def store() -> Tree:
    """A small matter folder: an inbox with two documents, a template, an empty folder."""
    return tree_of(
        [
            Entry("m/inbox/1.pdf", "file", 5, sha("one")),
            Entry("m/inbox/2.pdf", "file", 5, sha("two")),
            Entry("m/templates/cover.docx", "file", 9, sha("cover")),
            Entry("m/Reports", "dir"),
            Entry("other/secret.txt", "file", 6, sha("secret")),
        ]
    )


def plan(*ops: dict[str, Any], scope: tuple[str, ...] = ("m",)) -> Plan:
    return make_plan(*ops, scope=scope)


def codes(report: Report) -> list[tuple[str, int | None]]:
    return [(d.code.value, d.op_index) for d in report.diagnostics]


def test_valid_plan_reports_ok_with_no_diagnostics() -> None:
    """A plan whose every op fits the tree verifies ok with no diagnostics."""
    report = verify(
        plan(
            {"op": "mkdir", "path": "m/alice"},
            {"op": "move", "src": "m/inbox/1.pdf", "dst": "m/alice/1.pdf"},
        ),
        store(),
    )
    assert report.ok
    assert report.diagnostics == []
    assert [(t.src, t.dst) for t in report.effect.moved] == [("m/inbox/1.pdf", "m/alice/1.pdf")]


def test_missing_source_is_not_found() -> None:
    """Moving a path that does not exist is not_found on the op's src."""
    report = verify(plan({"op": "move", "src": "m/inbox/9.pdf", "dst": "m/9.pdf"}), store())
    assert codes(report) == [("not_found", 0)]
    assert report.diagnostics[0].field == "src"
    assert not report.ok


def test_missing_source_hints_at_case_variant() -> None:
    """A missing path that differs from an existing one only by case says which one exists."""
    report = verify(plan({"op": "delete", "path": "m/reports"}), store())
    assert codes(report) == [("not_found", 0)]
    assert "'m/Reports'" in report.diagnostics[0].message


def test_existing_destination_is_already_exists() -> None:
    """A move onto an existing file without overwrite is already_exists."""
    report = verify(plan({"op": "move", "src": "m/inbox/1.pdf", "dst": "m/inbox/2.pdf"}), store())
    assert codes(report) == [("already_exists", 0)]
    assert "overwrite" in report.diagnostics[0].message


def test_missing_parent_is_parent_not_found() -> None:
    """Writing into a folder that does not exist is parent_not_found on the parent path."""
    report = verify(plan({"op": "write", "path": "m/nope/x.txt", "content": "x"}), store())
    assert codes(report) == [("parent_not_found", 0)]
    assert report.diagnostics[0].path == "m/nope"


def test_file_used_as_folder_is_not_a_directory() -> None:
    """Creating a path below a file is not_a_directory."""
    report = verify(plan({"op": "mkdir", "path": "m/inbox/1.pdf/sub"}), store())
    assert codes(report) == [("not_a_directory", 0)]


def test_mkdir_parents_through_a_file_is_not_a_directory() -> None:
    """mkdir with parents stops at an existing file in the chain and says so."""
    report = verify(plan({"op": "mkdir", "path": "m/inbox/1.pdf/a/b", "parents": True}), store())
    assert codes(report) == [("not_a_directory", 0)]


def test_overwriting_a_folder_is_is_a_directory() -> None:
    """overwrite replaces files only: a folder destination is is_a_directory."""
    report = verify(
        plan(
            {
                "op": "move",
                "src": "m/inbox/1.pdf",
                "dst": "m/Reports",
                "overwrite": True,
                "expect_dst": {"sha256": sha("x")},
            }
        ),
        store(),
    )
    assert ("is_a_directory", 0) in codes(report)


def test_move_into_itself_is_into_itself() -> None:
    """A folder cannot move below itself."""
    report = verify(plan({"op": "move", "src": "m/inbox", "dst": "m/inbox/sub/inbox"}), store())
    assert codes(report) == [("into_itself", 0)]


def test_copy_into_itself_is_into_itself() -> None:
    """A folder cannot be copied below itself."""
    report = verify(plan({"op": "copy", "src": "m/inbox", "dst": "m/inbox/again"}), store())
    assert codes(report) == [("into_itself", 0)]


def test_sibling_prefix_is_not_into_itself() -> None:
    """m/inbox-old is a sibling of m/inbox, not inside it: segment containment, not prefix."""
    report = verify(plan({"op": "move", "src": "m/inbox", "dst": "m/inbox-old"}), store())
    assert report.ok


def test_case_variant_of_existing_name_is_name_collision() -> None:
    """Creating a name that folds to an existing sibling's name is name_collision."""
    report = verify(plan({"op": "mkdir", "path": "m/REPORTS"}), store())
    assert codes(report) == [("name_collision", 0)]


def test_case_only_rename_is_allowed() -> None:
    """Renaming a file to a case variant of its own name does not collide with itself."""
    simulation = simulate(plan({"op": "rename", "path": "m/inbox/1.pdf", "name": "1.PDF"}), store())
    assert simulation.report.ok
    assert simulation.tree.stat("m/inbox/1.PDF") is not None
    assert simulation.tree.stat("m/inbox/1.pdf") is None


def test_path_outside_scope_is_out_of_scope() -> None:
    """A path outside every scope root is out_of_scope and is not simulated."""
    report = verify(plan({"op": "delete", "path": "other/secret.txt"}), store())
    assert codes(report) == [("out_of_scope", 0)]
    assert report.effect.deleted == []


def test_scope_outside_token_scope_is_out_of_scope() -> None:
    """A plan scope root outside the caller's allowed subtrees is out_of_scope for the plan."""
    report = verify(plan({"op": "mkdir", "path": "m/x"}), store(), allowed=["m/inbox"])
    assert ("out_of_scope", None) in codes(report)
    assert ("out_of_scope", 0) in codes(report)


def test_rename_out_of_scope_root_is_out_of_scope() -> None:
    """Renaming the scope root itself would leave the scope: out_of_scope on the new name."""
    report = verify(plan({"op": "rename", "path": "m/inbox", "name": "box"}, scope=("m/inbox",)), store())
    assert codes(report) == [("out_of_scope", 0)]
    assert report.diagnostics[0].field == "name"


@pytest.mark.parametrize(
    ("expect", "code"),
    [
        ({"sha256": sha("one")}, None),
        ({"sha256": sha("nope")}, "precondition_failed"),
        ({"size": 5}, None),
        ({"size": 6}, "precondition_failed"),
        ({"absent": True}, "precondition_failed"),
    ],
    ids=["sha-match", "sha-mismatch", "size-match", "size-mismatch", "absent-but-present"],
)
def test_expect_is_checked_against_the_tree(expect: dict[str, Any], code: str | None) -> None:
    """Stated preconditions on a source are compared with the tree's metadata."""
    report = verify(plan({"op": "move", "src": "m/inbox/1.pdf", "dst": "m/1.pdf", "expect": expect}), store())
    assert codes(report) == ([] if code is None else [(code, 0)])


def test_unknown_metadata_is_an_unverified_warning() -> None:
    """A generation the tree does not know is a warning, not an error: the sidecar checks it."""
    report = verify(plan({"op": "delete", "path": "m/inbox/1.pdf", "expect": {"generation": 7}}), store())
    assert report.ok
    assert [(d.code, d.severity) for d in report.diagnostics] == [(Code.UNVERIFIED, "warning")]


def test_two_ops_creating_one_path_conflict() -> None:
    """Two ops that create the same path conflict, naming the earlier op."""
    report = verify(
        plan(
            {"op": "write", "path": "m/a.txt", "content": "1"},
            {"op": "copy", "src": "m/inbox/1.pdf", "dst": "m/a.txt"},
        ),
        store(),
    )
    assert ("conflict", 1) in codes(report)
    conflict = next(d for d in report.diagnostics if d.code == Code.CONFLICT)
    assert "op 0" in conflict.message


def test_pinned_overwrite_of_a_created_path_is_not_a_conflict() -> None:
    """Overwriting, with expect, a file an earlier op wrote is deliberate, not a conflict."""
    report = verify(
        plan(
            {"op": "write", "path": "m/a.txt", "content": "1"},
            {
                "op": "write",
                "path": "m/a.txt",
                "content": "2",
                "overwrite": True,
                "expect": {"sha256": sha("1")},
            },
        ),
        store(),
    )
    assert report.ok, report.diagnostics


def test_creating_a_path_again_after_it_was_vacated_is_allowed() -> None:
    """A path an earlier op created and a later op moved away can be created again."""
    report = verify(
        plan(
            {"op": "write", "path": "m/a.txt", "content": "1"},
            {"op": "move", "src": "m/a.txt", "dst": "m/b.txt"},
            {"op": "write", "path": "m/a.txt", "content": "2"},
        ),
        store(),
    )
    assert report.ok, report.diagnostics


def test_copy_cannot_make_a_case_variant_of_its_source() -> None:
    """Copying a file to a case variant of its own name is name_collision (only moves are exempt)."""
    report = verify(plan({"op": "copy", "src": "m/inbox/1.pdf", "dst": "m/inbox/1.PDF"}), store())
    assert codes(report) == [("name_collision", 0)]


def test_move_onto_itself_is_already_exists() -> None:
    """Moving a path to itself does nothing and is reported as already_exists."""
    report = verify(plan({"op": "move", "src": "m/inbox/1.pdf", "dst": "m/inbox/1.pdf"}), store())
    assert codes(report) == [("already_exists", 0)]


def test_op_on_path_moved_away_is_conflict() -> None:
    """Using a path an earlier op moved away is a conflict, not a bare not_found."""
    report = verify(
        plan(
            {"op": "move", "src": "m/inbox", "dst": "m/archive"},
            {"op": "delete", "path": "m/inbox/1.pdf"},
        ),
        store(),
    )
    assert codes(report) == [("conflict", 1)]
    assert "op 0" in report.diagnostics[0].message


def test_two_spellings_of_one_name_conflict() -> None:
    """Referring to one new folder by two spellings in one plan is a conflict."""
    report = verify(
        plan(
            {"op": "mkdir", "path": "m/Alice"},
            {"op": "move", "src": "m/inbox/1.pdf", "dst": "m/alice"},
        ),
        store(),
    )
    assert ("conflict", 1) in codes(report)


def test_repeated_mkdir_parents_is_not_a_conflict() -> None:
    """mkdir with parents of a folder that exists (even one the plan made) is a no-op."""
    report = verify(
        plan(
            {"op": "mkdir", "path": "m/c/alice", "parents": True},
            {"op": "mkdir", "path": "m/c/alice", "parents": True},
        ),
        store(),
    )
    assert report.ok
    assert report.effect.created == ["m/c", "m/c/alice"]


def test_mkdir_of_existing_folder_without_parents_is_already_exists() -> None:
    """Plain mkdir of an existing folder is already_exists and suggests parents."""
    report = verify(plan({"op": "mkdir", "path": "m/Reports"}), store())
    assert codes(report) == [("already_exists", 0)]
    assert "parents" in report.diagnostics[0].message


def test_too_many_ops_is_too_large() -> None:
    """A plan over the op limit is too_large for the plan as a whole."""
    report = verify(
        plan({"op": "mkdir", "path": "m/a"}, {"op": "mkdir", "path": "m/b"}),
        store(),
        limits=Limits(max_ops=1),
    )
    assert ("too_large", None) in codes(report)


def test_large_inline_content_is_too_large() -> None:
    """Inline content over the limit is too_large and suggests content_ref."""
    report = verify(
        plan({"op": "write", "path": "m/big.txt", "content": "x" * 11}),
        store(),
        limits=Limits(max_inline_bytes=10),
    )
    assert codes(report) == [("too_large", 0)]
    assert "content_ref" in report.diagnostics[0].message


def test_unknown_blob_is_not_found_when_blobs_are_known() -> None:
    """A content_ref to a blob the sidecar does not hold is not_found on content_ref."""
    ref = sha("blob")
    report = verify(plan({"op": "write", "path": "m/b.bin", "content_ref": ref}), store(), blobs={})
    assert codes(report) == [("not_found", 0)]
    assert report.diagnostics[0].field == "content_ref"
    assert verify(plan({"op": "write", "path": "m/b.bin", "content_ref": ref}), store(), blobs={ref: 4}).ok


def test_every_diagnostic_is_collected_not_only_the_first() -> None:
    """The verifier keeps going after an error and reports every failing op."""
    report = verify(
        plan(
            {"op": "move", "src": "m/nope", "dst": "m/x"},
            {"op": "write", "path": "m/inbox/1.pdf", "content": "x"},
            {"op": "delete", "path": "other/secret.txt"},
        ),
        store(),
    )
    assert codes(report) == [("not_found", 0), ("already_exists", 1), ("out_of_scope", 2)]


def test_failed_op_is_not_simulated() -> None:
    """An op with an error leaves the state unchanged, so later ops see the store without it."""
    report = verify(
        plan(
            {"op": "mkdir", "path": "m/x/y"},
            {"op": "write", "path": "m/x/y/z.txt", "content": "z"},
        ),
        store(),
    )
    assert codes(report) == [("parent_not_found", 0), ("parent_not_found", 1)]


def test_verify_does_not_change_the_tree() -> None:
    """verify is pure: the tree passed in is the same after it."""
    tree = store()
    before = list(tree.walk())
    verify(plan({"op": "move", "src": "m/inbox", "dst": "m/box"}, {"op": "delete", "path": "m/box"}), tree)
    assert list(tree.walk()) == before


def test_effect_counts_and_bytes() -> None:
    """The effect counts ops by kind and adds up the bytes written and copied."""
    report = verify(
        plan(
            {"op": "write", "path": "m/index.csv", "content": "héllo"},
            {"op": "copy", "src": "m/templates", "dst": "m/t2"},
            {"op": "delete", "path": "m/inbox"},
        ),
        store(),
    )
    effect = report.effect
    assert effect.counts == {"mkdir": 0, "move": 0, "rename": 0, "write": 1, "copy": 1, "delete": 1}
    assert effect.bytes_written == len("héllo".encode())
    assert effect.bytes_copied == 9
    assert effect.files_deleted == 2
    assert effect.created == ["m/index.csv", "m/t2"]


def test_overwrite_is_reported_and_inverted() -> None:
    """An overwriting write is listed as overwritten and its inverse restores the old content."""
    report = verify(
        plan(
            {
                "op": "write",
                "path": "m/inbox/1.pdf",
                "content": "new",
                "overwrite": True,
                "expect": {"sha256": sha("one")},
            }
        ),
        store(),
    )
    assert report.effect.overwritten == ["m/inbox/1.pdf"]
    assert report.inverse is not None
    (undo,) = report.inverse["ops"]
    assert undo["content_ref"] == sha("one")
    assert undo["expect"] == {"sha256": sha("new")}


def test_inverse_undoes_the_plan() -> None:
    """Applying the inverse to the predicted tree gives back the original tree."""
    tree = store()
    forward = simulate(
        plan(
            {"op": "mkdir", "path": "m/c/alice", "parents": True},
            {"op": "move", "src": "m/inbox/1.pdf", "dst": "m/c/alice/1.pdf"},
            {"op": "rename", "path": "m/inbox/2.pdf", "name": "Two.pdf"},
            {"op": "copy", "src": "m/templates", "dst": "m/c/templates"},
            {"op": "delete", "path": "m/inbox"},
        ),
        tree,
    )
    inverse = forward.report.inverse_plan()
    assert inverse is not None
    blobs = {e.sha256: e.size for e in tree.walk() if e.sha256 is not None and e.size is not None}
    back = simulate(inverse, forward.tree, blobs=blobs)
    assert back.report.ok, back.report.diagnostics
    assert back.tree == tree


def test_inverse_without_hashes_warns_no_inverse() -> None:
    """Deleting a file whose hash the tree lacks warns that the inverse cannot restore it."""
    tree = tree_of([Entry("m/a.txt", "file", 3)])
    report = verify(plan({"op": "delete", "path": "m/a.txt"}), tree)
    assert report.ok
    assert [d.code for d in report.warnings] == [Code.NO_INVERSE]
    assert report.inverse is None


def test_builder_builds_the_same_plan_as_json() -> None:
    """PlanBuilder produces the plan (and digest) the equivalent JSON document gives."""
    built = (
        PlanBuilder("t", scope=["m"])
        .mkdir("m/a", parents=True)
        .write("m/a/b.bin", b"\x00\x01")
        .move(
            "m/inbox/1.pdf", "m/a/1.pdf", reason="why", expect=Entry("m/inbox/1.pdf", "file", 5, sha("one"))
        )
        .build()
    )
    document = plan(
        {"op": "mkdir", "path": "m/a", "parents": True},
        {"op": "write", "path": "m/a/b.bin", "content": "AAE=", "encoding": "base64"},
        {
            "op": "move",
            "src": "m/inbox/1.pdf",
            "dst": "m/a/1.pdf",
            "reason": "why",
            "expect": {"sha256": sha("one"), "size": 5},
        },
    )
    assert built.digest() == document.digest()
    assert verify(built, store()).ok


def test_sibling_with_scope_as_prefix_is_out_of_scope() -> None:
    """Scope 'm/inbox' does not contain 'm/inbox-evil': containment is by segment."""
    tree = tree_of([Entry("m/inbox/1.pdf", "file", 1), Entry("m/inbox-evil/x", "file", 1)])
    report = verify(plan({"op": "delete", "path": "m/inbox-evil/x"}, scope=("m/inbox",)), tree)
    assert codes(report) == [("out_of_scope", 0)]


@pytest.mark.parametrize("kind", ["move", "copy"])
def test_folder_contents_cannot_outgrow_the_path_limit(kind: str) -> None:
    """Moving or copying a folder to a longer path is invalid_path if its contents would pass 1024 bytes."""
    deep = "m/" + "/".join(["d" * 200] * 4)  # below m/dd..d: 611 bytes of descendants
    far = "m/" + "y" * 250  # a destination of 453 bytes: 453 + 1 + 611 > 1024
    tree = tree_of([Entry(f"{deep}/leaf.txt", "file", 1), Entry(far, "dir")])
    too_far = plan({"op": kind, "src": "m/" + "d" * 200, "dst": far + "/" + "z" * 200})
    report = verify(too_far, tree)
    assert codes(report) == [("invalid_path", 0)]
    assert "1024" in report.diagnostics[0].message
    fine = plan({"op": kind, "src": "m/" + "d" * 200, "dst": "m/e"})
    assert verify(fine, tree).ok


def test_deepest_is_cached_only_on_shared_folders() -> None:
    """Tree.deepest follows changes to folders the tree owns and caches shared ones."""
    tree = tree_of([Entry("a/bb/ccc", "file", 1)])
    assert tree.deepest("a") == len("bb/ccc")
    tree.put_file("a/bb/much-longer-name", 1, None)
    assert tree.deepest("a") == len("bb/much-longer-name")
    fork = tree.fork()
    assert fork.deepest("a") == len("bb/much-longer-name")
    fork.delete("a/bb/much-longer-name")
    assert fork.deepest("a") == len("bb/ccc")
    assert tree.deepest("a") == len("bb/much-longer-name")


def test_builder_raises_plan_syntax_error_for_a_malformed_plan() -> None:
    """PlanBuilder.build reports malformed plans as PlanSyntaxError with JSON locations."""
    with pytest.raises(PlanSyntaxError) as error:
        PlanBuilder("t", scope=["m", "m"]).write("m/a", "x", overwrite=True).build()
    locations = {problem.location for problem in error.value.problems}
    assert "/scope" in locations or "/ops/0" in locations
