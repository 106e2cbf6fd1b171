"""Rows forged into the workflow's mutable tables are caught by ``pva audit verify``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from planner.core.plan import Plan
from sidecar.settings import Settings
from sidecar.wiring import Services, open_services
from tests.support.apps import migrated_sqlite
from tests.support.files import write_files
from tests.support.plans import make_plan
from tests.support.tokens import AGENT, ALICE

MOVE = {"op": "move", "src": "matters/acme/inbox/a.pdf", "dst": "matters/acme/a.pdf"}


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Services]:
    write_files(tmp_path / "store", {"matters/acme/inbox/a.pdf": b"a"})
    url = migrated_sqlite(tmp_path, "pva.db")
    settings = Settings(
        store=str(tmp_path / "store"), database_url=url, auto_apply=False, apply_mode="request"
    )
    with open_services(settings) as live:
        live.tokens.create("approver", "alice", ["matters"])
        yield live


def _plan(title: str) -> Plan:
    return make_plan(MOVE, title=title)


def _sql(services: Services, statement: str, **values: object) -> None:
    with services.audit.engine.begin() as connection:
        connection.execute(text(statement), values)


def test_the_workflow_as_it_happened_verifies(services: Services) -> None:
    """Approvals, a rejection, an apply and token changes made through pva leave the audit intact."""
    dropped = services.plans.submit(_plan("dropped"), AGENT)
    services.plans.reject(dropped.digest, ALICE, "no")
    kept = services.plans.submit(_plan("kept"), AGENT)
    services.plans.approve(kept.digest, ALICE, "fine")
    assert services.plans.apply(kept.digest, ALICE).case.state.value == "applied"
    services.tokens.revoke("alice")
    assert services.audit.verify_chain() is None


def test_an_approval_written_into_a_case_by_hand_is_found(services: Services) -> None:
    """An approval added to plan_cases without its approval event breaks verification."""
    stored = services.plans.submit(_plan("forged"), AGENT)
    case = json.loads(_case_json(services, stored.digest))
    case["approvals"].append(
        {
            "approver": "mallory",
            "digest": stored.digest,
            "fingerprint": case["fingerprint"],
            "time": "2026-11-29T12:00:00.000000Z",
            "comment": "trust me",
        }
    )
    _sql(
        services,
        'UPDATE plan_cases SET "case" = :body WHERE digest = :digest',
        body=json.dumps(case),
        digest=stored.digest,
    )
    found = services.audit.verify_chain()
    assert found is not None
    assert "mallory approved it, but no approval event says so" in found.problem


def test_a_token_inserted_by_hand_is_found(services: Services) -> None:
    """A token row no 'token' event made (a secret hash of the forger's choosing) breaks verification."""
    _sql(
        services,
        "INSERT INTO tokens (id, name, role, scopes, secret_sha256, created, created_by) "
        "VALUES ('tok_0000000000ff', 'mallory', 'admin', '[\"*\"]', :hash, '2026-11-29 12:00:00', 'pva')",
        hash="ab" * 32,
    )
    found = services.audit.verify_chain()
    assert found is not None
    assert "token tok_0000000000ff (mallory) has no 'token' event" in found.problem


def test_a_revocation_undone_by_hand_is_found(services: Services) -> None:
    """Clearing a revoked token's revocation in the table contradicts its 'revoked' event."""
    services.tokens.revoke("alice")
    _sql(services, "UPDATE tokens SET revoked = NULL, revoked_by = NULL WHERE name = 'alice'")
    found = services.audit.verify_chain()
    assert found is not None
    assert "is live, which its events do not say" in found.problem


def _case_json(services: Services, digest: str) -> str:
    with services.audit.engine.connect() as connection:
        return str(
            connection.execute(
                text('SELECT "case" FROM plan_cases WHERE digest = :d'), {"d": digest}
            ).scalar()
        )
