"""The /v1/plans endpoints end to end: real app, real local store, real database, asserting end state."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

from tests.api.support import SEED, Api, sha256, tree
from tests.support.plans import plan_doc

MOVE_TO_ALICE = plan_doc(
    {
        "op": "move",
        "src": "matters/acme/inbox/0001.pdf",
        "dst": "matters/acme/custodians/alice/0001.pdf",
        "expect": {"sha256": sha256(SEED["matters/acme/inbox/0001.pdf"] or b"")},
        "reason": "From: header names Alice",
    },
    title="File 0001 to Alice",
)
INBOX_FILING = plan_doc(
    {"op": "mkdir", "path": "matters/acme/inbox/sorted"},
    {"op": "move", "src": "matters/acme/inbox/0002.pdf", "dst": "matters/acme/inbox/sorted/0002.pdf"},
    title="Sort the inbox",
)
DELETE_THUMBS = plan_doc({"op": "delete", "path": "matters/acme/inbox/Thumbs.db"}, title="Drop Thumbs.db")
SEALED_WRITE = plan_doc(
    {"op": "write", "path": "matters/acme/sealed/note.txt", "content": "x"}, title="Write into sealed"
)
MISSING_MOVE = plan_doc(
    {"op": "move", "src": "matters/acme/inbox/9999.pdf", "dst": "matters/acme/custodians/alice/9999.pdf"},
    title="Move a document that is not there",
)


def events_of(api: Api, plan_id: str) -> list[dict[str, Any]]:
    response = api.get("/v1/audit", "auditor", params={"plan": plan_id, "limit": 1000})
    assert response.status_code == 200, response.text
    events: list[dict[str, Any]] = response.json()["events"]
    return events


def assert_chain_intact(api: Api) -> None:
    assert api.services.audit.verify_chain() is None


# -- verify -------------------------------------------------------------------


def test_verify_reports_the_effect_and_stores_nothing(api: Api) -> None:
    """Verify answers the report with its effect and inverse, and changes neither the store nor the audit."""
    before, chain = tree(api.root), api.get("/v1/audit", "admin").json()["events"]
    response = api.post("/v1/plans/verify", "agent", json=MOVE_TO_ALICE)
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["ok"] is True
    assert report["diagnostics"] == []
    assert report["inverse"]["ops"][0]["src"] == "matters/acme/custodians/alice/0001.pdf"
    assert tree(api.root) == before
    assert api.get("/v1/plans", "admin").json()["plans"] == []
    assert api.get("/v1/audit", "admin").json()["events"] == chain


def test_verify_collects_diagnostics_of_a_failing_plan(api: Api) -> None:
    """A plan that cannot apply verifies with ok false and a not_found diagnostic naming the op and path."""
    response = api.post("/v1/plans/verify", "agent", json=MISSING_MOVE)
    assert response.status_code == 200
    report = response.json()
    assert report["ok"] is False
    assert report["inverse"] is None
    [diagnostic] = report["diagnostics"]
    assert (diagnostic["code"], diagnostic["op_index"]) == ("not_found", 0)
    assert diagnostic["path"] == "matters/acme/inbox/9999.pdf"


# -- submit -------------------------------------------------------------------


def test_submit_new_plan_is_201_pending_under_the_default(api: Api) -> None:
    """A new plan no rule matches is created (201) pending, needing the default's one approval."""
    plan = api.submit(MOVE_TO_ALICE)
    assert plan["state"] == "pending"
    assert plan["author"] == "agent"
    assert plan["approvals_needed"] == 1
    assert plan["decision"]["rule_name"] is None
    assert plan["report"]["ok"] is True
    assert plan["id"] == plan["report"]["digest"]
    assert tree(api.root)["matters/acme/inbox/0001.pdf"] == SEED["matters/acme/inbox/0001.pdf"]


def test_submit_same_digest_again_is_200_with_the_same_plan(api: Api) -> None:
    """The same plan again answers 200 with the existing case; a second submitter joins its authors (201).

    The second agent could not see the plan, so it is answered as a fresh
    submission (the ethical wall: an answer never tells a hidden plan exists).
    """
    first = api.submit(MOVE_TO_ALICE)
    again = api.submit(MOVE_TO_ALICE, status=200)
    assert (again["id"], again["state"], again["submitted"]) == (first["id"], "pending", first["submitted"])
    joined = api.submit(MOVE_TO_ALICE, "agent-peer", status=201)
    assert joined["authors"] == ["agent", "agent-peer"]
    assert api.get(f"/v1/plans/{first['id']}", "agent-peer").status_code == 200
    assert len(api.get("/v1/plans", "admin").json()["plans"]) == 1


