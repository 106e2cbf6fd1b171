"""``pva reject ID -m COMMENT``: reject a plan on the sidecar, for good."""

from __future__ import annotations

import argparse
from typing import Any

from planner.cli.common import EXIT_OK
from planner.cli.remote import ID_HELP, add_json_option, add_server_options, calling, connect, emit_status


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "reject",
        help="reject a plan on the sidecar (over HTTP)",
        description="Exit 0 when the rejection is recorded, 2 when refused (not pending, out of scope).",
    )
    parser.add_argument("id", help=ID_HELP)
    parser.add_argument("-m", "--comment", required=True, help="why: shown to the author and audited")
    add_json_option(parser)
    add_server_options(parser)
    parser.set_defaults(run=run)


@calling
def run(args: argparse.Namespace) -> int:
    with connect(args) as client:
        emit_status(args, client.reject(args.id, args.comment))
    return EXIT_OK  # the rejection asked for is done
