"""``pva mcp``: run the MCP server (stdio, or streamable HTTP) with the agent tools, as ``PVA_TOKEN``.

Needs the ``agent`` extra (the ``mcp`` SDK), imported only when the command runs.
Over HTTP every request needs ``Authorization: Bearer $PVA_MCP_TOKEN`` (made
up and printed at start when the variable is unset), and the Host header must
be a loopback name, the ``--host`` address or an ``--allow-host``: DNS-rebinding
protection is always on.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
from pathlib import Path
from typing import Any

from planner.agent.snapshot import scan_tree
from planner.agent.tools import ToolBox
from planner.cli.shell import EXIT_OK, UsageError
from planner.client.http_client import PvaClient
from planner.core.errors import ManifestError
from planner.core.manifest import read_manifest
from planner.core.tree import Tree

AGENT_EXTRA = "install the agent extra: pip install 'pva[agent]'"


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "mcp",
        help="run an MCP server with the agent tools (no approve tool)",
        description="Serve pva's agent tools (verify, submit, status, list a folder, history) and the "
        "plan schema over MCP, calling the sidecar at PVA_URL as PVA_TOKEN. Agents can only propose.",
    )
    parser.add_argument("--http", action="store_true", help="streamable HTTP instead of stdio")
    parser.add_argument("--host", default="127.0.0.1", help="address for --http (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8765, help="port for --http (default 8765)")
    parser.add_argument(
        "--allow-host",
        action="append",
        default=[],
        metavar="NAME:PORT",
        help="with --http: a Host header to accept besides the loopback names (DNS-rebinding "
        "protection stays on); repeatable, '*' for any port",
    )
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--manifest", type=Path, help="list folders from this manifest")
    source.add_argument("--root", type=Path, help="list folders from this folder (a read-only copy)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    try:
        from planner.agent import mcp_server  # noqa: PLC0415  # the agent extra, only when asked for
    except ModuleNotFoundError as error:
        raise UsageError(f"'pva mcp' needs the mcp SDK ({error.name}): {AGENT_EXTRA}") from None
    toolbox = ToolBox(PvaClient.from_env(), tree=_tree(args))
    if args.http:
        token = os.environ.get(mcp_server.MCP_TOKEN_ENV) or secrets.token_urlsafe(32)
        if not os.environ.get(mcp_server.MCP_TOKEN_ENV):  # made up for this run: say it once
            print(f"pva mcp: clients send Authorization: Bearer {token}", file=sys.stderr, flush=True)
        mcp_server.serve_http(
            toolbox, host=args.host, port=args.port, token=token, allowed_hosts=args.allow_host
        )
    else:
        mcp_server.serve_stdio(toolbox)
    return EXIT_OK


def _tree(args: argparse.Namespace) -> Tree | None:
    if args.manifest is not None:
        with open(args.manifest, encoding="utf-8") as lines:
            try:
                return read_manifest(lines)
            except UnicodeDecodeError as error:
                raise ManifestError(f"{args.manifest}: not UTF-8 (byte {error.start})") from None
    if args.root is not None:
        if not args.root.is_dir():
            raise UsageError(f"--root {args.root}: not a folder")
        return scan_tree(args.root)
    return None