def test_submit_rejects_a_plan_that_fails_verification_with_its_diagnostics(api: Api) -> None:
    """A plan whose verification fails is stored rejected (201), with the diagnostics and no decision."""
    before = tree(api.root)
    plan = api.submit(MISSING_MOVE)
    assert plan["state"] == "rejected"
    assert plan["decision"] is None
    assert plan["rejection"] is None
    assert [d["code"] for d in plan["diagnostics"]] == ["not_found"]
    assert tree(api.root) == before
    assert_chain_intact(api)


def test_policy_rule_auto_approves_and_applies(api: Api) -> None:
    """A plan the inbox-filing rule matches is approved by policy and applied at once; the files moved."""
    answer = api.submit(INBOX_FILING)
    assert answer["state"] == "applying"  # approved by policy: its apply is queued at once
    plan = api.settle(answer["id"])
    assert plan["state"] == "applied"
    assert plan["decision"]["outcome"] == "auto_approve"
    assert plan["decision"]["rule_name"] == "inbox-filing"
    assert plan["approvals"] == []
    after = tree(api.root)
    assert "matters/acme/inbox/0002.pdf" not in after
    assert after["matters/acme/inbox/sorted/0002.pdf"] == SEED["matters/acme/inbox/0002.pdf"]
    assert [e["kind"] for e in events_of(api, plan["id"])].count("apply") == 1
    assert_chain_intact(api)


def test_policy_rule_denies(api: Api) -> None:
    """A plan a deny rule matches is rejected with the rule's message, and nothing is written."""
    before = tree(api.root)
    plan = api.submit(SEALED_WRITE)
    assert plan["state"] == "rejected"
    assert plan["decision"]["outcome"] == "deny"
    assert "sealed folders are never changed" in plan["decision"]["reason"]
    assert tree(api.root) == before
    response = api.post(f"/v1/plans/{plan['id']}/approve", "approver", json={"comment": "please"})
    assert response.status_code == 409


# -- list and show ------------------------------------------------------------


def test_list_filters_by_state_author_and_path(manual: Api) -> None:
    """GET /v1/plans filters by state (any of several), author and scope path; an agent lists only its own."""
    pending = manual.submit(MOVE_TO_ALICE)["id"]
    rejected = manual.submit(MISSING_MOVE, "agent-peer")["id"]
    filed = manual.submit(INBOX_FILING, "admin")["id"]  # approved by policy, not applied (auto_apply off)
    globex = manual.submit(
        plan_doc({"op": "mkdir", "path": "matters/globex/new"}, scope=("matters/globex",)), "agent-globex"
    )["id"]

    def ids(who: str, **params: Any) -> list[str]:
        response = manual.get("/v1/plans", who, params=params)
        assert response.status_code == 200, response.text
        return [plan["id"] for plan in response.json()["plans"]]

    assert ids("admin") == [globex, filed, rejected, pending]  # newest first
    assert ids("admin", state="pending") == [globex, pending]
    assert ids("admin", state=["rejected", "approved"]) == [filed, rejected]
    assert ids("admin", author="agent-peer") == [rejected]
    assert ids("admin", path="matters/acme/inbox") == [filed, rejected, pending]
    assert ids("admin", path="matters/globex") == [globex]
    assert ids("admin", path="matters") == [globex, filed, rejected, pending]  # scopes inside it count
    assert ids("admin", path="matters/other") == []
    assert ids("agent") == [pending]
    assert ids("approver-other") == []
    assert ids("auditor", state="applied") == []


def test_an_agent_listing_another_author_gets_nothing(api: Api) -> None:
    """An agent filtering by another author's name gets an empty page, not their plans (and never a 500)."""
    api.submit(MOVE_TO_ALICE, "agent-peer")
    response = api.get("/v1/plans", "agent", params={"author": "agent-peer"})
    assert response.status_code == 200, response.text
    assert response.json()["plans"] == []


def test_list_pages_with_before(manual: Api) -> None:
    """Paging with limit and next_before visits every plan once, newest first, and ends with null."""
    made = [manual.submit(manual.fresh_mkdir())["id"] for _ in range(5)]
    seen: list[str] = []
    params: dict[str, Any] = {"limit": 2}
    while True:
        page = manual.get("/v1/plans", "agent", params=params).json()
        seen += [plan["id"] for plan in page["plans"]]
        if page["next_before"] is None:
            break
        params["before"] = page["next_before"]
    assert seen == made[::-1]


