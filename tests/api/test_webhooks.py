"""Webhooks through the API: signed deliveries, retries, scopes as walls, nothing told of a rollback."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
from sqlalchemy import Engine, text

from sidecar.notify.worker import Deliverer, DeliverySettings
from tests.api.support import SEED, Api, MakeApi, sha256
from tests.api.test_jobs import MOVE_TO_ALICE, settled
from tests.notify.receiver import Receiver, serve
from tests.support.plans import plan_doc

PUBLIC = "https://pva.firm.example"
ROUNDS = 500  # deliverer rounds before a test gives up (each round reads the ticking clock)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    server, thread = serve(found)
    yield found
    server.shutdown()
    server.server_close()
    thread.join()


def add_hook(api: Api, receiver: Receiver, **body: object) -> dict[str, object]:
    response = api.post("/v1/webhooks", "admin", json={"url": receiver.url, **body})
    assert response.status_code == 201, response.text
    added: dict[str, object] = response.json()
    receiver.secret = str(added["secret"])
    return added


def deliverer(api: Api) -> Deliverer:
    settings = DeliverySettings(backoff=timedelta(milliseconds=1), public_url=PUBLIC)
    return Deliverer(api.services.outbox, settings, api.clock)


def drain(worker: Deliverer, done: Callable[[], bool]) -> None:
    """Run the deliverer's rounds until ``done`` (the ticking clock makes each retry due soon)."""
    for _ in range(ROUNDS):
        worker.run_once()
        if done():
            return
    pytest.fail("the deliveries did not arrive")


def test_a_webhook_hears_each_step_signed_once_each_after_failed_tries(api: Api, receiver: Receiver) -> None:
    """pending, approved, applied arrive signed, once each by delivery id; two failed tries are retried."""
    add_hook(api, receiver)
    receiver.fail_first = 2
    doc = plan_doc(
        {"op": "write", "path": "matters/acme/custodians/alice/note.txt", "content": "CONTENT-CANARY"},
        title="File a note",
    )
    plan_id = api.submit(doc)["id"]
    api.decide(plan_id, "approve")
    worker = deliverer(api)
    drain(worker, lambda: len(receiver.accepted()) == 3)
    worker.client.close()
    accepted = receiver.accepted()
    assert sorted(r.event for r in accepted) == ["plan.applied", "plan.approved", "plan.pending"]
    assert len({r.delivery for r in accepted}) == 3  # no duplicates
    assert all(r.signed for r in receiver.received)
    assert {r.delivery for r in receiver.received[:2]} <= {r.delivery for r in accepted}  # retried, same id
    pending = next(r.document for r in accepted if r.event == "plan.pending")
    assert pending["plan"] | {"counts": None} == {
        "id": plan_id,
        "title": "File a note",
        "author": "agent",
        "state": "pending",
        "counts": None,
        "risks": ["the default policy requires 1 approval"],
        "url": f"{PUBLIC}/plans/{plan_id}",
    }
    assert pending["plan"]["counts"] == {"write": 1}
    approved = next(r.document for r in accepted if r.event == "plan.approved")
    assert (approved["actor"], approved["comment"]) == ("approver", "ok")
    for r in receiver.received:  # never the file's content, never a token
        assert b"CONTENT-CANARY" not in r.body
        assert not any(secret.encode() in r.body for secret in api.secrets.values())
    listed = api.get("/v1/webhooks/deliveries", "admin").json()["deliveries"]
    assert sorted((d["status"], d["event"]) for d in listed) == [
        ("delivered", "plan.applied"),
        ("delivered", "plan.approved"),
        ("delivered", "plan.pending"),
    ]
    assert sum(d["attempts"] for d in listed) == 5


def test_a_webhook_scoped_to_a_matter_never_hears_of_another(api: Api, receiver: Receiver) -> None:
    """A webhook on matters/acme hears of acme's plans and of nothing in globex, not even its title."""
    add_hook(api, receiver, scopes=["matters/acme"], events=["plan.pending"])
    globex = plan_doc(
        {"op": "mkdir", "path": "matters/globex/CANARY-folder"},
        title="CANARY globex",
        scope=["matters/globex"],
    )
    api.submit(globex, "agent-globex")
    acme_id = api.submit(api.fresh_mkdir())["id"]
    worker = deliverer(api)
    drain(worker, lambda: len(receiver.accepted()) == 1)
    worker.run_once()
    worker.client.close()
    assert [r.document["plan"]["id"] for r in receiver.received] == [acme_id]
    assert not any(b"CANARY" in r.body for r in receiver.received)


def test_a_change_that_rolls_back_tells_nobody(api: Api, receiver: Receiver) -> None:
    """When the approval's transaction fails, the plan stays pending and no 'approved' is ever sent.

    On PostgreSQL it fails at commit, after the notice was written (a deferred trigger on
    plan_cases); on SQLite, on writing the notice itself.
    """
    add_hook(api, receiver, events=["plan.approved"])
    plan_id = api.submit(api.fresh_mkdir())["id"]
    engine = api.services.audit.engine
    with engine.begin() as connection:
        for statement in _failing_outbox(engine.dialect.name):
            connection.execute(text(statement))
    assert api.post(f"/v1/plans/{plan_id}/approve", "approver", json={"comment": "ok"}).status_code == 500
    with engine.begin() as connection:
        connection.execute(
            text(
                "DROP TRIGGER refuse_at_commit ON plan_cases" if _pg(engine) else "DROP TRIGGER refuse_outbox"
            )
        )
    assert api.show(plan_id)["state"] == "pending"
    worker = deliverer(api)
    for _ in range(5):
        worker.run_once()
    worker.client.close()
    assert receiver.received == []


