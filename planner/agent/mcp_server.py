"""An MCP server with pva's agent tools and the plan schema.

The tools: verify, submit, status, list a folder, read a file, search names, history.

Built on the official ``mcp`` SDK's low-level ``Server``, so each tool's input
schema is exactly the one ``planner.agent.tools`` generates from the plan schema.
Tool calls run through ``ToolBox`` as the server's token. There is no approve
or apply tool: agents can only propose.
"""

from __future__ import annotations

import json
from typing import Any

import anyio
import mcp_types as types
import uvicorn
from mcp.server import Server, ServerRequestContext
from mcp.server.stdio import stdio_server

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
        _ctx: ServerRequestContext[Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        # The client is synchronous (httpx): run it off the event loop.
        answer = await anyio.to_thread.run_sync(toolbox.call, params.name, params.arguments or {})
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


def serve_stdio(toolbox: ToolBox) -> None:
    """Serve one MCP client over standard input and output until it hangs up."""
    server = build_server(toolbox)

    async def main() -> None:
        async with stdio_server() as (read_stream, write_stream):
            await server.run(read_stream, write_stream, server.create_initialization_options())

    anyio.run(main)


def serve_http(toolbox: ToolBox, *, host: str, port: int, path: str = "/mcp") -> None:
    """Serve MCP clients over streamable HTTP at ``http://host:port/path``."""
    app = build_server(toolbox).streamable_http_app(streamable_http_path=path, host=host)
    uvicorn.run(app, host=host, port=port, log_level="info")
