"""PVA_APPLY_MODE=jobs over HTTP (SQLite and PostgreSQL): 202 and 'applying', then a worker applies."""

from __future__ import annotations

import threading
from datetime import timedelta

from tests.api.support import PATIENCE, SEED, Api, MakeApi, sha256, sign_in, tree
from tests.support.plans import plan_doc

ALICE_COPY = "matters/acme/custodians/alice/0001.pdf"
MOVE_TO_ALICE = plan_doc(
    {
        "op": "move",
        "src": "matters/acme/inbox/0001.pdf",
        "dst": ALICE_COPY,
        "expect": {"sha256": sha256(SEED["matters/acme/inbox/0001.pdf"] or b"")},
    },
    title="File 0001 to Alice",
)


def settled(api: Api, plan_id: str) -> str:
    """The plan's state once no longer 'applying' (its worker runs in another thread)."""
    return str(api.settle(plan_id)["state"])


def jobs(make_api: MakeApi, **settings: object) -> Api:
    return make_api(apply_mode="jobs", job_heartbeat=timedelta(seconds=1), **settings)


def test_an_approval_that_completes_a_plan_answers_202_applying(make_api: MakeApi) -> None:
    """The approval claims the plan and queues its apply (202, 'applying'); the worker applies it."""
    api = jobs(make_api)
    plan_id = api.submit(MOVE_TO_ALICE)["id"]
    response = api.post(f"/v1/plans/{plan_id}/approve", "approver", json={"comment": "ok"})
    assert response.status_code == 202, response.text
    assert response.json()["state"] == "applying"
    assert settled(api, plan_id) == "applied"
    assert tree(api.root)[ALICE_COPY] == SEED["matters/acme/inbox/0001.pdf"]
    assert api.services.audit.verify_chain() is None


def test_post_apply_answers_202_and_a_worker_applies(make_api: MakeApi) -> None:
    """Without auto-apply the approval answers 200 'approved'; POST apply answers 202 'applying'."""
    api = jobs(make_api, auto_apply=False)
    plan_id = api.submit(MOVE_TO_ALICE)["id"]
    assert api.decide(plan_id, "approve", "approver")["state"] == "approved"
    response = api.post(f"/v1/plans/{plan_id}/apply", "admin")
    assert response.status_code == 202, response.text
    assert response.json()["state"] == "applying"
    assert settled(api, plan_id) == "applied"
    again = api.post(f"/v1/plans/{plan_id}/apply", "admin")  # applied: as it is, never twice
    assert (again.status_code, again.json()["state"]) == (200, "applied")


def test_a_plan_being_applied_shows_its_progress_in_the_api_and_on_the_page(make_api: MakeApi) -> None:
    """Mid-apply, GET /v1/plans/{id} and the page say how many ops and objects are done; then all."""
    api = jobs(make_api)
    folders = [{"op": "mkdir", "path": f"matters/acme/boxes/{n}"} for n in range(3)]
    plan_id = api.submit(plan_doc({"op": "mkdir", "path": "matters/acme/boxes"}, *folders))["id"]
    api.services.engine.progress_interval = 0  # post after every step
    reached, release = threading.Event(), threading.Event()

    def pause(label: str) -> None:
        if label == "step 1":  # two of the four folders made
            reached.set()
            assert release.wait(PATIENCE)

    api.services.engine.hook = pause
    response = api.post(f"/v1/plans/{plan_id}/approve", "approver", json={"comment": "ok"})
    assert response.status_code == 202, response.text
    assert reached.wait(PATIENCE)
    try:
        shown = api.show(plan_id)
        assert shown["state"] == "applying"
        assert shown["progress"] == {"ops_done": 2, "ops_total": 4, "objects_done": 2, "objects_total": 4}
        csrf = sign_in(api, "approver")
        assert csrf
        page = api.client.get(f"/plans/{plan_id}")
        assert "2 of 4 ops done, 2 of 4 store objects" in page.text
        assert 'http-equiv="refresh"' in page.text  # the page refreshes itself while it applies
    finally:
        release.set()
    done = api.settle(plan_id)
    assert done["state"] == "applied"
    assert done["progress"] == {"ops_done": 4, "ops_total": 4, "objects_done": 4, "objects_total": 4}
    assert 'http-equiv="refresh"' not in api.client.get(f"/plans/{plan_id}").text
