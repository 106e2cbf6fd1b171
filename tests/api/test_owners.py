"""Owners, groups and enforcement levels end to end over the real app (SQLite and PostgreSQL).

A plan whose ops need the approvals of two groups (the owners of what they
touch) applies only once a member of each has approved, and the plan's view
says, op by op, whose approval is still missing. A rule with
``enforcement = "require_override"`` denies a plan an admin may override
with a reason (audited); an ``advise`` rule is shown and decides nothing.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from planner.cli.status_views import status_view
from planner.client.models import PlanStatus
from tests.api.support import Api, MakeApi, sign_in, tree
from tests.support.plans import plan_doc

OWNERS = """
version = "policy/v1"

[default]
outcome = "require_approvals"
approvals = 1
owners_approvals = 1

[[owners]]
paths = ["matters/acme"]
group = "acme-partners"

[[owners]]
paths = ["matters/acme/inbox"]
group = "records"

[[rules]]
name = "big-folders"
description = "touches the inbox"
paths_any = ["matters/acme/inbox"]
outcome = "require_approvals"
approvals = 3
enforcement = "advise"

[[rules]]
name = "no-deletes"
ops_any = ["delete"]
outcome = "deny"
message = "deletes need an admin's override"
enforcement = "require_override"
"""

FILING = plan_doc(
    {"op": "mkdir", "path": "matters/acme/custodians/bob"},
    {"op": "move", "src": "matters/acme/inbox/0001.pdf", "dst": "matters/acme/custodians/bob/0001.pdf"},
    title="File 0001 for Bob",
)


@pytest.fixture
def owned(make_api: MakeApi, tmp_path: Path) -> Api:
    """The app under the OWNERS policy, with a partner, a records clerk and a member of both."""
    policy = tmp_path / "owners.toml"
    policy.write_text(OWNERS, encoding="utf-8")
    api = make_api(policy=str(policy))
    members = {"partner": ["acme-partners"], "clerk": ["records"], "both": ["acme-partners", "records"]}
    for name, groups in members.items():
        _, api.secrets[name] = api.services.tokens.create("approver", name, ["matters"], groups=groups)
    return api


def _needs(shown: dict[str, Any]) -> dict[str, tuple[int, list[int] | None]]:
    return {need["group"]: (need["more"], need["ops"]) for need in shown["needs"]}


def test_a_plan_needing_two_groups_applies_only_after_a_member_of_each_approves(owned: Api) -> None:
    plan_id = owned.submit(FILING)["id"]
    shown = owned.show(plan_id)
    assert shown["state"] == "pending"
    assert _needs(shown) == {"acme-partners": (1, [0, 1]), "records": (1, [1])}
    assert "1 of acme-partners, 1 of records" in shown["decision"]["reason"]

    assert owned.decide(plan_id, "approve", "approver")["state"] == "pending"  # no group: counts for no group
    refused = owned.post(f"/v1/plans/{plan_id}/apply", "admin")
    assert refused.status_code == 409  # still pending: nothing applies before the groups approve
    assert owned.decide(plan_id, "approve", "partner")["state"] == "pending"
    assert _needs(owned.show(plan_id)) == {"records": (1, [1])}
    sign_in(owned, "clerk")
    page = owned.client.get(f"/plans/{plan_id}").text
    cells = re.findall(r'<td class="needs">(.*?)</td>', page)
    assert cells == ['<span class="muted">no more approvals</span>', "<p>1 more of records</p>"]
    assert "1 more of records (ops 2)" in page
    assert "partner (acme-partners) approved" in page
    view = status_view(PlanStatus.model_validate(owned.show(plan_id)))
    assert "  needs:     1 more of records for ops 2" in view.splitlines()
    assert any(line.startswith("  approval:  partner (acme-partners) at ") for line in view.splitlines())
    before = tree(owned.root)
    assert before["matters/acme/inbox/0001.pdf"] is not None

    done = owned.decide(plan_id, "approve", "clerk")
    assert done["state"] == "applied"
    assert done["needs"] == []
    assert [(a["approver"], a["groups"]) for a in done["approvals"]] == [
        ("approver", []),
        ("partner", ["acme-partners"]),
        ("clerk", ["records"]),
    ]
    assert "matters/acme/inbox/0001.pdf" not in tree(owned.root)


def test_one_member_of_both_groups_meets_both(owned: Api) -> None:
    plan_id = owned.submit(FILING)["id"]
    assert owned.decide(plan_id, "approve", "both")["state"] == "applied"


def test_the_authors_approval_never_counts_for_a_group(owned: Api) -> None:
    """A partner who submits the plan cannot approve it: the group still needs another member."""
    plan_id = owned.submit(FILING, "partner")["id"]
    refused = owned.post(f"/v1/plans/{plan_id}/approve", "partner", json={"comment": "mine"})
    assert refused.status_code == 403
    assert owned.decide(plan_id, "approve", "clerk")["state"] == "pending"
    assert _needs(owned.show(plan_id)) == {"acme-partners": (1, [0, 1])}


def test_an_admin_overrides_a_require_override_deny_with_a_reason_and_it_is_audited(owned: Api) -> None:
    doc = plan_doc({"op": "delete", "path": "matters/acme/inbox/Thumbs.db"}, title="Remove the cache")
    denied = owned.submit(doc)
    assert denied["state"] == "rejected"
    assert (denied["decision"]["rule_name"], denied["decision"]["overridable"]) == ("no-deletes", True)
    assert denied["decision"]["advice"] == ["rule 'big-folders' (touches the inbox) requires 3 approvals"]
    plan_id = denied["id"]
    for who, status in (("approver", 403), ("agent", 403)):
        answer = owned.post(f"/v1/plans/{plan_id}/override", who, json={"comment": "please"})
        assert answer.status_code == status, answer.text

    overridden = owned.decide(plan_id, "override", "admin", comment="the client asked in writing")
    assert overridden["state"] == "pending"
    assert overridden["decision"]["rule_name"] is None  # the default decides now
    [note] = overridden["decision"]["overrides"]
    assert (note["rule_name"], note["actor"], note["reason"]) == (
        "no-deletes",
        "admin",
        "the client asked in writing",
    )
    events = owned.get("/v1/audit", "auditor", params={"plan": plan_id}).json()["events"]
    said = [
        e["payload"] for e in events if e["kind"] == "workflow" and e["payload"].get("action") == "override"
    ]
    assert said == [
        {
            "action": "override",
            "status": "pending",
            "rule": "no-deletes",
            "reason": "the client asked in writing",
        }
    ]
    again = owned.post(f"/v1/plans/{plan_id}/override", "admin", json={"comment": "twice"})
    assert again.status_code == 409  # only a plan a require_override rule denies

    assert owned.decide(plan_id, "approve", "both")["state"] == "applied"
    assert "matters/acme/inbox/Thumbs.db" not in tree(owned.root)


def test_a_hard_deny_cannot_be_overridden(make_api: MakeApi, tmp_path: Path) -> None:
    policy = tmp_path / "hard.toml"
    policy.write_text(OWNERS.replace('enforcement = "require_override"\n', ""), encoding="utf-8")
    api = make_api(policy=str(policy))
    doc = plan_doc({"op": "delete", "path": "matters/acme/inbox/Thumbs.db"}, title="Remove the cache")
    denied = api.submit(doc)
    assert (denied["state"], denied["decision"]["overridable"]) == ("rejected", False)
    answer = api.post(f"/v1/plans/{denied['id']}/override", "admin", json={"comment": "please"})
    assert answer.status_code == 409
    assert "require_override" in answer.json()["error"]["message"]
