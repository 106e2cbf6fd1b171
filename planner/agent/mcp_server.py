"""An MCP server with pva's agent tools and the plan schema.

The tools: verify, submit, status, list a folder, read a file, search names, history.

Built on the official ``mcp`` SDK's low-level ``Server``, so each tool's input
schema is exactly the one ``planner.agent.tools`` generates from the plan schema.
Tool calls run through ``ToolBox`` as the server's token. There is no approve
or apply tool: agents can only propose.

The approval hand-off: a submit that leaves the plan pending answers with the
plan's approval page (``page``), and, when the client declared URL-mode
elicitation, asks it to offer the page to its user (``elicitation/create``,
mode ``url``). Whatever the client answers (accept, decline, cancel) is only
whether the user chose to open the page: it is reported back in ``handoff``
and approves nothing. A person approves on the page, signed in with their own
token; MCP has no way to consent for them.
"""

from __future__ import annotations

import hmac
import json
import uuid
from collections.abc import Sequence
from typing import Any

import anyio
import mcp_types as types
import uvicorn
from mcp.server import Server, ServerRequestContext
from mcp.server.stdio import stdio_server
from mcp.server.transport_security import TransportSecuritySettings
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from planner.agent.tools import ToolBox, tools
from planner.core.schema import plan_json_schema

SCHEMA_URI = "pva://schema/plan.v1.json"
INSTRUCTIONS = """You change the firm's file store only by proposing plans (plan/v1 JSON); a person
approves them. List folders with pva_list_folder, write a plan whose every op states a 'reason' and,
for each file it moves, renames, overwrites or deletes, an 'expect' with the file's sha256. Verify it
with pva_verify_plan, fix every diagnostic (each has a hint), then submit with pva_submit_plan and
check pva_plan_status. When changes are requested, revise the plan as the comments ask and submit it
with 'supersedes' set to the old plan's id. Keep 'scope' as narrow as the task. The plan schema is the
resource pva://schema/plan.v1.json."""


