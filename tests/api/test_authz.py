"""The authorisation matrix: every endpoint as every role, in and out of scope, and without a valid token.

Each cell acts on a plan of its own (made for it by ``agent`` in the state
the endpoint needs), so cells do not depend on each other and one app serves
the whole module. A forbidden cell must answer its status and change nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest

from tests.api.support import PEOPLE, Api, Response

# Who each name is (tests/api/support.py PEOPLE): the plans under test are agent's, in matters/acme.
#   agent           agent     matters/acme     the plans' author
#   agent-peer      agent     matters/acme     same scope, not the author: must not learn the plans exist
#   agent-globex    agent     matters/globex   out of scope
#   approver        approver  matters          in scope
#   approver-other  approver  matters/other    out of scope
#   auditor         auditor   *                reads everything, decides nothing
#   auditor-other   auditor   matters/other    out of scope
#   admin           admin     *                everything, but never approves its own plans
#
# "ok" is the endpoint's success (2xx); 403 is a refusal that may say why; 404 is a refusal that must
# not reveal that the plan exists.
MATRIX = """
               verify submit list show approve reject apply revert audit history snapshot metrics healthz
agent          ok     ok     ok   ok   403     403    ok    ok     403   ok      ok       403     ok
agent-peer     ok     ok     ok   404  404     404    404   404    403   ok      ok       403     ok
agent-globex   403    403    ok   404  404     404    404   404    403   403     403      403     ok
approver       ok     ok     ok   ok   ok      ok     ok    ok     ok    ok      ok       403     ok
approver-other 403    403    ok   404  404     404    404   404    403   403     403      403     ok
auditor        403    403    ok   ok   403     403    403   403    ok    ok      ok       ok      ok
auditor-other  403    403    ok   404  404     404    404   404    403   403     403      403     ok
admin          ok     ok     ok   ok   ok      ok     ok    ok     ok    ok      ok       ok      ok
"""


def parse(table: str) -> dict[tuple[str, str], str]:
    header, *rows = (line.split() for line in table.strip().splitlines())
    return {(row[0], endpoint): cell for row in rows for endpoint, cell in zip(header, row[1:], strict=True)}


EXPECTED = parse(MATRIX)
ENDPOINTS = MATRIX.strip().splitlines()[0].split()


Headers = dict[str, str]


@dataclass(frozen=True)
class Call:
    """How to call one endpoint: the plan state it needs (if any), and the request with given headers."""

    needs: str | None
    send: Callable[[Api, Headers, str], Response]  # (api, headers, plan id or "") -> response
    success: int = 200


def _get(url: str, **params: str) -> Callable[[Api, Headers, str], Response]:
    return lambda api, headers, plan_id: api.client.get(
        url.format(plan_id=plan_id), headers=headers, params=params
    )


def _post(path: str, body: dict[str, str] | None = None) -> Callable[[Api, Headers, str], Response]:
    return lambda api, headers, plan_id: api.client.post(
        path.format(plan_id=plan_id), headers=headers, json=body
    )


def _propose(path: str) -> Callable[[Api, Headers, str], Response]:
    return lambda api, headers, _: api.client.post(path, headers=headers, json=api.fresh_mkdir("cell"))


CALLS: dict[str, Call] = {
    "verify": Call(None, _propose("/v1/plans/verify")),
    "submit": Call(None, _propose("/v1/plans"), 201),
    "list": Call(None, _get("/v1/plans")),
    "show": Call("pending", _get("/v1/plans/{plan_id}")),
    "approve": Call("pending", _post("/v1/plans/{plan_id}/approve", {"comment": "ok"})),
    "reject": Call("pending", _post("/v1/plans/{plan_id}/reject", {"comment": "no"})),
    "apply": Call("approved", _post("/v1/plans/{plan_id}/apply"), 202),  # queued: a worker applies it
    "revert": Call("applied", _post("/v1/plans/{plan_id}/revert"), 201),
    "audit": Call(None, _get("/v1/audit", path="matters/acme")),
    "history": Call(None, _get("/v1/history", path="matters/acme/inbox/0001.pdf")),
    "snapshot": Call(None, _get("/v1/snapshot", prefix="matters/acme")),
    "metrics": Call(None, _get("/metrics")),
    "healthz": Call(None, _get("/healthz")),
}

# What a successful call leaves the plan in (checked from the admin's view).
AFTER = {"approve": "approved", "reject": "rejected", "apply": "applied", "revert": "applied"}


def test_matrix_covers_every_role_and_endpoint() -> None:
    """The table names every person of the fixtures and every endpoint the tests call, once each."""
    assert sorted({who for who, _ in EXPECTED}) == sorted(PEOPLE.keys() - {"approver-2"})
    assert sorted(ENDPOINTS) == sorted(CALLS)


@pytest.mark.parametrize(("who", "endpoint"), list(EXPECTED))
def test_authorisation_matrix(world: Api, who: str, endpoint: str) -> None:
    """Each role gets the table's answer on each endpoint; a refusal is never 2xx and changes nothing."""
    call, expected = CALLS[endpoint], EXPECTED[who, endpoint]
    plan_id = "" if call.needs is None else world.plan_in(call.needs)
    response = call.send(world, world.auth(who), plan_id)
    if expected == "ok":
        assert response.status_code == call.success, response.text
    else:
        assert response.status_code == int(expected), response.text
        assert response.json()["error"]["code"] in {"forbidden", "not_allowed", "not_found"}
    if plan_id:
        state = world.settle(plan_id)["state"]
        assert state == (AFTER.get(endpoint, call.needs) if expected == "ok" else call.needs)


# -- without a valid token ------------------------------------------------------


def _credentials(world: Api, kind: str) -> Headers:
    return {
        "none": {},
        "basic scheme": {"Authorization": "Basic YWRtaW46YWRtaW4="},
        "empty bearer": {"Authorization": "Bearer "},
        "malformed": {"Authorization": "Bearer not-a-token"},
        "unknown": {"Authorization": "Bearer pva_" + "A" * 43},
        "admin secret, wrong scheme": {"Authorization": f"Token {world.secrets['admin']}"},
    }[kind]


CREDENTIALS = ["none", "basic scheme", "empty bearer", "malformed", "unknown", "admin secret, wrong scheme"]


@pytest.mark.parametrize("credentials", CREDENTIALS)
@pytest.mark.parametrize("endpoint", [e for e in ENDPOINTS if e != "healthz"])
def test_no_valid_token_is_401(world: Api, endpoint: str, credentials: str) -> None:
    """Every endpoint but /healthz answers 401 (WWW-Authenticate) to a missing, malformed or unknown token."""
    call = CALLS[endpoint]
    plan_id = "" if call.needs is None else world.plan_in(call.needs)
    response = call.send(world, _credentials(world, credentials), plan_id)
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["error"]["code"] == "unauthenticated"
    if plan_id:
        assert world.show(plan_id)["state"] == call.needs


def test_revoked_token_is_401(world: Api) -> None:
    """A revoked token is refused like an unknown one, on the next request."""
    _, secret = world.services.tokens.create("admin", "short-lived")
    headers = {"Authorization": f"Bearer {secret}"}
    assert world.client.get("/v1/plans", headers=headers).status_code == 200
    world.services.tokens.revoke("short-lived")
    assert world.client.get("/v1/plans", headers=headers).status_code == 401


def test_unauthenticated_garbage_is_401_not_422(world: Api) -> None:
    """A request with no token is refused before its body is read: invalid JSON still gets 401."""
    response = world.client.post(
        "/v1/plans", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 401
