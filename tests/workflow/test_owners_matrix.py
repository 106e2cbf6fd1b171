"""The owners matrix: ops x owners x groups x approvers, against a plain statement of the rule.

Generated: owners (each of three folders owned by some of three groups), a
plan whose ops each touch some of the folders, approvers each in some of the
groups (one of them, perhaps, the plan's author), and the ``owners_approvals``
and ``approvals`` the policy asks for. The workflow's verdict (``is_authorised``)
and its per-op account (``op_needs``) must be what the rule says, written
here without the workflow's code: every op needs, from each group owning a
path it touches, N approvals by members who are not authors, and the plan
needs ``approvals`` distinct approvers in all.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from planner import Entry, Plan, Report, tree_of, verify
from sidecar.policy import parse_policy
from sidecar.workflow import NotAllowed, State, approve, is_authorised, op_needs, submit
from tests.workflow.cases import sha

FOLDERS = ("m/a", "m/b", "m/c")
GROUPS = ("g1", "g2", "g3")
NOW = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)


class Person:
    def __init__(self, name: str, role: str, groups: tuple[str, ...] = ()) -> None:
        self.name, self.role, self.groups = name, role, groups

    def may_touch(self, path: str) -> bool:  # noqa: ARG002  # the matrix is about groups, not scopes
        return True


def _policy(owners: dict[str, frozenset[str]], per_group: int, approvals: int) -> str:
    text = (
        f'[default]\noutcome = "require_approvals"\napprovals = {approvals}\nowners_approvals = {per_group}\n'
    )
    for folder, groups in owners.items():
        for group in sorted(groups):
            text += f'\n[[owners]]\npaths = ["{folder}"]\ngroup = "{group}"\n'
    return text


def _plan(ops: list[frozenset[str]]) -> Plan:
    body: list[dict[str, Any]] = [
        {"op": "write", "path": f"{min(folders)}/x{i}.txt", "content": "x"}
        if len(folders) == 1
        else {"op": "copy", "src": f"{min(folders)}/s{i}.txt", "dst": f"{max(folders)}/d{i}.txt"}
        for i, folders in enumerate(ops)
    ]
    return Plan.model_validate({"pva": "plan/v1", "title": "matrix", "scope": ["m"], "ops": body})


def _report(plan: Plan) -> Report:
    """The plan verified over the three folders, each holding the copies' sources."""
    sources = [Entry(f"{folder}/s{i}.txt", "file", 1, sha("s"), 1) for folder in FOLDERS for i in range(4)]
    return verify(plan, tree_of([*(Entry(folder, "dir") for folder in FOLDERS), *sources]))


def _touched(folders: frozenset[str]) -> frozenset[str]:
    """What an op of ``_plan`` touches: one folder (a write) or the first and last (a copy)."""
    ordered = sorted(folders)
    return frozenset({ordered[0], ordered[-1]})


folder_sets = st.frozensets(st.sampled_from(FOLDERS), min_size=1, max_size=2)
group_sets = st.frozensets(st.sampled_from(GROUPS), max_size=2)


@given(
    owners=st.fixed_dictionaries(dict.fromkeys(FOLDERS, group_sets)),
    ops=st.lists(folder_sets, min_size=1, max_size=4),
    people=st.lists(group_sets, min_size=0, max_size=4),
    author_approves=st.booleans(),
    per_group=st.integers(1, 2),
    approvals=st.integers(1, 3),
)
def test_the_verdict_and_each_ops_needs_are_the_rule(  # one parameter a dimension
    *,
    owners: dict[str, frozenset[str]],
    ops: list[frozenset[str]],
    people: list[frozenset[str]],
    author_approves: bool,
    per_group: int,
    approvals: int,
) -> None:
    plan = _plan(ops)
    policy = parse_policy(_policy(owners, per_group, approvals))
    author = Person("agent", "approver", ("g1", "g2", "g3"))  # in every group: must never count
    case = submit(plan, _report(plan), author=author, fingerprint="f", policy=policy, now=NOW, ttl=None)
    approvers = [Person(f"p{i}", "approver", tuple(sorted(groups))) for i, groups in enumerate(people)]
    for person in approvers:
        if not is_authorised(case, now=NOW, ttl=None):
            case = approve(case, person, now=NOW, ttl=None)
    counted = [set(p.groups) for p in approvers][: len(case.approvals)]

    # The rule, stated plainly.
    expected: dict[int, list[str]] = {}
    for index, folders in enumerate(ops):
        owning = sorted({group for folder in _touched(folders) for group in owners[folder]})
        for group in owning:
            have = sum(1 for groups in counted if group in groups)
            if have < per_group:
                expected.setdefault(index, []).append(f"{per_group - have} more of {group}")
    authorised = not expected and len(counted) >= approvals
    assert op_needs(case, len(ops), now=NOW, ttl=None) == dict(sorted(expected.items()))
    assert is_authorised(case, now=NOW, ttl=None) is authorised
    if author_approves and case.state is State.PENDING:  # refused outright, whatever their groups
        with pytest.raises(NotAllowed):
            approve(case, author, now=NOW, ttl=None)
