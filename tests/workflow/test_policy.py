"""The approval policy: the issue's example, first-match order, segment-wise globs, sizes, authors, errors."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

from planner import Entry, Plan, Report, verify
from sidecar.policy import (
    Decision,
    Policy,
    PolicyError,
    covers,
    decide,
    glob_problem,
    parse_policy,
    policy_from,
    touched_paths,
)
from sidecar.tokens import Principal, Role

from .cases import AGENT, ALICE, DELETE_ONE, FILE_INBOX, FILE_TO_CUSTODIAN, plan, sha, store

DOCS = Path(__file__).resolve().parents[2] / "docs"
EXAMPLE = DOCS / "policy.example.toml"
MB = 1_000_000


def example() -> Policy:
    return parse_policy(EXAMPLE.read_text(encoding="utf-8"))


def write_of(size: int, path: str = "matters/acme/inbox/big.bin") -> tuple[Plan, Report]:
    """A content_ref write of ``size`` bytes, verified with the blob's size known."""
    blob = sha(f"blob {size}")
    big = plan({"op": "write", "path": path, "content_ref": blob})
    return big, verify(big, store(), blobs={blob: size})


def decided(policy: Policy, p: Plan, author: Principal = AGENT) -> Decision:
    return decide(p, verify(p, store()), author, policy)


def rules(*bodies: dict[str, Any], default: dict[str, Any] | None = None) -> Policy:
    document: dict[str, Any] = {"rules": [{"name": f"r{i}", **body} for i, body in enumerate(bodies)]}
    if default is not None:
        document["default"] = default
    return policy_from(document)


AUTO = {"outcome": "auto_approve"}


# -- the example ------------------------------------------------------


def test_example_policy_loads_with_its_three_rules() -> None:
    """docs/policy.example.toml is a valid policy with the issue's three rules, in order."""
    policy = example()
    assert [rule.name for rule in policy.rules] == ["large-writes", "deletes", "inbox-filing"]
    assert not policy.is_empty
    assert policy.default.approvals == 1


def test_example_auto_approves_mkdir_and_move_inside_an_inbox() -> None:
    """A plan of mkdirs and moves that stays inside matters/*/inbox is approved by the inbox rule."""
    decision = decided(example(), FILE_INBOX)
    assert (decision.outcome, decision.rule_name, decision.approvals_needed) == (
        "auto_approve",
        "inbox-filing",
        0,
    )


def test_example_needs_one_approver_for_a_move_out_of_the_inbox() -> None:
    """A move whose destination lies outside the inbox is not inbox filing: the default, one approver."""
    decision = decided(example(), FILE_TO_CUSTODIAN)
    assert (decision.outcome, decision.rule_name, decision.approvals_needed) == ("require_approvals", None, 1)


def test_example_needs_two_approvers_for_any_delete() -> None:
    """A delete needs two approvers, even inside an inbox and next to ops the inbox rule allows."""
    mixed = plan(
        {"op": "mkdir", "path": "matters/acme/inbox/sorted"},
        {"op": "delete", "path": "matters/acme/inbox/0002.pdf"},
    )
    for p in (DELETE_ONE, mixed):
        decision = decided(example(), p)
        assert (decision.outcome, decision.rule_name, decision.approvals_needed) == (
            "require_approvals",
            "deletes",
            2,
        )


def test_example_denies_writes_over_100_mb() -> None:
    """A write one byte over 100 MB is denied with the rule's message; exactly 100 MB is not."""
    over, report = write_of(100 * MB + 1)
    decision = decide(over, report, AGENT, example())
    assert (decision.outcome, decision.rule_name, decision.approvals_needed) == ("deny", "large-writes", 0)
    assert "more than 100 MB" in decision.reason
    limit, report = write_of(100 * MB)
    assert decide(limit, report, AGENT, example()).rule_name is None


