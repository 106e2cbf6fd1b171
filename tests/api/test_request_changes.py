"""Request changes over HTTP (SQLite, PostgreSQL): audited, told to webhooks, checked by audit verify."""

from __future__ import annotations

import pytest

from planner.cli.main import main
from tests.api.support import Api
from tests.api.test_webhooks import add_hook, deliverer, drain, receiver
from tests.notify.receiver import Receiver
from tests.support.plans import plan_doc

__all__ = ["receiver"]  # the fixture, shared with the webhook tests

TWO_OPS = plan_doc(
    {"op": "mkdir", "path": "matters/acme/filed", "reason": "a folder for the filing"},
    {"op": "delete", "path": "matters/acme/inbox/Thumbs.db"},
    title="File and tidy",
)


def test_changes_asked_per_op_are_recorded_told_and_pass_audit_verify(
    api: Api, receiver: Receiver, capsys: pytest.CaptureFixture[str]
) -> None:
    """changes_requested with its op comments; a webhook hears it; pva audit verify finds no break."""
    add_hook(api, receiver, events=["plan.changes_requested"])
    plan_id = api.submit(TWO_OPS)["id"]
    body = {"comment": "tidy in another plan", "ops": [{"op": 1, "comment": "leave Thumbs.db for now"}]}
    response = api.post(f"/v1/plans/{plan_id}/request-changes", "approver", json=body)
    assert response.status_code == 200, response.text
    shown = api.show(plan_id)
    assert shown["state"] == "changes_requested"
    assert shown["rejection"]["ops"] == [{"op": 1, "comment": "leave Thumbs.db for now"}]
    assert api.post(f"/v1/plans/{plan_id}/approve", "approver-2", json={"comment": "ok"}).status_code == 409
    worker = deliverer(api)
    drain(worker, lambda: len(receiver.accepted()) == 1)
    worker.client.close()
    told = receiver.accepted()[0].document
    assert (told["event"], told["actor"], told["comment"]) == (
        "plan.changes_requested",
        "approver",
        "tidy in another plan",
    )
    assert main(["audit", "verify", "--db", api.settings.database_url]) == 0
    capsys.readouterr()


def test_a_bad_request_for_changes_is_refused_and_changes_nothing(api: Api) -> None:
    """An op the plan lacks, a blank comment, its author asking: 422, 422, 403; the plan stays pending."""
    plan_id = api.submit(TWO_OPS)["id"]
    url = f"/v1/plans/{plan_id}/request-changes"
    assert (
        api.post(url, "approver", json={"comment": "x", "ops": [{"op": 2, "comment": "no"}]}).status_code
        == 422
    )
    assert api.post(url, "approver", json={"comment": " "}).status_code == 422
    assert api.post(url, "agent", json={"comment": "x"}).status_code == 403  # its author
    assert api.post(url, "agent-peer", json={"comment": "x"}).status_code == 404  # not theirs to see
    assert api.show(plan_id)["state"] == "pending"
