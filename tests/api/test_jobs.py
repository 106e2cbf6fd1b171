"""PVA_APPLY_MODE=jobs over HTTP (SQLite and PostgreSQL): 202 and 'applying', then a worker applies."""

from __future__ import annotations

import time
from datetime import timedelta

from tests.api.support import SEED, Api, MakeApi, sha256, tree
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
PATIENCE = 120.0  # seconds: a bound on a hung worker, never on a slow one (the test waits for a state)


def settled(api: Api, plan_id: str) -> str:
    """The plan's state once no longer 'applying' (its worker runs in another thread)."""
    deadline = time.monotonic() + PATIENCE
    while (state := api.show(plan_id)["state"]) == "applying" and time.monotonic() < deadline:
        time.sleep(0.05)
    return str(state)


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