def build_server(toolbox: ToolBox) -> Server[Any]:
    """The MCP server over ``toolbox``; no tool approves or applies."""
    listed = [
        types.Tool(
            name=tool.name,
            description=tool.description,
            input_schema=tool.parameters,
            annotations=types.ToolAnnotations(
                read_only_hint=tool.name != "pva_submit_plan", destructive_hint=False
            ),
        )
        for tool in tools()
    ]

    async def list_tools(
        _ctx: ServerRequestContext[Any], _params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        return types.ListToolsResult(tools=listed)

    async def call_tool(
        ctx: ServerRequestContext[Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        # The client is synchronous (httpx): run it off the event loop.
        answer = await anyio.to_thread.run_sync(toolbox.call, params.name, params.arguments or {})
        if params.name == "pva_submit_plan" and answer.get("state") == "pending" and answer.get("page"):
            answer["handoff"] = await hand_off(ctx, answer["page"], answer.get("title", ""))
        text = json.dumps(answer, ensure_ascii=False)
        return types.CallToolResult(
            content=[types.TextContent(type="text", text=text)],
            structured_content=answer,
            is_error="error" in answer,
        )

    async def list_resources(
        _ctx: ServerRequestContext[Any], _params: types.PaginatedRequestParams | None
    ) -> types.ListResourcesResult:
        schema = types.Resource(
            name="plan.v1.schema.json",
            title="The pva plan/v1 JSON Schema",
            uri=SCHEMA_URI,
            description="What a plan may contain; plan-format.md explains each op.",
            mime_type="application/schema+json",
        )
        return types.ListResourcesResult(resources=[schema])

    async def read_resource(
        _ctx: ServerRequestContext[Any], params: types.ReadResourceRequestParams
    ) -> types.ReadResourceResult:
        if str(params.uri) != SCHEMA_URI:
            raise ValueError(f"no resource {params.uri}; the only one is {SCHEMA_URI}")
        text = json.dumps(plan_json_schema(), indent=2)
        contents = types.TextResourceContents(uri=SCHEMA_URI, mime_type="application/schema+json", text=text)
        return types.ReadResourceResult(contents=[contents])

    return Server(
        "pva",
        version="1",
        title="pva: propose changes to the file store",
        instructions=INSTRUCTIONS,
        on_list_tools=list_tools,
        on_call_tool=call_tool,
        on_list_resources=list_resources,
        on_read_resource=read_resource,
    )


HANDOFF_SECONDS = 120  # how long a submit waits for the client to say whether its user opens the page


async def hand_off(ctx: ServerRequestContext[Any], page: str, title: str) -> str:
    """Offer the approval page to the client's user (URL-mode elicitation); what the client answered.

    ``not_supported`` when the client did not declare URL elicitation, else
    the client's action (``accept``: its user chose to open the page;
    ``decline``, ``cancel``) or ``no_answer``. None of these approves the
    plan: only a person on the page does.
    """
    capabilities = ctx.session.client_capabilities
    elicitation = None if capabilities is None else capabilities.elicitation
    if elicitation is None or elicitation.url is None:
        return "not_supported"
    message = (
        f"The plan {title!r} waits for a person's approval. Open its page to review it; "
        "answering here approves nothing."
    )
    with anyio.move_on_after(HANDOFF_SECONDS):
        result = await ctx.session.elicit_url(
            message, page, elicitation_id=str(uuid.uuid4()), related_request_id=ctx.request_id
        )
        return str(result.action)
    return "no_answer"


def serve_stdio(toolbox: ToolBox) -> None:
    """Serve one MCP client over standard input and output until it hangs up."""
    server = build_server(toolbox)

    async def main() -> None:
        async with stdio_server() as (read_stream, write_stream):
            await server.run(read_stream, write_stream, server.create_initialization_options())

    anyio.run(main)


MCP_TOKEN_ENV = "PVA_MCP_TOKEN"  # noqa: S105  # the variable naming the token clients of ``pva mcp --http`` send
LOOPBACK_HOSTS = ("127.0.0.1:*", "localhost:*", "[::1]:*")


def http_app(
    toolbox: ToolBox, *, token: str, host: str, allowed_hosts: Sequence[str] = (), path: str = "/mcp"
) -> ASGIApp:
    """The streamable-HTTP MCP app: a bearer token on every request, DNS-rebinding protection always on.

    ``allowed_hosts`` (``name:port``, ``*`` for any port) are the Host
    headers accepted besides the loopback names and ``host`` itself; a page
    on another site that rebinds its name to this address sends its own name
    and is refused by the SDK's check. The token is this server's own, not
    the sidecar token the tools call with.
    """
    if not token:
        raise ValueError("pva mcp --http needs a bearer token")
    hosts = [*LOOPBACK_HOSTS, *(() if host in ("0.0.0.0", "::") else (f"{host}:*",)), *allowed_hosts]  # noqa: S104
    security = TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=hosts,
        allowed_origins=[f"http://{name}" for name in hosts] + [f"https://{name}" for name in hosts],
    )
    app = build_server(toolbox).streamable_http_app(
        streamable_http_path=path, host=host, transport_security=security
    )
    return _Bearer(app, token)


class _Bearer:
    """ASGI middleware: 401 for any HTTP request without ``Authorization: Bearer <token>``."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.expected = f"Bearer {token}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            given = dict(scope["headers"]).get(b"authorization", b"")
            if not hmac.compare_digest(given, self.expected):
                refusal = JSONResponse(
                    {"error": "unauthorized", "message": f"send Authorization: Bearer <{MCP_TOKEN_ENV}>"},
                    status_code=401,
                    headers={"WWW-Authenticate": 'Bearer realm="pva mcp"'},
                )
                await refusal(scope, receive, send)
                return
        await self.app(scope, receive, send)


def serve_http(
    toolbox: ToolBox, *, host: str, port: int, token: str, allowed_hosts: Sequence[str] = ()
) -> None:
    """Serve MCP clients over streamable HTTP at ``http://host:port/mcp``, each with the bearer token."""
    app = http_app(toolbox, token=token, host=host, allowed_hosts=allowed_hosts)
    uvicorn.run(app, host=host, port=port, log_level="info")