def test_example_counts_copied_bytes_as_written() -> None:
    """Bytes a plan copies count towards the 100 MB limit like bytes it writes."""
    tree = store(Entry("matters/acme/big.iso", "file", 100 * MB + 1, sha("iso")))
    copy = plan({"op": "copy", "src": "matters/acme/big.iso", "dst": "matters/acme/inbox/big.iso"})
    assert decide(copy, verify(copy, tree), AGENT, example()).rule_name == "large-writes"


def test_example_denies_a_large_write_before_counting_deletes() -> None:
    """First match wins: a plan that deletes and writes over 100 MB meets the deny rule first."""
    blob = sha("huge")
    both = plan(
        {"op": "delete", "path": "matters/acme/inbox/0002.pdf"},
        {"op": "write", "path": "matters/acme/inbox/huge.bin", "content_ref": blob},
    )
    decision = decide(both, verify(both, store(), blobs={blob: 200 * MB}), AGENT, example())
    assert decision.outcome == "deny"


# -- order, conditions --------------------------------------------------------


def test_first_matching_rule_decides() -> None:
    """Of two rules that both match, the earlier one decides; swapping them swaps the decision."""
    deny = {"ops_any": ["move"], "outcome": "deny", "message": "no"}
    two = {"ops_any": ["move"], "outcome": "require_approvals", "approvals": 2}
    assert decided(rules(deny, two), FILE_TO_CUSTODIAN).outcome == "deny"
    assert decided(rules(two, deny), FILE_TO_CUSTODIAN).approvals_needed == 2


def test_a_rule_matches_only_when_every_condition_holds() -> None:
    """A rule with an op condition that holds and a path condition that fails does not match."""
    policy = rules({"ops_all": ["move"], "paths_all": ["matters/*/inbox"], **AUTO})
    assert decided(policy, FILE_TO_CUSTODIAN).rule_name is None


def test_ops_all_needs_every_op_in_the_set_and_ops_any_one() -> None:
    """ops_all holds when every op is of a listed kind; ops_any when at least one is."""
    every = rules({"ops_all": ["mkdir"], **AUTO})
    some = rules({"ops_any": ["mkdir"], **AUTO})
    assert decided(every, FILE_INBOX).rule_name is None  # it also moves
    assert decided(some, FILE_INBOX).rule_name == "r0"
    assert decided(some, FILE_TO_CUSTODIAN).rule_name is None


def test_paths_all_needs_every_path_inside_and_paths_any_one() -> None:
    """paths_all holds when every touched path is inside a glob; paths_any when at least one is."""
    every = rules({"paths_all": ["matters/acme/custodians"], **AUTO})
    some = rules({"paths_any": ["matters/acme/custodians"], **AUTO})
    assert decided(every, FILE_TO_CUSTODIAN).rule_name is None  # the source is in the inbox
    assert decided(some, FILE_TO_CUSTODIAN).rule_name == "r0"
    assert decided(some, FILE_INBOX).rule_name is None


def test_a_copy_source_counts_as_a_touched_path() -> None:
    """Copying out of a subtree touches it: a paths_any deny on the source fires."""
    policy = rules(
        {"paths_any": ["matters/*/templates"], "outcome": "deny", "message": "templates are read-only"}
    )
    copy = plan({"op": "copy", "src": "matters/acme/templates/cover.docx", "dst": "matters/acme/cover.docx"})
    assert decided(policy, copy).outcome == "deny"


def test_a_rename_target_counts_as_a_touched_path() -> None:
    """Renaming the inbox folder itself names a path outside it, so an inbox-only rule does not match."""
    policy = rules({"paths_all": ["matters/*/inbox"], **AUTO})
    inside = plan({"op": "rename", "path": "matters/acme/inbox/0001.pdf", "name": "a.pdf"})
    away = plan({"op": "rename", "path": "matters/acme/inbox", "name": "outbox"})
    assert touched_paths(away) == ("matters/acme/inbox", "matters/acme/outbox")
    assert decided(policy, inside).rule_name == "r0"
    assert decided(policy, away).rule_name is None