def test_show_gives_the_plan_report_and_decision(api: Api) -> None:
    """GET /v1/plans/{id} shows the plan document, its report and decision; an 8-digit prefix finds it too."""
    plan_id = api.submit(MOVE_TO_ALICE)["id"]
    shown = api.show(plan_id, "agent")
    assert shown["plan"]["title"] == MOVE_TO_ALICE["title"]
    assert shown["plan"]["ops"][0]["dst"] == "matters/acme/custodians/alice/0001.pdf"
    assert shown["report"]["digest"] == plan_id
    assert shown["paths"] == [  # what the ops name, then the root of the scope the plan declares
        "matters/acme/inbox/0001.pdf",
        "matters/acme/custodians/alice/0001.pdf",
        "matters/acme",
    ]
    assert api.show(plan_id[:8], "agent")["id"] == plan_id


def test_shown_plan_document_submits_as_the_same_plan(api: Api) -> None:
    """The plan document GET /v1/plans/{id} shows is valid plan/v1 and has the same digest (answers 200)."""
    plan_id = api.submit(MOVE_TO_ALICE)["id"]
    shown = api.show(plan_id, "agent")["plan"]
    response = api.post("/v1/plans/verify", "agent", json=shown)
    assert response.status_code == 200, response.text
    assert response.json()["digest"] == plan_id


# -- approve and reject --------------------------------------------------------


def test_author_can_never_approve_even_an_admin(api: Api) -> None:
    """The plan's author may not approve it, whatever their role: 403, and the plan stays pending."""
    plan_id = api.submit(MOVE_TO_ALICE, "admin")["id"]
    response = api.post(f"/v1/plans/{plan_id}/approve", "admin", json={"comment": "mine, fine"})
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "not_allowed"
    assert api.show(plan_id)["state"] == "pending"
    assert api.decide(plan_id, "approve", "approver")["state"] == "applied"


def test_a_second_submitter_cannot_approve_either(api: Api) -> None:
    """Someone who submitted the same digest later is an author too, and may not approve it."""
    plan_id = api.submit(MOVE_TO_ALICE, "agent")["id"]
    api.submit(MOVE_TO_ALICE, "approver", status=200)
    response = api.post(f"/v1/plans/{plan_id}/approve", "approver", json={"comment": "ok"})
    assert response.status_code == 403
    assert api.show(plan_id)["state"] == "pending"


def test_two_approvals_needed_by_a_rule(api: Api) -> None:
    """A delete needs two distinct approvers: one leaves it pending, the second applies it."""
    plan_id = api.submit(DELETE_THUMBS)["id"]
    first = api.decide(plan_id, "approve", "approver")
    assert (first["state"], first["approvals_needed"]) == ("pending", 2)
    assert "matters/acme/inbox/Thumbs.db" in tree(api.root)
    second = api.decide(plan_id, "approve", "approver-2")
    assert second["state"] == "applied"
    assert {a["approver"] for a in second["approvals"] if a["counts"]} == {"approver", "approver-2"}
    assert "matters/acme/inbox/Thumbs.db" not in tree(api.root)
    assert_chain_intact(api)


def test_a_second_approval_by_the_same_person_is_409(api: Api) -> None:
    """A second approval while the first counts is 409 "you already approved this plan"; nothing changes."""
    plan_id = api.submit(DELETE_THUMBS)["id"]
    api.decide(plan_id, "approve", "approver")
    again = api.post(f"/v1/plans/{plan_id}/approve", "approver", json={"comment": "once more"})
    assert again.status_code == 409
    assert again.json()["error"] == {
        "code": "already_approved",
        "message": "you already approved this plan",
        "problems": [],
    }
    shown = api.show(plan_id)
    assert (shown["state"], len(shown["approvals"])) == ("pending", 1)


def test_the_plan_view_lists_what_the_caller_may_do(manual: Api) -> None:
    """The plan view's actions are what this caller may ask for now, by person and by state."""
    plan_id = manual.submit(DELETE_THUMBS)["id"]
    assert manual.show(plan_id, "approver")["actions"] == ["approve", "reject"]
    assert manual.show(plan_id, "agent")["actions"] == []
    manual.decide(plan_id, "approve", "approver")
    assert manual.show(plan_id, "approver")["actions"] == ["reject"]
    manual.decide(plan_id, "approve", "approver-2")
    assert manual.show(plan_id, "agent")["actions"] == ["apply"]
    assert manual.show(plan_id, "admin")["actions"] == ["reject", "apply"]


