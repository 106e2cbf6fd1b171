"""Legal holds over HTTP: who places and releases them, who sees them, and how they stop plans.

A hold is checked at submit (rejected, ``on_hold``), at approval and under the
apply lock (a hold placed after approval wins: the plan goes ``stale`` and
nothing moves). Lists are walled: canary strings in the matters and reasons
of holds outside a caller's scope must never reach them.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text

from sidecar import db
from tests.api.support import SEED, Api, MakeApi, tree
from tests.support.plans import plan_doc

COUNSEL = {"counsel": ("counsel", ("matters/acme",)), "counsel-globex": ("counsel", ("matters/globex",))}
INBOX = "matters/acme/inbox"
HELD = "matters/acme/inbox/0002.pdf"


@pytest.fixture
def held_api(make_api: MakeApi) -> Api:
    """The app with auto_apply off and two counsel: one for acme, one for globex."""
    api = make_api(auto_apply=False)
    for name, (role, scopes) in COUNSEL.items():
        api.secrets[name] = api.services.tokens.create(role, name, list(scopes))[1]
    return api


def place(api: Api, who: str, paths: list[str], matter: str = "Acme v. Doe", status: int = 201) -> Any:
    response = api.post("/v1/holds", who, json={"paths": paths, "matter": matter, "reason": "litigation"})
    assert response.status_code == status, response.text
    return response.json()


def release(api: Api, who: str, hold_id: str, status: int = 200) -> Any:
    response = api.post(f"/v1/holds/{hold_id}/release", who, json={"reason": "matter closed"})
    assert response.status_code == status, response.text
    return response.json()


def rename_held() -> dict[str, Any]:
    return plan_doc({"op": "rename", "path": HELD, "name": "0002 invoice.pdf"}, title="Name the invoice")


def test_counsel_and_admins_place_holds_within_their_scope(held_api: Api) -> None:
    """Counsel places a hold in scope (201); outside it, as an agent or approver: 403; on nothing: 422."""
    hold = place(held_api, "counsel", [INBOX])
    assert hold["id"].startswith("hold_")
    assert (hold["status"], hold["paths"], hold["placed_by"]) == ("active", [INBOX], "counsel")
    place(held_api, "counsel", ["matters/globex/inbox"], status=403)
    place(held_api, "agent", [INBOX], status=403)
    place(held_api, "approver", [INBOX], status=403)
    place(held_api, "counsel", ["matters/acme/nothing-here"], status=422)
    place(held_api, "admin", ["matters/globex/inbox"])
    release(held_api, "agent", hold["id"], status=403)
    released = release(held_api, "counsel", hold["id"])
    assert (released["status"], released["released_by"]) == ("released", "counsel")
    assert release(held_api, "counsel", hold["id"])["released"] == released["released"]  # once only


def test_a_plan_that_moves_a_held_file_is_rejected_at_submit(held_api: Api) -> None:
    """Submitting a rename of a file in a held folder is rejected (on_hold), as verify foretold."""
    place(held_api, "counsel", [INBOX])
    verified = held_api.post("/v1/plans/verify", "agent", json=rename_held()).json()
    assert [d["code"] for d in verified["diagnostics"]] == ["on_hold"]
    plan = held_api.submit(rename_held())
    assert plan["state"] == "rejected"
    assert [(d["code"], d["path"]) for d in plan["diagnostics"]] == [("on_hold", HELD)]


def test_new_files_may_be_filed_into_a_held_folder(held_api: Api) -> None:
    """A write of a new file inside a held folder applies; the held files stay as they were."""
    place(held_api, "counsel", [INBOX])
    plan = held_api.submit(plan_doc({"op": "write", "path": f"{INBOX}/0003.txt", "content": "new\n"}))
    held_api.decide(plan["id"], "approve")
    assert held_api.apply(plan["id"])["state"] == "applied"
    assert tree(held_api.root)[f"{INBOX}/0003.txt"] == b"new\n"


def test_a_hold_placed_before_approval_makes_the_plan_stale(held_api: Api) -> None:
    """A hold placed while a plan waits makes approving it mark it stale with on_hold, and nothing moves."""
    plan = held_api.submit(rename_held())
    assert plan["state"] == "pending"
    place(held_api, "counsel", [HELD])
    decided = held_api.decide(plan["id"], "approve")
    assert decided["state"] == "stale"
    assert [d["code"] for d in decided["diagnostics"]] == ["on_hold"]
    assert tree(held_api.root)[HELD] == SEED[HELD]


def test_a_hold_placed_after_approval_wins_at_apply(held_api: Api) -> None:
    """Approved, held, then applied: the apply goes stale and changes nothing; once released, it applies."""
    before = tree(held_api.root)
    plan = held_api.submit(rename_held())
    assert held_api.decide(plan["id"], "approve")["state"] == "approved"
    hold = place(held_api, "counsel", [INBOX])
    applied = held_api.apply(plan["id"])
    assert applied["state"] == "stale"
    assert [d["code"] for d in applied["diagnostics"]] == ["on_hold"]
    assert tree(held_api.root) == before
    release(held_api, "counsel", hold["id"])
    again = held_api.submit(rename_held(), status=200)
    assert again["state"] == "approved"  # the approval binds to the same state of the store: it counts again
    assert held_api.apply(plan["id"])["state"] == "applied"
    assert f"{INBOX}/0002 invoice.pdf" in tree(held_api.root)


def test_holds_are_listed_behind_the_ethical_wall(held_api: Api) -> None:
    """Each caller sees holds in scope whole, holds reaching in from above redacted, and nothing of others."""
    acme = place(held_api, "counsel", [INBOX], matter="CANARY-ACME-MATTER")
    globex = place(held_api, "counsel-globex", ["matters/globex/inbox"], matter="CANARY-GLOBEX-MATTER")
    wide = place(held_api, "admin", ["matters"], matter="CANARY-WIDE-MATTER")
    response = held_api.get("/v1/holds", "agent")
    assert response.status_code == 200
    assert "CANARY-GLOBEX" not in response.text
    assert "globex" not in response.text
    assert "CANARY-WIDE" not in response.text
    assert "admin" not in response.text
    shown = {hold["id"]: hold for hold in response.json()["holds"]}
    assert set(shown) == {acme["id"], wide["id"]}
    assert shown[acme["id"]]["matter"] == "CANARY-ACME-MATTER"
    assert shown[wide["id"]]["redacted"] is True
    assert shown[wide["id"]]["paths"] == ["matters/acme"]
    assert held_api.get(f"/v1/holds/{globex['id']}", "agent").status_code == 404
    assert held_api.get(f"/v1/holds/{globex['id']}", "counsel").status_code == 404
    release(held_api, "counsel", wide["id"], status=403)  # only who sees all of it may release it
    everything = held_api.get("/v1/holds", "admin").text
    assert all(canary in everything for canary in ("CANARY-ACME", "CANARY-GLOBEX", "CANARY-WIDE"))


def test_hold_events_are_in_the_audit_chain_and_rows_are_checked(held_api: Api) -> None:
    """Placing and releasing append hold events; a hold released behind pva's back breaks verification."""
    hold = place(held_api, "counsel", [INBOX])
    kinds = [link.kind for link in held_api.services.audit.links()]
    assert "hold_placed" in kinds
    assert held_api.services.audit.verify_chain() is None
    engine = db.make_engine(held_api.settings.database_url)
    try:
        with engine.begin() as connection:
            connection.execute(
                text("UPDATE holds SET released_by = 'mallory' WHERE id = :id"), {"id": hold["id"]}
            )
    finally:
        engine.dispose()
    broken = held_api.services.audit.verify_chain()
    assert broken is not None
    assert hold["id"] in broken.problem


def test_only_who_may_approve_learns_of_a_hold_by_approving(held_api: Api) -> None:
    """Its author approving a held plan is refused (403) and the plan stays pending, not stale."""
    plan = held_api.submit(rename_held())
    place(held_api, "counsel", [HELD])
    response = held_api.post(f"/v1/plans/{plan['id']}/approve", "agent", json={"comment": "mine"})
    assert response.status_code == 403
    assert held_api.show(plan["id"])["state"] == "pending"
