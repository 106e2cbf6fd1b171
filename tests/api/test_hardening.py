"""Hostile but well-formed plans over HTTP: deep paths and content references get clear answers."""

from __future__ import annotations

import json
from typing import cast

from fastapi import Request

from sidecar.edge.problems import pva_error
from sidecar.errors import CommittedError
from tests.api.support import SEED, Api, sha256, tree
from tests.support.plans import plan_doc
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


def test_a_content_ref_to_another_matters_trash_is_unknown_to_the_caller(api: Api) -> None:
    """A content_ref to content trashed outside the caller's scope is answered as unknown content is."""
    globex = SEED["matters/globex/inbox/g-0001.pdf"]
    assert globex is not None
    deleted = api.submit(
        plan_doc({"op": "delete", "path": "matters/globex/inbox/g-0001.pdf"}, scope=("matters/globex",)),
        "agent-globex",
    )["id"]
    api.decide(deleted, "approve", "approver")
    assert api.decide(deleted, "approve", "approver-2")["state"] == "applied"

    def answer(sha: str) -> list[tuple[str, str]]:
        doc = plan_doc({"op": "write", "path": "matters/acme/copy.pdf", "content_ref": sha}, title="ref")
        response = api.post("/v1/plans/verify", "agent", json=doc)
        assert response.status_code == 200, response.text
        return [(d["code"], d["message"].replace(sha, "SHA")) for d in response.json()["diagnostics"]]

    crossing, unknown = answer(sha256(globex)), answer(sha256(b"never stored anywhere"))
    assert crossing == unknown
    assert crossing
    assert crossing[0][0] == "not_found"
    doc = plan_doc(
        {"op": "write", "path": "matters/acme/copy.pdf", "content_ref": sha256(globex)}, title="ref"
    )
    assert api.submit(doc)["state"] == "rejected"
    assert "matters/acme/copy.pdf" not in tree(api.root)


def test_an_apply_stopped_after_its_commit_is_not_answered_as_a_refusal() -> None:
    """Over HTTP, an apply stopped after its commit point is a 503 that says the plan is applied."""
    error = CommittedError(
        "after the commit point: plan abc is applied and audited; recovery finishes the rest"
    )
    response = pva_error(cast("Request", None), error)
    assert response.status_code == 503
    body = json.loads(bytes(response.body))
    assert body["error"]["code"] == "applied_unfinished"
    assert "is applied" in body["error"]["message"]


def test_a_revert_refused_for_an_altered_trash_copy_shows_its_incident(api: Api) -> None:
    """The person applying a revert whose trash copy was altered sees why in the plan view: an incident."""
    drop = plan_doc({"op": "delete", "path": "matters/acme/inbox/0002.pdf"}, title="drop")
    deleted = api.submit(drop)["id"]
    api.decide(deleted, "approve", "approver")
    assert api.decide(deleted, "approve", "approver-2")["state"] == "applied"
    (copy,) = (api.root / ".pva" / "trash").rglob("0002.pdf")
    copy.write_bytes(b"%PDF forged")
    reverted = api.post(f"/v1/plans/{deleted}/revert", "agent")
    assert reverted.status_code == 201, reverted.text
    inverse = reverted.json()["id"]
    assert api.decide(inverse, "approve", "approver")["state"] == "failed"  # a restore needs one approval
    assert not (api.root / "matters/acme/inbox/0002.pdf").exists()
    shown = api.get(f"/v1/plans/{inverse}", "approver").json()
    (incident,) = shown["incidents"]
    assert "was altered" in incident["message"]
    assert incident["paths"] == [copy.relative_to(api.root).as_posix()]
    assert api.get(f"/v1/plans/{deleted}", "approver").json()["incidents"] == []
