"""/v1/audit, /v1/history, /v1/snapshot, /healthz and /metrics end to end over the real app."""

from __future__ import annotations

import itertools
import json
from datetime import timedelta
from typing import Any

from tests.api.support import SEED, Api, sha256
from tests.support.plans import plan_doc

FILE_AND_RENAME = plan_doc(
    {"op": "move", "src": "matters/acme/inbox/0001.pdf", "dst": "matters/acme/custodians/alice/0001.pdf"},
    {"op": "rename", "path": "matters/acme/custodians/alice/0001.pdf", "name": "0001 Email re contract.pdf"},
    title="File and name 0001",
)
FINAL = "matters/acme/custodians/alice/0001 Email re contract.pdf"


def applied_filing(api: Api) -> str:
    plan_id: str = api.submit(FILE_AND_RENAME)["id"]
    assert api.decide(plan_id, "approve", "approver")["state"] == "applied"
    return plan_id


def events(api: Api, who: str = "auditor", **params: Any) -> list[dict[str, Any]]:
    response = api.get("/v1/audit", who, params=params)
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()["events"]
    return found


# -- audit --------------------------------------------------------------------


def test_audit_events_of_a_plan_tell_its_whole_story_in_chain_order(api: Api) -> None:
    """The audit of one plan holds its recording, submission, approval and apply, hash-chained in order."""
    plan_id = applied_filing(api)
    found = events(api, plan=plan_id)
    assert {e["kind"] for e in found} >= {"plan_recorded", "workflow", "approval", "apply"}
    assert all(e["digest"] == plan_id for e in found)
    assert [e["seq"] for e in found] == sorted(e["seq"] for e in found)
    approval = next(e for e in found if e["kind"] == "approval")
    assert (approval["actor"], approval["payload"]["comment"]) == ("approver", "ok")
    everything = events(api, "admin", limit=1000)
    for before, after in itertools.pairwise(everything):
        assert after["prev_hash"] == before["hash"]
    assert api.services.audit.verify_chain() is None


def test_audit_filters_by_actor_path_and_time_and_pages_with_after(api: Api) -> None:
    """The audit filters by actor, path and time window, and pages with after/next_after without gaps."""
    start = api.clock.now
    first = applied_filing(api)
    api.clock.advance(timedelta(hours=1))
    middle = api.clock.now
    api.submit(plan_doc({"op": "mkdir", "path": "matters/acme/later"}, title="later"))
    assert {e["actor"] for e in events(api, actor="approver")} == {"approver"}
    assert {e["digest"] for e in events(api, path=FINAL)} == {first}
    assert events(api, path="matters/other") == []
    early = events(api, since=start.isoformat(), until=middle.isoformat())
    late = events(api, since=middle.isoformat())
    assert {e["digest"] for e in early} == {first}
    assert late
    assert first not in {e["digest"] for e in late}

    everything = events(api, limit=1000)
    paged: list[int] = []
    after = 0
    while True:
        body = api.get("/v1/audit", "auditor", params={"after": after, "limit": 3}).json()
        paged += [e["seq"] for e in body["events"]]
        if body["next_after"] is None:
            break
        after = body["next_after"]
    assert paged == [e["seq"] for e in everything]


def test_scoped_reader_must_name_a_path_or_plan_in_scope(api: Api) -> None:
    """An approver scoped to subtrees reads the audit only by a path or plan inside them."""
    plan_id = applied_filing(api)
    assert api.get("/v1/audit", "approver").status_code == 403
    assert {e["digest"] for e in events(api, "approver", path="matters/acme")} == {plan_id}
    assert events(api, "approver", plan=plan_id)
    assert api.get("/v1/audit", "approver-other", params={"plan": plan_id}).status_code == 404
    assert api.get("/v1/audit", "approver-other", params={"path": "matters/acme"}).status_code == 403
    assert api.get("/v1/audit", "auditor-other", params={"path": "matters/other"}).json()["events"] == []


# -- history ------------------------------------------------------------------


