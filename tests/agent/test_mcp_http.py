"""``pva mcp --http``: its own bearer token on every request, and DNS-rebinding protection always on.

The app is driven in process (Starlette's TestClient runs its lifespan) with
a real MCP ``initialize`` request: refused without the token, with a wrong
token, and with a Host header a rebinding page would send, and answered with
the token and a loopback Host.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from planner.agent.mcp_server import http_app
from planner.agent.tools import ToolBox
from planner.client.http_client import PvaClient

TOKEN = secrets.token_urlsafe(16)
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "t", "version": "1"},
    },
}
MCP_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


@pytest.fixture
def client() -> Iterator[TestClient]:
    toolbox = ToolBox(PvaClient("http://127.0.0.1:9", "unused"))  # no tool is called here
    app = http_app(toolbox, token=TOKEN, host="0.0.0.0", allowed_hosts=["pva-mcp.internal:8765"])  # noqa: S104
    with TestClient(app, base_url="http://127.0.0.1:8765") as opened:
        yield opened


def _initialize(client: TestClient, **headers: str) -> int:
    return client.post("/mcp", json=INITIALIZE, headers={**MCP_HEADERS, **headers}).status_code


def test_every_request_needs_the_bearer_token(client: TestClient) -> None:
    assert _initialize(client) == 401
    assert _initialize(client, Authorization="Bearer wrong") == 401
    assert _initialize(client, Authorization=TOKEN) == 401  # the scheme is part of it
    assert _initialize(client, Authorization=f"Bearer {TOKEN}") == 200


def test_a_rebound_host_name_is_refused_even_with_the_token(client: TestClient) -> None:
    bearer = f"Bearer {TOKEN}"
    assert _initialize(client, Authorization=bearer, Host="evil.example:8765") in (403, 421)
    assert _initialize(client, Authorization=bearer, Host="pva-mcp.internal:8765") == 200
    refused = _initialize(client, Authorization=bearer, Origin="http://evil.example")
    assert refused in (403, 421)


def test_there_is_no_http_server_without_a_token() -> None:
    toolbox = ToolBox(PvaClient("http://127.0.0.1:9", "unused"))
    with pytest.raises(ValueError, match="bearer token"):
        http_app(toolbox, token="", host="127.0.0.1")
