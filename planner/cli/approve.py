"""``pva approve ID -m COMMENT``: approve a pending plan on the sidecar (never your own)."""

from __future__ import annotations

import argparse
from typing import Any

from planner.cli.remote import ID_HELP, add_json_option, add_server_options, calling, connect, emit_status


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "approve",
        help="approve a plan on the sidecar (over HTTP)",
        description="Exit 0 when the approval is recorded, 1 when the apply it started failed or was "
        "stale, 2 when refused (your own plan, not pending, out of scope).",
    )
    parser.add_argument("id", help=ID_HELP)
    parser.add_argument("-m", "--comment", required=True, help="why: shown with the plan and audited")
    add_json_option(parser)
    add_server_options(parser)
    parser.set_defaults(run=run)


@calling
def run(args: argparse.Namespace) -> int:
    with connect(args) as client:
        return emit_status(args, client.approve(args.id, args.comment))
