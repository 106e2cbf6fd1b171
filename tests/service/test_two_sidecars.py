"""Two sidecar processes on one PostgreSQL database and one store: concurrent work stays consistent.

Many clients submit and approve overlapping and disjoint plans through
both sidecars at once; then every plan's apply is raced on both, all plans
at once.
Afterwards: no plan applied twice, of two plans moving the same file
exactly one applied, every document is in exactly one place, the workflow's
states agree with the audit, and the hash chain is intact.
"""

from __future__ import annotations

import hashlib
import itertools
import random
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from sidecar import db
from sidecar.audit.store import SqlAuditStore
from sidecar.service.cases import SqlCaseStore
from sidecar.tokens import TokenStore
from tests.databases import postgres_database
from tests.servers import sidecar

MATTERS = 6
FILES = 4
WORKERS = 12


def _seed(store: Path) -> dict[str, str]:
    """Six matters of four files each; returns path -> sha256 of every document."""
    documents = {}
    for matter, number in itertools.product(range(MATTERS), range(FILES)):
        path = store / "matters" / f"m{matter}" / "inbox" / f"f{number}.pdf"
        path.parent.mkdir(parents=True, exist_ok=True)
        data = f"matter {matter} document {number}".encode()
        path.write_bytes(data)
        documents[str(path.relative_to(store))] = hashlib.sha256(data).hexdigest()
    return documents


def _plans() -> tuple[list[dict[str, Any]], list[tuple[int, int]]]:
    """Disjoint plans (one per matter) and rival pairs (two plans moving the same file elsewhere)."""
    plans: list[dict[str, Any]] = []
    rivals = []
    for matter in range(MATTERS):
        base = f"matters/m{matter}"
        filing = [{"op": "mkdir", "path": f"{base}/filed"}] + [
            {"op": "move", "src": f"{base}/inbox/f{n}.pdf", "dst": f"{base}/filed/f{n}.pdf"} for n in (1, 2)
        ]
        plans.append({"pva": "plan/v1", "title": f"file m{matter}", "scope": [base], "ops": filing})
        first = len(plans)
        for side in ("left", "right"):  # both move f3, to different folders: only one can apply
            ops = [
                {"op": "mkdir", "path": f"{base}/{side}"},
                {"op": "move", "src": f"{base}/inbox/f3.pdf", "dst": f"{base}/{side}/f3.pdf"},
            ]
            plans.append({"pva": "plan/v1", "title": f"{side} m{matter}", "scope": [base], "ops": ops})
        rivals.append((first, first + 1))
    return plans, rivals


# The one refusal an apply may meet here: the racing apply (or the rival plan) already settled the
# plan as stale, and a stale plan does not apply (workflow.start_apply). Which request sees it
# depends on timing alone (a busy machine finishes the first apply before the second arrives).
STALE_REFUSAL = (409, "illegal_transition")
ACCEPTED = (200, 202)  # applied (or found applied), or queued for a worker


def _call(url: str, path: str, token: str, body: Any = None) -> tuple[int, dict[str, Any]]:
    with httpx.Client(timeout=120) as http:
        response = http.post(f"{url}{path}", json=body, headers={"Authorization": f"Bearer {token}"})
    result: dict[str, Any] = response.json()
    return response.status_code, result


def _succeeding(url: str, path: str, token: str, body: Any = None) -> dict[str, Any]:
    status, result = _call(url, path, token, body)
    assert status in (200, 201), result
    return result


def _propose(plan: dict[str, Any], urls: list[str], tokens: dict[str, str], seed: int) -> tuple[str, str]:
    """Submit through one sidecar and approve through either; the plan's id and who approved it."""
    rng = random.Random(seed)
    plan_id = _succeeding(rng.choice(urls), "/v1/plans", tokens["agent"], plan)["id"]
    approver = rng.choice(["alice", "bob"])
    _succeeding(rng.choice(urls), f"/v1/plans/{plan_id}/approve", tokens[approver], {"comment": "checked"})
    return plan_id, approver


