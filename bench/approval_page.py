"""Benchmark ``page``: the approval page of a 10,000-op plan (first page) against the plan's JSON view.

The app is served in process (``TestClient``: no socket, so what is timed is
the server's work plus the test client's, the same on both sides) over a
store of 10,000 files and a fresh SQLite database. A 10,000-move plan is
submitted once; then, taking turns, an approver's ``GET /plans/{id}`` (the
HTML page: the first 100 ops, the first page of each tree) and an agent's
``GET /v1/plans/{id}`` (the JSON view: the plan, its report and effect),
the medians of the repetitions. Goal: the page at most **2x** the JSON view.
"""

from __future__ import annotations

import re
import tempfile
import time

from fastapi.testclient import TestClient

from bench.corpus import Layout, data_dir
from bench.harness import Goal, Result, Sizes, median
from bench.sandbox import on_disk_store
from sidecar import db
from sidecar.app import create_app
from sidecar.settings import Settings
from sidecar.tokens import TokenStore

PAGE_GOAL = Goal(2, at_least=False)
ORIGIN = {"Origin": "http://testserver"}


def run(sizes: Sizes) -> Result:
    layout = Layout(matters=10, files_per_inbox=1000) if sizes.repeats >= 3 else Layout(1, 1000)
    moves = layout.matters * layout.files_per_inbox
    result = Result("page", f"approval page of a {moves:,}-move plan, first page, against its JSON view")
    store = on_disk_store(layout)
    with tempfile.TemporaryDirectory(dir=data_dir(), prefix="pva-page-") as work:
        url = f"sqlite:///{work}/pva.db"
        db.upgrade(url)
        with db.opened(TokenStore, url) as tokens:
            agent = tokens.create("agent", "agent-bench", ["matters"])[1]
            approver = tokens.create("approver", "approver-bench", ["matters"])[1]
        app = create_app(Settings(store=str(store), database_url=url))
        with TestClient(app, follow_redirects=False) as client:
            plan_id = _submit(client, agent, layout)
            _sign_in(client, approver)
            page_seconds, json_seconds = [], []
            for _ in range(7 if sizes.repeats >= 3 else 3):
                page_seconds.append(_get(client, f"/plans/{plan_id}", {}))
                json_seconds.append(
                    _get(client, f"/v1/plans/{plan_id}", {"Authorization": f"Bearer {agent}"})
                )
    ratio = median(page_seconds) / median(json_seconds)
    result.add("GET /v1/plans/{id} (JSON view)", median(json_seconds) * 1000, "ms")
    result.add("GET /plans/{id} (approval page, first page)", median(page_seconds) * 1000, "ms")
    result.add("ratio page / JSON view", ratio, "x", PAGE_GOAL)
    result.data.update(page=page_seconds, json=json_seconds, moves=moves)
    return result


def _submit(client: TestClient, agent: str, layout: Layout) -> str:
    ops = [
        {"op": "move", "src": layout.file(m, i), "dst": f"{layout.matter(m)}/{layout.file_name(m, i)}"}
        for m in range(layout.matters)
        for i in range(layout.files_per_inbox)
    ]
    plan = {"pva": "plan/v1", "title": "File every inbox", "scope": ["matters"], "ops": ops}
    answer = client.post("/v1/plans", json=plan, headers={"Authorization": f"Bearer {agent}"})
    if answer.status_code != 201:
        raise AssertionError(f"submit: {answer.status_code} {answer.text[:300]}")
    if answer.json()["state"] != "pending":
        raise AssertionError(f"the plan should wait for approval: {answer.json()['state']}")
    return str(answer.json()["id"])


def _sign_in(client: TestClient, secret: str) -> None:
    form = client.get("/sign-in")
    csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', form.text)
    assert csrf is not None
    answer = client.post(
        "/sign-in", data={"token": secret, "csrf": csrf.group(1), "next": "/"}, headers=ORIGIN
    )
    if answer.status_code != 303:
        raise AssertionError(f"sign-in: {answer.status_code}")


def _get(client: TestClient, path: str, headers: dict[str, str]) -> float:
    start = time.perf_counter()
    answer = client.get(path, headers=headers)
    seconds = time.perf_counter() - start
    if answer.status_code != 200:
        raise AssertionError(f"GET {path}: {answer.status_code} {answer.text[:300]}")
    return seconds