def test_approvals_expire_with_the_clock(manual: Api) -> None:
    """An approval older than approval_ttl no longer counts: apply is refused (409), the plan is pending."""
    plan_id = manual.submit(MOVE_TO_ALICE)["id"]
    assert manual.decide(plan_id, "approve")["state"] == "approved"
    manual.clock.advance(timedelta(hours=25))
    response = manual.post(f"/v1/plans/{plan_id}/apply", "admin")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "not_approved"
    shown = manual.show(plan_id)
    assert shown["state"] == "pending"
    assert [a["counts"] for a in shown["approvals"]] == [False]
    assert "matters/acme/inbox/0001.pdf" in tree(manual.root)
    assert manual.decide(plan_id, "approve", "approver-2")["state"] == "approved"
    assert manual.apply(plan_id)["state"] == "applied"
    assert "matters/acme/custodians/alice/0001.pdf" in tree(manual.root)


def test_approval_binds_to_the_fingerprint_stale_then_resubmit(manual: Api) -> None:
    """A store change after approval makes apply stale with diagnostics; resubmitting decides it anew."""
    plan = plan_doc(
        {"op": "move", "src": "matters/acme/inbox/0001.pdf", "dst": "matters/acme/custodians/alice/0001.pdf"}
    )
    plan_id = manual.submit(plan)["id"]
    assert manual.decide(plan_id, "approve")["state"] == "approved"
    (manual.root / "matters/acme/inbox/0001.pdf").write_bytes(b"edited after approval")
    stale = manual.apply(plan_id)
    assert stale["state"] == "stale"
    assert [(d["code"], d["path"]) for d in stale["diagnostics"]] == [
        ("precondition_failed", "matters/acme/inbox/0001.pdf")
    ]
    assert "matters/acme/custodians/alice/0001.pdf" not in tree(manual.root)

    again = manual.submit(plan, status=200)
    assert again["state"] == "pending"
    assert again["fingerprint"] != stale["fingerprint"]
    assert [a["counts"] for a in again["approvals"]] == [False]  # bound to the old state
    assert manual.decide(plan_id, "approve", "approver-2")["state"] == "approved"
    assert manual.apply(plan_id)["state"] == "applied"
    assert tree(manual.root)["matters/acme/custodians/alice/0001.pdf"] == b"edited after approval"
    assert_chain_intact(manual)


def test_applying_a_plan_already_settled_stale_is_409(manual: Api) -> None:
    """The second of two applies, arriving after the first settled the plan stale, is 409 illegal_transition.

    The order a busy machine gives two racing applies (tests/service/test_two_sidecars.py), pinned.
    """
    plan = plan_doc(
        {"op": "move", "src": "matters/acme/inbox/0002.pdf", "dst": "matters/acme/custodians/alice/0002.pdf"}
    )
    plan_id = manual.submit(plan)["id"]
    assert manual.decide(plan_id, "approve")["state"] == "approved"
    (manual.root / "matters/acme/inbox/0002.pdf").write_bytes(b"edited after approval")
    assert manual.apply(plan_id)["state"] == "stale"
    second = manual.post(f"/v1/plans/{plan_id}/apply", "admin")
    assert (second.status_code, second.json()["error"]["code"]) == (409, "illegal_transition")
    assert manual.show(plan_id)["state"] == "stale"


def test_reject_is_final(api: Api) -> None:
    """A person's rejection is kept with its comment; approve, apply and resubmission cannot revive it."""
    plan_id = api.submit(MOVE_TO_ALICE)["id"]
    rejected = api.decide(plan_id, "reject", "approver", comment="wrong custodian")
    assert rejected["state"] == "rejected"
    assert (rejected["rejection"]["actor"], rejected["rejection"]["comment"]) == (
        "approver",
        "wrong custodian",
    )
    assert api.post(f"/v1/plans/{plan_id}/approve", "admin", json={"comment": "x"}).status_code == 409
    assert api.post(f"/v1/plans/{plan_id}/apply", "admin").status_code == 409
    assert api.submit(MOVE_TO_ALICE, status=200)["state"] == "rejected"
    assert "matters/acme/inbox/0001.pdf" in tree(api.root)
    kinds = [(e["kind"], e["payload"].get("decision")) for e in events_of(api, plan_id)]
    assert ("approval", "rejected") in kinds


def test_decisions_need_a_comment(api: Api) -> None:
    """Approve and reject refuse a missing, empty or blank comment, or an unknown field (422)."""
    plan_id = api.submit(MOVE_TO_ALICE)["id"]
    for verb in ("approve", "reject"):
        for body in ({}, {"comment": ""}, {"comment": "   "}, {"comment": "ok", "extra": 1}, {"comment": 5}):
            response = api.post(f"/v1/plans/{plan_id}/{verb}", "approver", json=body)
            assert response.status_code == 422, (verb, body, response.text)
            assert response.json()["error"]["code"] == "invalid_request"
    assert api.show(plan_id)["state"] == "pending"