def _race(plan_id: str, approver: str, urls: list[str], tokens: dict[str, str]) -> list[tuple[int, Any]]:
    """Apply the plan through both sidecars at once; each answer is applied or the stale refusal."""
    with ThreadPoolExecutor(2) as racing:
        outcomes = list(
            racing.map(lambda url: _call(url, f"/v1/plans/{plan_id}/apply", tokens[approver]), urls)
        )
    for status, body in outcomes:
        assert status in ACCEPTED or (status, body["error"]["code"]) == STALE_REFUSAL, body
    return outcomes


def _settled(url: str, plan_id: str, token: str) -> str:
    """The plan's state once no worker is applying it (each answer waits up to 30 s)."""
    with httpx.Client(timeout=120) as http:
        for _ in range(10):
            answer = http.get(
                f"{url}/v1/plans/{plan_id}", params={"wait": 30}, headers={"Authorization": f"Bearer {token}"}
            )
            state = str(answer.json()["state"])
            if state != "applying":
                return state
    return state


def _where(store: Path) -> Counter[str]:
    """How many times each document's content appears in the store (outside .pva)."""
    found: Counter[str] = Counter()
    for path in store.rglob("*.pdf"):
        if ".pva" not in path.relative_to(store).parts:
            found[hashlib.sha256(path.read_bytes()).hexdigest()] += 1
    return found


@pytest.fixture
def postgres_url() -> Any:
    with postgres_database() as url:
        db.upgrade(url)
        yield url


def test_two_sidecars_serialise_overlapping_plans_and_never_apply_twice(
    tmp_path: Path, postgres_url: str
) -> None:
    """Under concurrent submits, approvals and applies through two sidecars, every invariant holds."""
    store = tmp_path / "store"
    documents = _seed(store)
    with db.opened(TokenStore, postgres_url) as token_store:
        tokens = {
            "agent": token_store.create("agent", "agent-1", ["matters"])[1],
            "alice": token_store.create("approver", "alice", ["matters"])[1],
            "bob": token_store.create("approver", "bob", ["matters"])[1],
        }
    plans, rivals = _plans()
    with (
        sidecar(store, postgres_url, tmp_path / "one.log", auto_apply="false") as one,
        sidecar(store, postgres_url, tmp_path / "two.log", auto_apply="false") as two,
        ThreadPoolExecutor(WORKERS) as pool,
    ):
        # Every plan is submitted and approved before any applies: a rival applied first would make
        # the other's submit a refusal (its file is gone), and which one that is depends on timing.
        urls = [one, two]
        proposed = list(pool.map(lambda pair: _propose(pair[1], urls, tokens, pair[0]), enumerate(plans)))
        raced = list(pool.map(lambda chosen: _race(chosen[0], chosen[1], urls, tokens), proposed))
        results = [(plan_id, outcomes) for (plan_id, _), outcomes in zip(proposed, raced, strict=True)]
        for plan_id, _ in results:  # the workers apply after the answers: wait for every one to end
            assert _settled(one, plan_id, tokens["alice"]) != "applying"

    ids = [plan_id for plan_id, _ in results]
    with db.opened(SqlAuditStore, postgres_url) as audit:
        applies = Counter(
            event.digest
            for event in audit.events(limit=100_000)
            if event.kind == "apply" and event.payload["status"] == "applied"
        )
        assert audit.verify_chain() is None
        statuses = {summary.digest: summary.status for summary in audit.list_plans(limit=1000)}
    assert max(applies.values()) == 1, "a plan was applied twice"
    refused = {plan_id for plan_id, outcomes in results if any(s not in ACCEPTED for s, _ in outcomes)}
    with db.opened(SqlCaseStore, postgres_url) as cases:
        states = {plan_id: cases.get(plan_id).case.state.value for plan_id in ids}  # type: ignore[union-attr]
    assert states == {plan_id: statuses[plan_id] for plan_id in ids}, "the workflow and the audit disagree"
    assert {plan_id: states[plan_id] for plan_id in refused} == dict.fromkeys(refused, "stale")
    for left, right in rivals:
        pair = Counter((states[ids[left]], states[ids[right]]))
        assert pair["applied"] == 1, pair
        assert pair["stale"] + pair["failed"] == 1, pair
        assert applies[ids[left]] + applies[ids[right]] == 1
    for index, plan in enumerate(plans):
        if plan["title"].startswith("file"):
            assert states[ids[index]] == "applied"
    assert _where(store) == Counter(documents.values()), "a document was lost or duplicated"
