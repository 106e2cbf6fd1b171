"""Hostile but well-formed plans over HTTP: deep paths and content references get clear answers."""

from __future__ import annotations

from tests.api.support import Api, plan_doc, tree
from tests.unit.test_deep_paths import shallow_stack

DEEP = "matters/acme/" + "a/" * 499 + "a"  # 501 segments below matters/acme, under 1,024 bytes


def test_a_deep_path_is_verified_submitted_applied_and_reverted(api: Api) -> None:
    """A 501-segment mkdir, its copy and its delete verify, apply and revert over HTTP without recursion."""
    doc = plan_doc(
        {"op": "mkdir", "path": DEEP, "parents": True},
        {"op": "write", "path": DEEP + "/note.txt", "content": "deep"},
        {"op": "copy", "src": "matters/acme/a", "dst": "matters/acme/b"},
        {"op": "delete", "path": "matters/acme/a"},
        title="deep",
    )
    before = tree(api.root)
    with shallow_stack(headroom=300):
        verified = api.post("/v1/plans/verify", "agent", json=doc)
        assert verified.status_code == 200, verified.text
        assert verified.json()["ok"] is True
        plan_id = api.submit(doc)["id"]
        api.decide(plan_id, "approve", "approver")
        assert api.decide(plan_id, "approve", "approver-2")["state"] == "applied"
    copied = "matters/acme/b/" + "a/" * 498 + "a/note.txt"
    assert tree(api.root)[copied] == b"deep"
    with shallow_stack(headroom=300):
        reverted = api.post(f"/v1/plans/{plan_id}/revert", "agent")
        assert reverted.status_code == 201, reverted.text
        api.decide(reverted.json()["id"], "approve", "approver")
        assert api.decide(reverted.json()["id"], "approve", "approver-2")["state"] == "applied"
    assert tree(api.root) == before