def test_history_follows_moves_and_renames(api: Api) -> None:
    """A document's history, asked by its new name, goes back through the rename and the move."""
    plan_id = applied_filing(api)
    response = api.get("/v1/history", "agent", params={"path": FINAL})
    assert response.status_code == 200, response.text
    history = response.json()
    assert history["origins"] == ["matters/acme/inbox/0001.pdf"]
    assert history["current"] == [FINAL]
    assert [(i["name_before"], i["name_after"]) for i in history["items"]] == [
        ("matters/acme/inbox/0001.pdf", "matters/acme/custodians/alice/0001.pdf"),
        ("matters/acme/custodians/alice/0001.pdf", FINAL),
    ]
    item = history["items"][0]
    assert (item["plan"]["digest"], item["submitted_by"], item["applied_by"]) == (
        plan_id,
        "agent",
        "approver",
    )
    by_origin = api.get("/v1/history", "auditor", params={"path": "matters/acme/inbox/0001.pdf"}).json()
    assert by_origin["current"] == [FINAL]


def test_history_names_who_approved(api: Api) -> None:
    """Each history item names the people who approved the plan that changed the document."""
    applied_filing(api)
    history = api.get("/v1/history", "auditor", params={"path": FINAL}).json()
    assert [item["approved_by"] for item in history["items"]] == [["approver"], ["approver"]]


def test_history_of_an_untouched_document_is_empty(api: Api) -> None:
    """A document no plan touched has an empty history (200), not an error."""
    history = api.get("/v1/history", "agent", params={"path": "matters/acme/inbox/0002.pdf"}).json()
    assert history["items"] == []


# -- snapshot -----------------------------------------------------------------


def test_snapshot_is_a_manifest_of_the_live_store_below_a_prefix(api: Api) -> None:
    """GET /v1/snapshot streams manifest/v1 lines for the prefix, with hashes, and never the reserved area."""
    applied_filing(api)
    response = api.get("/v1/snapshot", "agent", params={"prefix": "matters/acme/custodians"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/x-ndjson")
    header, *lines = [json.loads(line) for line in response.text.splitlines()]
    assert header["pva"] == "manifest/v1"
    entries = {line["path"]: line for line in lines}
    assert entries[FINAL]["sha256"] == sha256(SEED["matters/acme/inbox/0001.pdf"] or b"")
    assert all(path.startswith("matters/acme/custodians") for path in entries)
    whole = api.get("/v1/snapshot", "admin").text
    assert '"matters/other/readme.txt"' in whole
    assert ".pva" not in {json.loads(line).get("path", "").split("/")[0] for line in whole.splitlines()}


def test_snapshot_of_the_whole_store_needs_a_whole_store_scope(api: Api) -> None:
    """A scoped principal must give a prefix inside its scope: no prefix and an outside prefix are 403."""
    assert api.get("/v1/snapshot", "agent").status_code == 403
    assert api.get("/v1/snapshot", "agent", params={"prefix": "matters/globex"}).status_code == 403
    assert api.get("/v1/snapshot", "agent", params={"prefix": "matters/acme-evil"}).status_code == 403


# -- healthz and metrics -------------------------------------------------------


def test_healthz_answers_without_a_token(api: Api) -> None:
    """/healthz needs no token and reports the store and the database as answering (where: admins only)."""
    response = api.client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["database"], body["problems"]) == ("ok", "ok", [])
    assert api.get("/healthz", "admin").json()["store"].startswith("local:")


def test_metrics_count_requests_and_plans_without_leaking_paths(api: Api) -> None:
    """/metrics counts requests by route template and plans by state, and names no store path or title."""
    plan_id = api.submit(FILE_AND_RENAME)["id"]
    api.show(plan_id)
    response = api.get("/metrics", "auditor")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert 'pva_http_requests_total{method="POST",route="/v1/plans",status="201"} 1.0' in text
    assert 'route="/v1/plans/{plan_id}"' in text
    assert 'pva_plans_total{state="pending"} 1.0' in text
    assert "matters" not in text
    assert FILE_AND_RENAME["title"] not in text
    assert plan_id not in text
