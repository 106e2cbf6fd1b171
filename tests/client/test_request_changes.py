"""Request changes: an approver's per-op comments reach the agent as data (client, wait, CLI, tools)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from planner.agent.tools import ToolBox
from planner.cli.main import main
from planner.client.errors import ClientError
from planner.client.http_client import PvaClient
from planner.client.models import OpComment
from planner.core.states import PlanState
from tests.client.conftest import FILE_IT, write_plan


def test_the_agent_waits_and_gets_the_comments_per_op(as_: dict[str, PvaClient]) -> None:
    """alice asks for changes to op 2 (0-based); wait() ends with them, and so does the status tool."""
    plan_id = as_["agent"].submit(FILE_IT).id
    asked = as_["alice"].request_changes(plan_id, "do not delete the notes", {2: "keep m/notes.txt"})
    assert asked.state is PlanState.CHANGES_REQUESTED
    waited = as_["agent"].wait(plan_id, timeout=30)
    assert waited.state is PlanState.CHANGES_REQUESTED
    assert waited.rejection is not None
    assert (waited.rejection.actor, waited.rejection.comment) == ("alice", "do not delete the notes")
    assert waited.rejection.ops == [OpComment(op=2, comment="keep m/notes.txt")]
    answer = ToolBox(as_["agent"]).call("pva_plan_status", {"id": plan_id})
    assert answer["rejection"] == {
        "by": "alice",
        "comment": "do not delete the notes",
        "ops": [{"op": 2, "comment": "keep m/notes.txt"}],
    }
    assert answer["next"].startswith("an approver asked for changes")
    with pytest.raises(ClientError) as refused:  # final for this digest: revise and submit anew
        as_["alice"].approve(plan_id, "ok after all")
    assert refused.value.code == "illegal_transition"


def test_only_a_judge_may_ask_and_only_about_ops_the_plan_has(as_: dict[str, PvaClient]) -> None:
    """The author may not ask for changes to their plan (403); an op past the last is refused (422)."""
    plan_id = as_["agent"].submit(FILE_IT).id
    with pytest.raises(ClientError) as own:
        as_["agent"].request_changes(plan_id, "mine")
    assert own.value.code in ("not_allowed", "forbidden")
    with pytest.raises(ClientError) as outside:
        as_["alice"].request_changes(plan_id, "which op?", {3: "there is no fourth op"})
    assert outside.value.code == "invalid_request"
    assert as_["agent"].get(plan_id).state is PlanState.PENDING


def test_submit_wait_shows_the_changes_asked_with_ops_numbered_from_one(
    server: str, tokens: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """pva reject --request-changes --op 3:... reaches pva submit --wait, which exits 1 naming op 3."""
    with PvaClient(server, tokens["agent"]) as agent:
        plan_id = agent.submit(FILE_IT).id

    def ask_soon() -> None:
        asked = ["reject", plan_id, "-m", "split it", "--request-changes", "--op", "3:keep the notes"]
        code = main([*asked, "--server", server, "--token", tokens["alice"]])
        assert code == 0

    asking = threading.Timer(0.2, ask_soon)
    asking.start()
    try:
        code = main(
            [
                "submit",
                write_plan(tmp_path, FILE_IT),
                "--wait",
                "--server",
                server,
                "--token",
                tokens["agent"],
            ]
        )
    finally:
        asking.join()
    out = capsys.readouterr().out
    assert code == 1
    assert "changes requested by alice: split it" in out
    assert "op 3: keep the notes" in out
