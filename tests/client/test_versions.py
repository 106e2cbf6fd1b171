"""Revisions and partial approval through the Python client and the CLI, against a real app.

A revision supersedes the version its author names and its view shows the
difference and the discussion so far; an approver approves part of a plan
(the part is verified, derived, approved; the plan is superseded), or
nothing when the part does not stand on its own; the ethical wall holds.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from planner.agent.tools import ToolBox
from planner.cli.main import main
from planner.client.errors import ClientError
from planner.client.http_client import PvaClient
from planner.core.states import PlanState
from sidecar.settings import Settings
from tests.client.conftest import FILE_IT, TOKENS
from tests.support.tokens import create_tokens


@pytest.fixture
def tokens(settings: Settings) -> dict[str, str]:
    """The usual tokens, and an approver who sees only m/alice."""
    return create_tokens(settings.database_url, {**TOKENS, "narrow": ("approver", ["m/alice"])})


@pytest.fixture
def settings_store(settings: Settings) -> Path:
    return Path(settings.store)


REVISED = {
    **FILE_IT,
    "ops": [
        {"op": "mkdir", "path": "m/alice"},
        {"op": "move", "src": "m/inbox/1.pdf", "dst": "m/alice/1.pdf", "reason": "From: header names Alice"},
        {"op": "write", "path": "m/alice/index.csv", "content": "file\n1.pdf\n"},
    ],
}


def test_a_revision_supersedes_the_old_version_and_carries_its_discussion(as_: dict[str, PvaClient]) -> None:
    """Changes requested, revised, resubmitted: the view diffs op by op and shows the old comments."""
    old = as_["agent"].submit(FILE_IT).id
    as_["alice"].request_changes(old, "do not delete the notes", {2: "keep m/notes.txt", 1: "say why"})
    new = as_["agent"].submit(REVISED, supersedes=old)
    assert new.state is PlanState.PENDING
    shown = as_["alice"].get(new.id)
    assert shown.supersedes == old
    changes = {(c.change, c.op, c.previous_op): c for c in shown.changes or ()}
    assert set(changes) == {("changed", 1, 1), ("added", 2, None), ("removed", None, 2)}
    assert changes["changed", 1, 1].fields == ["reason"]
    assert changes["removed", None, 2].previous == {"op": "delete", "path": "m/notes.txt"}
    said = {(r.kind, r.comment, r.op, r.now_op, r.version) for r in shown.discussion}
    assert said == {
        ("changes_requested", "do not delete the notes", None, None, old),
        ("op_comment", "keep m/notes.txt", 2, None, old),  # the delete is gone from the new version
        ("op_comment", "say why", 1, 1, old),
    }
    before = as_["alice"].get(old)
    assert (before.state, before.superseded_by) == (PlanState.SUPERSEDED, new.id)
    with pytest.raises(ClientError) as again:  # superseded is final: revise the newest version
        as_["agent"].submit({**REVISED, "title": "Third"}, supersedes=old)
    assert again.value.code == "illegal_transition"


def test_only_an_author_may_supersede_a_plan(as_: dict[str, PvaClient]) -> None:
    """An approver who sees the plan may not supersede it (403); another agent does not even see it (404)."""
    old = as_["agent"].submit(FILE_IT).id
    with pytest.raises(ClientError) as judge:
        as_["alice"].submit(REVISED, supersedes=old)
    assert judge.value.code == "not_allowed"
    with pytest.raises(ClientError) as stranger:
        as_["other-agent"].submit(REVISED, supersedes=old)
    assert stranger.value.code == "not_found"
    assert as_["alice"].get(old).state is PlanState.PENDING
    assert [p.id for p in as_["auditor"].list()] == [old]  # the refused revisions were not recorded


def test_an_approver_approves_part_of_a_plan(as_: dict[str, PvaClient], settings_store: Path) -> None:
    """Without op 3 (0-based 2): the part is derived, approved, applied; the plan is superseded by it."""
    original = as_["agent"].submit(FILE_IT).id
    part = as_["alice"].approve(original, "file it, but keep the notes", without=[2])
    assert part.id != original
    assert part.derived is not None
    assert (part.derived.original, part.derived.approver, part.derived.without) == (original, "alice", [2])
    assert part.authors == ["agent"]  # the agent stays its author
    assert as_["agent"].wait(part.id, timeout=60).state is PlanState.APPLIED
    assert (settings_store / "m/notes.txt").read_bytes() == b"old notes"
    assert (settings_store / "m/alice/1.pdf").read_bytes() == b"contract"
    before = as_["agent"].get(original)
    assert (before.state, before.superseded_by) == (PlanState.SUPERSEDED, part.id)
    shown = as_["agent"].get(part.id)
    assert shown.supersedes == original
    assert [(c.change, c.previous_op) for c in shown.changes or ()] == [("removed", 2)]
    assert [(a.approver, a.comment) for a in shown.approvals] == [("alice", "file it, but keep the notes")]


def test_a_part_that_fails_verification_approves_nothing(as_: dict[str, PvaClient]) -> None:
    """Without the mkdir a later move needs: refused with the reason (op 2), the plan stays pending."""
    original = as_["agent"].submit(FILE_IT).id
    with pytest.raises(ClientError) as refused:
        as_["alice"].approve(original, "only the move and the delete", without=[0])
    assert refused.value.code == "part_refused"
    assert "parent_not_found (op 2)" in refused.value.message
    assert as_["alice"].get(original).state is PlanState.PENDING
    assert [p.id for p in as_["auditor"].list()] == [original]  # no part was recorded


def test_partial_approval_from_the_cli_numbers_ops_from_one(
    server: str, tokens: dict[str, str], settings_store: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """pva approve ID --without 3 leaves the delete (op 3 as people count) out of what is applied."""
    with PvaClient(server, tokens["agent"]) as agent:
        original = agent.submit(FILE_IT).id
    code = main(
        [
            "approve",
            original,
            "--without",
            "3",
            "-m",
            "keep the notes",
            "--json",
            "--server",
            server,
            "--token",
            tokens["alice"],
        ]
    )
    assert code == 0
    answer = json.loads(capsys.readouterr().out)
    assert (answer["derived"]["original"], answer["derived"]["without"]) == (original, [2])
    assert (settings_store / "m/notes.txt").exists()
    assert (settings_store / "m/alice/1.pdf").exists()
    with PvaClient(server, tokens["alice"]) as alice:
        assert alice.get(original).state is PlanState.SUPERSEDED
    assert (
        main(
            ["approve", original, "--without", "0", "-m", "x", "--server", server, "--token", tokens["alice"]]
        )
        == 2
    )  # ops are numbered from 1


SECRET = {
    **FILE_IT,
    "title": "Secret matter title QX7",
    "ops": [
        {"op": "mkdir", "path": "m/alice"},
        {"op": "delete", "path": "m/notes.txt", "reason": "secret reason QX7"},
    ],
}
NARROW = {
    "pva": "plan/v1",
    "title": "Only a folder",
    "scope": ["m/alice"],
    "ops": [{"op": "mkdir", "path": "m/alice"}],
}


def test_who_may_not_see_the_old_version_gets_nothing_of_it(
    as_: dict[str, PvaClient], http: TestClient, tokens: dict[str, str]
) -> None:
    """A narrow approver sees the revision but no byte of the old one: id, title, reasons, comments."""
    old = as_["agent"].submit(SECRET).id
    as_["alice"].request_changes(old, "secret comment QX7", {1: "secret op comment QX7"})
    new = as_["agent"].submit(NARROW, supersedes=old).id
    assert as_["alice"].get(new).supersedes == old  # alice sees both: the link is there for her
    raw = http.get(f"/v1/plans/{new}", headers={"Authorization": f"Bearer {tokens['narrow']}"})
    assert raw.status_code == 200
    assert raw.json()["supersedes"] is None
    assert raw.json()["changes"] is None
    assert raw.json()["discussion"] == []
    page = _page_as(http, tokens["narrow"], f"/plans/{new}")
    assert page.status_code == 200
    assert "Only a folder" in page.text
    for body in (raw.text, page.text):
        assert "QX7" not in body
        assert old not in body
        assert old[:12] not in body


def _page_as(http: TestClient, secret: str, path: str) -> Any:
    form = http.get("/sign-in")
    csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', form.text)
    assert csrf is not None
    origin = {"Origin": "http://testserver"}
    signed = http.post("/sign-in", data={"token": secret, "csrf": csrf.group(1), "next": "/"}, headers=origin)
    assert signed.status_code in (200, 303)
    return http.get(path)


def _csrf(page: Any) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', page.text)
    assert found is not None
    return found.group(1)


ORIGIN = {"Origin": "http://testserver"}


def test_the_page_asks_for_changes_and_shows_them_on_the_revision(
    as_: dict[str, PvaClient], http: TestClient, tokens: dict[str, str]
) -> None:
    """The page's form sends the overall and per-op comments; the revision's page diffs and carries them."""
    old = as_["agent"].submit(FILE_IT).id
    page = _page_as(http, tokens["alice"], f"/plans/{old}")
    assert 'formaction="/plans/' in page.text
    assert "Request changes" in page.text
    form = {"comment": "split it", "note-2": "keep m/notes.txt", "note-0": "  ", "csrf": _csrf(page)}
    sent = http.post(f"/plans/{old}/request-changes", data=form, headers=ORIGIN, follow_redirects=False)
    assert sent.status_code == 303, sent.text
    asked = as_["agent"].get(old)
    assert asked.state is PlanState.CHANGES_REQUESTED
    assert asked.rejection is not None
    assert [(c.op, c.comment) for c in asked.rejection.ops] == [(2, "keep m/notes.txt")]
    new = as_["agent"].submit(REVISED, supersedes=old).id
    shown = http.get(f"/plans/{new}").text
    assert "What changed since the previous version" in shown
    assert "keep m/notes.txt" in shown
    assert "(not in this plan)" in shown
    assert [shown.count(f'class="change-{kind}"') for kind in ("added", "removed", "changed")] == [1, 1, 1]
    assert f'href="/plans/{old}"' in shown
    assert f'href="/plans/{new}"' in http.get(f"/plans/{old}").text  # the old page links to the new


def test_the_page_approves_only_the_ticked_ops_or_says_why_not(
    as_: dict[str, PvaClient], http: TestClient, tokens: dict[str, str]
) -> None:
    """Unticking the delete approves the part; unticking the mkdir approves nothing and says why."""
    original = as_["agent"].submit(FILE_IT).id
    page = _page_as(http, tokens["alice"], f"/plans/{original}")
    assert page.text.count('name="keep"') == 3
    form: dict[str, Any] = {"comment": "not the mkdir", "shown": ["0", "1", "2"], "keep": ["1", "2"]}
    refused = http.post(
        f"/plans/{original}/approve",
        data=form | {"csrf": _csrf(page)},
        headers=ORIGIN,
        follow_redirects=False,
    )
    assert refused.status_code == 422
    assert "Nothing was approved" in refused.text
    assert "parent_not_found" in refused.text
    assert as_["alice"].get(original).state is PlanState.PENDING
    form = {"comment": "keep the notes", "shown": ["0", "1", "2"], "keep": ["0", "1"]}
    sent = http.post(
        f"/plans/{original}/approve",
        data=form | {"csrf": _csrf(page)},
        headers=ORIGIN,
        follow_redirects=False,
    )
    assert sent.status_code == 303, sent.text
    part = as_["alice"].get(original).superseded_by
    assert part is not None
    assert sent.headers["location"].startswith(f"/plans/{part}")
    assert as_["alice"].wait(part, timeout=60).state is PlanState.APPLIED
    shown = http.get(f"/plans/{part}").text
    assert "alice approved" in shown
    assert "without op 3" in shown


def test_the_submit_tool_revises_a_plan_and_says_so(as_: dict[str, PvaClient]) -> None:
    """The function-calling (and MCP) submit tool takes 'supersedes' and answers with the link both ways."""
    old = as_["agent"].submit(FILE_IT).id
    as_["alice"].request_changes(old, "do not delete the notes", {2: "keep m/notes.txt"})
    tools = ToolBox(as_["agent"])
    answer = tools.call("pva_submit_plan", {"plan": REVISED, "supersedes": old})
    assert answer["ok"] is True, answer
    assert answer["supersedes"] == old
    before = tools.call("pva_plan_status", {"id": old})
    assert (before["state"], before["superseded_by"]) == ("superseded", answer["id"])
    assert before["next"].startswith("replaced by another version")
