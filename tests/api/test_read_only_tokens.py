"""Read-only tokens over the API: they read and verify, and never submit, upload, apply or revert."""

from __future__ import annotations

from datetime import timedelta

from tests.api.support import Api, MakeApi
from tests.support.plans import plan_doc


def _read_only(api: Api) -> str:
    expires = api.clock() + timedelta(hours=1)
    secret = api.services.tokens.create(
        "agent", "sandbox", ["matters/acme"], expires=expires, read_only=True
    )[1]
    api.secrets["sandbox"] = secret
    return "sandbox"


def test_a_read_only_token_reads_and_verifies_but_changes_nothing(make_api: MakeApi) -> None:
    """With a read-only token: tree, files and verify answer; submit, upload, apply and revert are 403."""
    api = make_api(auto_apply=False)
    who = _read_only(api)
    assert api.get("/v1/tree", who, params={"path": "matters/acme"}).status_code == 200
    assert api.get("/v1/files/matters/acme/inbox/0001.pdf", who).status_code == 200
    doc = plan_doc({"op": "mkdir", "path": "matters/acme/new"}, title="new")
    assert api.post("/v1/plans/verify", who, json=doc).status_code == 200
    refused = api.post("/v1/plans", who, json=doc)
    assert refused.status_code == 403
    assert "read-only" in refused.json()["error"]["message"]
    upload = api.client.post("/v1/blobs", params={"sha256": "ab" * 32}, content=b"x", headers=api.auth(who))
    assert upload.status_code == 403
    plan_id = api.plan_in("applied")
    assert api.post(f"/v1/plans/{plan_id}/revert", who).status_code in (403, 404)
    assert api.post(f"/v1/plans/{plan_id}/apply", who).status_code in (403, 404)


def test_a_token_makes_a_narrower_read_only_token_for_a_sandbox(make_api: MakeApi) -> None:
    """POST /v1/tokens/sandbox: inside the caller's scope, read-only, capped in time; its maker revokes it."""
    api = make_api(sandbox_token_ttl=timedelta(hours=1))
    made = api.post(
        "/v1/tokens/sandbox", "agent", json={"scopes": ["matters/acme/inbox"], "ttl_seconds": 86400}
    )
    assert made.status_code == 201, made.text
    body = made.json()
    assert body["read_only"] is True
    assert body["scopes"] == ["matters/acme/inbox"]
    info = api.services.tokens.get(body["id"])
    assert info.expires is not None
    assert info.expires <= api.clock() + timedelta(hours=1)
    assert info.created_by == "agent"
    api.secrets["box"] = body["secret"]
    assert api.get("/v1/files/matters/acme/inbox/0001.pdf", "box").status_code == 200
    assert api.get("/v1/files/matters/acme/templates/cover.docx", "box").status_code == 403
    assert (
        api.post(
            "/v1/tokens/sandbox", "box", json={"scopes": ["matters/acme/inbox"], "ttl_seconds": 9}
        ).status_code
        == 422
    )
    assert api.post(f"/v1/tokens/{body['id']}/revoke", "agent-peer").status_code == 404
    assert api.post(f"/v1/tokens/{body['id']}/revoke", "agent").json()["status"] == "revoked"
    assert api.get("/v1/tree", "box", params={"path": "matters/acme/inbox"}).status_code == 401


def test_a_sandbox_token_is_never_wider_than_its_maker(api: Api) -> None:
    """Scopes outside the caller's, or the whole store from a scoped caller, are refused (422)."""
    for scopes in (["matters/globex"], ["*"], ["matters"]):
        refused = api.post("/v1/tokens/sandbox", "agent", json={"scopes": scopes, "ttl_seconds": 60})
        assert refused.status_code == 422, scopes
    assert (
        api.post("/v1/tokens/sandbox", "auditor", json={"scopes": ["matters"], "ttl_seconds": 60}).status_code
        == 403
    )