def test_a_slack_webhook_gets_one_line_of_text_with_the_link(api: Api, receiver: Receiver) -> None:
    """format=slack sends {"text": ...}: the plan's title, author, state and page link."""
    add_hook(api, receiver, format="slack", events=["plan.pending"])
    plan_id = api.submit(api.fresh_mkdir())["id"]
    worker = deliverer(api)
    drain(worker, lambda: len(receiver.accepted()) == 1)
    worker.client.close()
    document = receiver.accepted()[0].document
    assert list(document) == ["text"]
    assert f"Plan {plan_id[:12]}" in document["text"]
    assert "by agent waits for approval" in document["text"]
    assert f"{PUBLIC}/plans/{plan_id}" in document["text"]


def test_only_admins_manage_webhooks_and_bad_ones_are_refused(api: Api) -> None:
    """Approvers get 403; a bad URL or event 422; an unknown webhook 404; the secret is shown once."""
    assert api.post("/v1/webhooks", "approver", json={"url": "https://x.example"}).status_code == 403
    assert api.post("/v1/webhooks", "admin", json={"url": "ftp://x.example"}).status_code == 422
    assert (
        api.post("/v1/webhooks", "admin", json={"url": "https://x.example", "events": ["x"]}).status_code
        == 422
    )
    assert api.client.delete("/v1/webhooks/whk_000000000000", headers=api.auth("admin")).status_code == 404
    added = api.post("/v1/webhooks", "admin", json={"url": "https://x.example/h"}).json()
    assert added["secret"].startswith("whsec_")
    listed = api.get("/v1/webhooks", "admin").json()["webhooks"]
    assert [hook["id"] for hook in listed] == [added["webhook"]["id"]]
    assert "secret" not in listed[0]
    removed = api.client.delete(f"/v1/webhooks/{added['webhook']['id']}", headers=api.auth("admin"))
    assert removed.status_code == 200
    assert api.get("/v1/webhooks", "admin").json()["webhooks"] == []


def _pg(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"


def _failing_outbox(dialect: str) -> list[str]:
    if dialect == "postgresql":
        return [
            (
                "CREATE OR REPLACE FUNCTION refuse_at_commit() RETURNS trigger AS "
                "$$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$ LANGUAGE plpgsql"
            ),
            (
                "CREATE CONSTRAINT TRIGGER refuse_at_commit AFTER UPDATE ON plan_cases "
                "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION refuse_at_commit()"
            ),
        ]
    return ["CREATE TRIGGER refuse_outbox BEFORE INSERT ON outbox BEGIN SELECT RAISE(ABORT, 'refused'); END"]


def test_an_apply_a_job_worker_runs_is_told_applied_and_one_the_store_moved_under_is_told_stale(
    make_api: MakeApi, receiver: Receiver
) -> None:
    """In jobs mode the outcome the worker records is told (applying is not); a changed source tells stale."""
    api = make_api(apply_mode="jobs", job_heartbeat=timedelta(seconds=1))
    add_hook(api, receiver, events=["plan.applied", "plan.stale", "plan.failed"])
    source = "matters/acme/inbox/0002.pdf"
    doc = plan_doc(
        {
            "op": "move",
            "src": source,
            "dst": "matters/acme/custodians/alice/0002.pdf",
            "expect": {"sha256": sha256(SEED[source] or b"")},
        },
        title="File 0002",
    )
    filed = api.submit(doc)["id"]
    assert api.post(f"/v1/plans/{filed}/approve", "approver", json={"comment": "ok"}).status_code == 202
    assert settled(api, filed) == "applied"
    moved = api.submit(MOVE_TO_ALICE)["id"]
    (api.root / "matters/acme/inbox/0001.pdf").write_bytes(b"changed behind pva's back")
    api.post(f"/v1/plans/{moved}/approve", "approver", json={"comment": "ok"})
    assert settled(api, moved) == "stale"
    worker = deliverer(api)
    drain(worker, lambda: len(receiver.accepted()) == 2)
    worker.run_once()
    worker.client.close()
    assert sorted((r.event, r.document["plan"]["id"]) for r in receiver.received) == sorted(
        [("plan.applied", filed), ("plan.stale", moved)]
    )


def test_an_admin_scoped_to_one_matter_may_not_manage_webhooks(make_api: MakeApi) -> None:
    """Webhooks and deliveries span every matter: an admin scoped to matters/acme is refused (403)."""
    api = make_api()
    api.secrets["admin-acme"] = api.services.tokens.create("admin", "admin-acme", ["matters/acme"])[1]
    assert api.get("/v1/webhooks/deliveries", "admin-acme").status_code == 403
    assert api.post("/v1/webhooks", "admin-acme", json={"url": "https://x.example/h"}).status_code == 403