@pytest.mark.parametrize(
    ("low", "high", "count", "holds"),
    [(2, None, 2, True), (3, None, 2, False), (None, 2, 2, True), (None, 1, 2, False), (2, 2, 2, True)],
)
def test_op_count_bounds_are_inclusive(low: int | None, high: int | None, count: int, holds: bool) -> None:
    """min_ops and max_ops bound the number of ops, both ends included."""
    body: dict[str, Any] = {**AUTO}
    body.update({key: value for key, value in (("min_ops", low), ("max_ops", high)) if value is not None})
    two_ops = FILE_INBOX
    assert len(two_ops.ops) == count
    assert (decided(rules(body), two_ops).rule_name == "r0") is holds


def test_byte_bounds_are_inclusive() -> None:
    """min_bytes and max_bytes bound written plus copied bytes, both ends included."""
    policy = rules({"min_bytes": 10, "max_bytes": 20, **AUTO})
    for size, holds in ((9, False), (10, True), (20, True), (21, False)):
        p, report = write_of(size)
        assert (decide(p, report, AGENT, policy).rule_name == "r0") is holds, size


def test_unknown_sizes_meet_every_minimum_and_no_maximum() -> None:
    """A blob size the report could not check counts as any size: deny-over fires, allow-under does not."""
    blob = sha("unknown")
    p = plan({"op": "write", "path": "matters/acme/inbox/x.bin", "content_ref": blob})
    report = verify(p, store())  # no blob sizes: an 'unverified' warning, bytes_written 0
    assert report.effect.bytes_written == 0
    assert decide(p, report, AGENT, example()).rule_name == "large-writes"
    small_only = rules({"max_bytes": 1000, **AUTO})
    assert decide(p, report, AGENT, small_only).rule_name is None


def test_author_rules_match_by_name_and_by_role() -> None:
    """authors matches the submitter's name, author_roles their role; both must hold when both are set."""
    by_name = rules({"authors": ["agent-7"], **AUTO})
    by_role = rules({"author_roles": ["approver", "admin"], **AUTO})
    both = rules({"authors": ["agent-7"], "author_roles": ["approver"], **AUTO})
    assert decided(by_name, FILE_INBOX, AGENT).rule_name == "r0"
    assert decided(by_name, FILE_INBOX, ALICE).rule_name is None
    assert decided(by_role, FILE_INBOX, ALICE).rule_name == "r0"
    assert decided(by_role, FILE_INBOX, AGENT).rule_name is None
    assert decided(both, FILE_INBOX, AGENT).rule_name is None


def test_policy_roles_are_the_token_roles() -> None:
    """The role names a policy accepts are exactly the roles tokens carry."""
    for role in Role:
        assert rules({"author_roles": [role.value], **AUTO}).rules[0].author_roles == [role.value]
    with pytest.raises(PolicyError):
        rules({"author_roles": ["superuser"], **AUTO})


def test_decision_reason_names_the_rule_and_its_description() -> None:
    """The reason shown with the plan names the rule that fired, its description and its verdict."""
    decision = decided(example(), DELETE_ONE)
    assert decision.reason == "rule 'deletes' (any delete) requires 2 approvals"
    assert decided(example(), FILE_TO_CUSTODIAN).reason == "no rule matched; the default requires 1 approval"


