"""``pva plans list|show|content``: the sidecar's plans, as the token may see them (over HTTP)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from planner.cli.remote import ID_HELP, add_json_option, calling, connect, emit
from planner.cli.shell import EXIT_OK, add_server_options, write_atomically
from planner.cli.status_views import status_view, summaries_view
from planner.core.states import PlanState


def register(commands: Any) -> None:
    parser = commands.add_parser("plans", help="list and show the sidecar's plans (over HTTP)")
    actions = parser.add_subparsers(title="actions", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="plans, newest submission first")
    listing.add_argument(
        "--state",
        action="append",
        choices=[state.value for state in PlanState],
        help="only plans in this state (repeatable: any of them)",
    )
    listing.add_argument("--author", help="only plans this author submitted")
    listing.add_argument("--path", help="only plans whose scope holds this path")
    listing.add_argument("--limit", type=int, default=100, help="at most this many (default 100, most 500)")
    listing.set_defaults(run=run_list)
    show = actions.add_parser("show", help="a plan: its state, approvals, ops and report")
    show.add_argument("id", help=ID_HELP)
    show.set_defaults(run=run_show)
    for action in (listing, show):
        add_json_option(action)
        add_server_options(action)
    content = actions.add_parser("content", help="all that a plan's write op puts in the store")
    content.add_argument("id", help=ID_HELP)
    content.add_argument("index", type=int, help="the write op's index (0-based, as in 'pva plans show')")
    content.add_argument("-o", "--output", metavar="FILE", help="write to FILE (whole or not at all)")
    add_server_options(content)
    content.set_defaults(run=run_content)


@calling
def run_list(args: argparse.Namespace) -> int:
    with connect(args) as client:
        found = client.list(state=args.state, author=args.author, path=args.path, limit=args.limit)
    emit(args, {"plans": [p.model_dump(mode="json") for p in found]}, summaries_view(found))
    return EXIT_OK


@calling
def run_show(args: argparse.Namespace) -> int:
    with connect(args) as client:
        status = client.get(args.id)
    emit(args, status.model_dump(mode="json"), status_view(status))
    return EXIT_OK


@calling
def run_content(args: argparse.Namespace) -> int:
    """The bytes, checked by the sidecar as it sends them; ``-o`` gets them all or nothing."""
    with connect(args) as client:
        chunks = client.write_content(args.id, args.index)
        if args.output:
            write_atomically(Path(args.output), chunks)
        else:
            for chunk in chunks:
                sys.stdout.buffer.write(chunk)
            sys.stdout.flush()
    return EXIT_OK