# -- apply --------------------------------------------------------------------


def test_apply_waits_when_auto_apply_is_off_and_is_idempotent(manual: Api) -> None:
    """With auto_apply off an approved plan waits; apply applies it once, and again changes nothing."""
    plan_id = manual.submit(MOVE_TO_ALICE)["id"]
    assert manual.decide(plan_id, "approve")["state"] == "approved"
    assert "matters/acme/inbox/0001.pdf" in tree(manual.root)
    assert manual.apply(plan_id, "agent")["state"] == "applied"  # its author may apply it
    after = tree(manual.root)
    again = manual.apply(plan_id, "admin")
    assert again["state"] == "applied"
    assert tree(manual.root) == after
    assert [e["kind"] for e in events_of(manual, plan_id)].count("apply") == 1
    assert after["matters/acme/custodians/alice/0001.pdf"] == SEED["matters/acme/inbox/0001.pdf"]
    assert_chain_intact(manual)


def test_apply_refuses_a_pending_plan(manual: Api) -> None:
    """Applying a plan that still waits for approval is 409 and changes nothing."""
    plan_id = manual.submit(MOVE_TO_ALICE)["id"]
    response = manual.post(f"/v1/plans/{plan_id}/apply", "admin")
    assert response.status_code == 409
    assert manual.show(plan_id)["state"] == "pending"
    assert "matters/acme/inbox/0001.pdf" in tree(manual.root)


# -- revert -------------------------------------------------------------------


def test_revert_submits_the_inverse_and_applying_it_restores_the_store(api: Api) -> None:
    """Revert submits the inverse; once it applies, the original is reverted and the files are back."""
    before = tree(api.root)
    plan = plan_doc(
        {"op": "mkdir", "path": "matters/acme/custodians/bob"},
        {"op": "move", "src": "matters/acme/inbox/0001.pdf", "dst": "matters/acme/custodians/bob/0001.pdf"},
        {"op": "write", "path": "matters/acme/index.csv", "content": "file,custodian\n0001.pdf,bob\n"},
        {
            "op": "copy",
            "src": "matters/acme/templates/cover.docx",
            "dst": "matters/acme/custodians/bob/c.docx",
        },
        title="File to Bob",
    )
    plan_id = api.submit(plan)["id"]
    applied = api.decide(plan_id, "approve")
    assert applied["state"] == "applied"
    assert tree(api.root) != before

    response = api.post(f"/v1/plans/{plan_id}/revert", "agent")
    assert response.status_code == 201, response.text
    inverse = response.json()
    assert (inverse["state"], inverse["revert_of"]) == ("pending", plan_id)
    original = api.show(plan_id)
    assert (original["state"], original["inverse_id"]) == ("applied", inverse["id"])

    assert inverse["approvals_needed"] == 2  # the inverse deletes what the plan made: the deletes rule
    assert api.decide(inverse["id"], "approve", "approver-2")["state"] == "pending"
    assert api.decide(inverse["id"], "approve", "approver")["state"] == "applied"
    assert api.show(plan_id)["state"] == "reverted"
    assert tree(api.root) == before
    assert api.post(f"/v1/plans/{plan_id}/revert", "agent").status_code == 409
    assert_chain_intact(api)


def test_revert_refuses_a_plan_that_is_not_applied(api: Api) -> None:
    """Only an applied plan reverts: a pending one is 409, said in plain words."""
    plan_id = api.submit(MOVE_TO_ALICE)["id"]
    refused = api.post(f"/v1/plans/{plan_id}/revert", "agent")
    assert refused.status_code == 409
    assert refused.json()["error"]["message"] == (
        "cannot revert a plan that is pending: only an applied plan can be reverted"
    )
    assert len(api.get("/v1/plans", "admin").json()["plans"]) == 1


def test_concurrent_applies_apply_once(manual: Api) -> None:
    """Several apply requests racing on one approved plan all succeed, and it applies exactly once."""
    plan_id = manual.submit(MOVE_TO_ALICE)["id"]
    assert manual.decide(plan_id, "approve")["state"] == "approved"
    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = list(pool.map(lambda who: manual.post(f"/v1/plans/{plan_id}/apply", who), ["admin"] * 4))
    seen = {(response.status_code, response.json()["state"]) for response in answers}
    assert seen <= {(202, "applying"), (200, "applied")}  # queued (or already over), never refused
    assert manual.settle(plan_id)["state"] == "applied"
    assert [e["kind"] for e in events_of(manual, plan_id)].count("apply") == 1
    assert_chain_intact(manual)