# -- globs ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("glob", "path", "covered"),
    [
        ("matters/*/inbox", "matters/acme/inbox", True),
        ("matters/*/inbox", "matters/acme/inbox/x.pdf", True),
        ("matters/*/inbox", "matters/acme/inbox/a/b/c.pdf", True),
        ("matters/*/inbox", "matters/acme", False),
        ("matters/*/inbox", "matters/acme/sub/inbox/x.pdf", False),  # '*' is one segment
        ("matters/*/inbox", "matters/acme/inbox-old/x.pdf", False),
        ("matters/acme", "matters/acme/x", True),
        ("matters/acme", "matters/acme-evil", False),
        ("matters/acme", "matters/acme-evil/x", False),
        ("matters/acme", "matters/acm", False),
        ("matters/**/privileged", "matters/privileged/x", True),  # '**' may be no segment
        ("matters/**/privileged", "matters/a/b/privileged", True),
        ("matters/**/privileged", "matters/a/privileged-not/x", False),
        ("**", "anything/at/all", True),
        ("matters/*.pdf", "matters/a.pdf", True),
        ("matters/*.pdf", "matters/a.pdf.txt", False),
        ("matters/smith-*", "matters/smith-v-jones/inbox", True),
        ("matters/smith-*", "matters/jones-v-smith", False),
        ("matters/*/Inbox", "matters/acme/INBOX/x", True),  # compared by collision key
        ("matters/r\u00e9sum\u00e9", "matters/re\u0301sume\u0301/x", True),  # NFC and NFD are one name
        ("*", "matters", True),
    ],
)
def test_globs_cover_a_path_or_its_ancestors_segment_by_segment(glob: str, path: str, covered: bool) -> None:
    """A glob covers a path when it matches the path or an ancestor, one segment per '*', never by prefix."""
    assert covers(glob, path) is covered


@pytest.mark.parametrize(
    ("glob", "words"),
    [
        ("", "empty"),
        ("/matters", "absolute"),
        ("matters/", "ends with '/'"),
        ("matters\\acme", "backslash"),
        ("matters//acme", "empty segment"),
        ("matters/../etc", "'..'"),
        ("./matters", "'.'"),
        ("matters/a**", "whole segment"),
        ("matters/?", "'?'"),
        ("matters/CON", "Windows device"),
    ],
)
def test_bad_globs_are_refused_with_a_reason(glob: str, words: str) -> None:
    """Absolute, '..', empty-segment and otherwise impossible globs are refused, saying why."""
    problem = glob_problem(glob)
    assert problem is not None
    assert words in problem


# -- reading and validation ----------------------------------------------------


def test_empty_policy_needs_one_approval_and_is_detectable() -> None:
    """An empty file is the empty policy: every plan needs one approver, and is_empty says so."""
    policy = parse_policy("")
    assert policy.is_empty
    assert policy == Policy()
    assert decided(policy, FILE_INBOX) == Decision(
        outcome="require_approvals",
        approvals_needed=1,
        rule_name=None,
        reason="no rule matched; the default requires 1 approval",
    )


def test_a_default_can_be_set_but_rules_alone_make_a_policy_non_empty() -> None:
    """A file with only a [default] is still empty (no rule), with its own default."""
    policy = parse_policy('[default]\noutcome = "deny"\nmessage = "closed for audit"\n')
    assert policy.is_empty
    assert decided(policy, FILE_INBOX).outcome == "deny"


def test_json_and_toml_documents_validate_alike() -> None:
    """policy_from takes the parsed document, so the same policy written as JSON loads the same."""
    from_toml = example()
    document = json.loads(json.dumps(tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))))
    assert policy_from(document) == from_toml


BAD_POLICIES = [
    (
        '[[rules]]\nname = "a"\nops_any = ["delete"]\noutcome = "auto_approve"\ncolour = "red"\n',
        "unknown field 'colour'",
    ),
    ('[[rules]]\nname = "a"\npaths_all = ["/etc"]\noutcome = "auto_approve"\n', "absolute"),
    ('[[rules]]\nname = "a"\npaths_any = ["matters/../x"]\noutcome = "auto_approve"\n', "'..'"),
    (
        '[[rules]]\nname = "a"\nops_any = ["delete"]\noutcome = "require_approvals"\napprovals = 0\n',
        "greater than or equal to 1",
    ),
    ('[[rules]]\nname = "a"\nops_any = ["delete"]\noutcome = "require_approvals"\n', "'approvals'"),
    ('[[rules]]\nname = "a"\nops_any = ["delete"]\noutcome = "auto_approve"\napprovals = 2\n', "'approvals'"),
    ('[[rules]]\nname = "a"\nops_any = ["delete"]\noutcome = "deny"\n', "'message'"),
    (
        '[[rules]]\nname = "a"\nops_any = ["delete"]\noutcome = "require_approvals"\napprovals = 1.5\n',
        "integer",
    ),
    ('[[rules]]\nname = "a"\nmin_ops = true\noutcome = "auto_approve"\n', "integer"),
    ('[[rules]]\nname = "a"\nops_any = ["zap"]\noutcome = "auto_approve"\n', "'delete'"),
    ('[[rules]]\nname = "a"\nops_any = []\noutcome = "auto_approve"\n', "at least 1 item"),
    ('[[rules]]\nname = "a"\noutcome = "auto_approve"\n', "no condition"),
    ('[[rules]]\nname = "a"\nmin_bytes = 5\nmax_bytes = 4\noutcome = "auto_approve"\n', "above max_bytes"),
    ('[[rules]]\nname = "a"\nops_any = ["delete"]\noutcome = "maybe"\n', "'auto_approve'"),
]


