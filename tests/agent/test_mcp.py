"""``pva mcp`` over stdio, driven by the MCP SDK's own client, against a real sidecar on a socket."""

from __future__ import annotations

import json
import os
import sys
from typing import Any

import anyio
import mcp_types as types
from mcp import Client, StdioServerParameters
from mcp.client.session import ClientRequestContext, ElicitationFnT

from planner.agent.mcp_server import SCHEMA_URI
from planner.client.http_client import PvaClient
from planner.core.schema import plan_json_schema
from tests.agent.conftest import MATTER

PLAN = {
    "pva": "plan/v1",
    "title": "File one e-mail",
    "scope": [MATTER],
    "ops": [
        {"op": "mkdir", "path": f"{MATTER}/alice"},
        {
            "op": "move",
            "src": f"{MATTER}/discovery/inbox/0001.eml",
            "dst": f"{MATTER}/alice/0001.eml",
            "reason": "From: Alice Smith",
        },
    ],
}


def _session(server: str, token: str) -> dict[str, Any]:
    """List the tools, read the schema, verify, submit and read the status, over one stdio session."""
    parameters = StdioServerParameters(
        command=sys.executable,
        args=["-m", "planner.cli.main", "mcp"],
        env={"PVA_URL": server, "PVA_TOKEN": token, "PATH": os.environ.get("PATH", "")},
    )
    seen: dict[str, Any] = {}

    async def main() -> None:
        async with Client(parameters, mode="legacy") as client:
            seen["tools"] = (await client.list_tools()).tools
            schema = await client.read_resource(SCHEMA_URI)
            seen["schema"] = json.loads(schema.contents[0].text)  # type: ignore[union-attr]
            seen["verify"] = await client.call_tool("pva_verify_plan", {"plan": PLAN})
            seen["submit"] = await client.call_tool("pva_submit_plan", {"plan": PLAN})
            plan_id = seen["submit"].structured_content["id"]
            seen["status"] = await client.call_tool("pva_plan_status", {"id": plan_id})
            seen["approve"] = await client.call_tool("pva_approve_plan", {"id": plan_id})
            seen["listed"] = await client.call_tool("pva_list_folder", {"path": "matters/acme/discovery"})
            seen["read"] = await client.call_tool(
                "pva_read_file", {"path": "matters/acme/discovery/inbox/0001.eml", "max_bytes": 5}
            )
            seen["search"] = await client.call_tool(
                "pva_search_names", {"path": "matters/acme", "pattern": "*.eml"}
            )

    anyio.run(main)
    return seen


def test_mcp_over_stdio_proposes_but_cannot_approve(server: str, tokens: dict[str, str]) -> None:
    """Over stdio: the tools, none approving, and the schema; verify, submit, status and reads work."""
    seen = _session(server, tokens["agent"])
    names = {tool.name for tool in seen["tools"]}
    assert names == {
        "pva_verify_plan",
        "pva_submit_plan",
        "pva_plan_status",
        "pva_list_folder",
        "pva_read_file",
        "pva_search_names",
        "pva_document_history",
        "pva_list_holds",
    }
    assert seen["schema"] == plan_json_schema()
    verified = seen["verify"].structured_content
    assert verified["ok"] is True
    submitted = seen["submit"].structured_content
    assert (submitted["state"], submitted["id"]) == ("pending", verified["digest"])
    assert seen["status"].structured_content["state"] == "pending"
    assert seen["approve"].is_error
    assert [e["name"] for e in seen["listed"].structured_content["entries"]] == ["inbox"]
    assert seen["read"].structured_content["truncated"] is True
    assert len(seen["search"].structured_content["matches"]) > 1


def test_mcp_resubmits_a_revision_after_changes_were_requested(server: str, tokens: dict[str, str]) -> None:
    """Over stdio: the comments come back per op, and the revision submitted with 'supersedes' replaces it."""
    move = {
        "op": "move",
        "src": f"{MATTER}/discovery/inbox/0001.eml",
        "dst": f"{MATTER}/alice/0001.eml",
        "reason": "From: alice@acme.example",
    }
    revised = {**PLAN, "ops": [{"op": "mkdir", "path": f"{MATTER}/alice"}, move]}
    parameters = StdioServerParameters(
        command=sys.executable,
        args=["-m", "planner.cli.main", "mcp"],
        env={"PVA_URL": server, "PVA_TOKEN": tokens["agent"], "PATH": os.environ.get("PATH", "")},
    )
    seen: dict[str, Any] = {}

    async def main() -> None:
        async with Client(parameters, mode="legacy") as client:
            submitted = await client.call_tool("pva_submit_plan", {"plan": PLAN})
            old = submitted.structured_content["id"]
            with PvaClient(server, tokens["alice"]) as alice:
                await anyio.to_thread.run_sync(
                    lambda: alice.request_changes(old, "name the sender", {1: "give the address"})
                )
            seen["asked"] = (await client.call_tool("pva_plan_status", {"id": old})).structured_content
            answer = await client.call_tool("pva_submit_plan", {"plan": revised, "supersedes": old})
            seen["new"] = answer.structured_content
            seen["old"] = (await client.call_tool("pva_plan_status", {"id": old})).structured_content

    anyio.run(main)
    assert seen["asked"]["rejection"]["ops"] == [{"op": 1, "comment": "give the address"}]
    assert "supersedes" in seen["asked"]["next"]
    assert (seen["new"]["state"], seen["new"]["supersedes"]) == ("pending", seen["old"]["id"])
    assert (seen["old"]["state"], seen["old"]["superseded_by"]) == ("superseded", seen["new"]["id"])


def _submit_with(server: str, token: str, elicit: Any) -> tuple[dict[str, Any], list[Any]]:
    """Submit PLAN through ``pva mcp`` over stdio with a client whose elicitation callback is ``elicit``."""
    parameters = StdioServerParameters(
        command=sys.executable,
        args=["-m", "planner.cli.main", "mcp"],
        env={"PVA_URL": server, "PVA_TOKEN": token, "PATH": os.environ.get("PATH", "")},
    )
    asked: list[Any] = []
    seen: dict[str, Any] = {}

    async def answer(context: ClientRequestContext, params: types.ElicitRequestParams) -> types.ElicitResult:
        asked.append(params)
        return types.ElicitResult(action=elicit)

    async def main() -> None:
        callback: ElicitationFnT | None = answer if elicit is not None else None
        async with Client(parameters, mode="legacy", elicitation_callback=callback) as client:
            seen.update((await client.call_tool("pva_submit_plan", {"plan": PLAN})).structured_content or {})

    anyio.run(main)
    return seen, asked


def test_mcp_submit_hands_the_page_to_the_client_and_its_accept_approves_nothing(
    server: str, tokens: dict[str, str]
) -> None:
    """A client with URL elicitation is asked to open the plan's page; its 'accept' leaves it pending."""
    seen, asked = _submit_with(server, tokens["agent"], "accept")
    assert seen["page"] == f"{server}/plans/{seen['id']}"
    assert [(p.mode, p.url) for p in asked] == [("url", seen["page"])]
    assert "approves nothing" in asked[0].message
    assert seen["handoff"] == "accept"
    with PvaClient(server, tokens["alice"]) as alice:
        shown = alice.get(seen["id"])
    assert (shown.state, shown.approvals) == ("pending", [])


def test_mcp_submit_without_url_elicitation_still_returns_the_page(
    server: str, tokens: dict[str, str]
) -> None:
    seen, asked = _submit_with(server, tokens["agent"], None)
    assert (seen["handoff"], asked) == ("not_supported", [])
    assert seen["page"].endswith(f"/plans/{seen['id']}")