@pytest.mark.parametrize(("text", "words"), BAD_POLICIES)
def test_invalid_rules_are_refused_naming_the_rule(text: str, words: str) -> None:
    """Each kind of invalid rule is refused with a message that names the rule and says what is wrong."""
    with pytest.raises(PolicyError) as caught:
        parse_policy(text)
    assert caught.value.exit_code == 2
    assert len(caught.value.problems) == 1, caught.value.problems
    assert caught.value.problems[0].startswith("rule 'a' (rules[0])"), caught.value.problems
    assert words in caught.value.problems[0]


def test_empty_rule_names_are_refused() -> None:
    """A rule named by an empty or blank string is refused, pointing at its position."""
    for name in ("", " ", " padded"):
        text = f'[[rules]]\nname = "{name}"\nops_any = ["delete"]\noutcome = "auto_approve"\n'
        with pytest.raises(PolicyError, match=re.escape("rules[0]")):
            parse_policy(text)


def test_duplicate_rule_names_are_refused() -> None:
    """Two rules with one name are refused, naming the rule and both positions."""
    rule = '[[rules]]\nname = "same"\nops_any = ["delete"]\noutcome = "auto_approve"\n'
    with pytest.raises(PolicyError) as caught:
        parse_policy(rule + rule)
    assert caught.value.problems == [
        "rule 'same' (rules[1]): the name is taken by rules[0]; rule names must be unique"
    ]


def test_every_problem_is_listed_at_once() -> None:
    """A policy with several broken rules lists a problem for each, not only the first."""
    text = (
        '[[rules]]\nname = "one"\npaths_all = ["/x"]\noutcome = "auto_approve"\n'
        '[[rules]]\nname = "two"\nops_any = ["zap"]\noutcome = "auto_approve"\n'
        "surprise = 1\n"
    )
    with pytest.raises(PolicyError) as caught:
        parse_policy(text)
    assert [problem.split(":")[0] for problem in caught.value.problems] == [
        "rule 'one' (rules[0])",
        "rule 'two' (rules[1])",
        "rule 'two' (rules[1])",
    ]
    assert str(caught.value).endswith("(and 2 more)")


def test_top_level_problems_name_their_field() -> None:
    """A wrong version, an unknown top-level field and bad TOML are refused with a clear message."""
    cases = {
        'version = "policy/v2"\n': "version: Input should be 'policy/v1'",
        "rule = []\n": "unknown field 'rule'",
        "[[rules]\n": "not valid TOML",
    }
    for text, words in cases.items():
        with pytest.raises(PolicyError) as caught:
            parse_policy(text)
        assert words in caught.value.problems[0]


def test_docs_show_the_example_policy_verbatim() -> None:
    """docs/workflow.md shows docs/policy.example.toml verbatim, so the documented example is tested."""
    text = (DOCS / "workflow.md").read_text(encoding="utf-8")
    blocks = re.findall(r"^```toml\n(.*?)^```$", text, re.MULTILINE | re.DOTALL)
    assert EXAMPLE.read_text(encoding="utf-8") in blocks
