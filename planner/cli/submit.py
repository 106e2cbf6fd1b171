"""``pva submit PLAN [--supersedes ID] [--wait [--timeout S]]``: submit a plan, and perhaps wait for its end.

``--supersedes ID`` submits the plan as the revision of an earlier version
of yours (pending, approved, changes requested...), which becomes superseded.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from planner.cli.remote import (
    DEFAULT_TIMEOUT,
    add_json_option,
    calling,
    connect,
    emit_status,
    say_progress,
)
from planner.cli.shell import EXIT_DIAGNOSTICS, UsageError, add_server_options, read_input
from planner.client.http_client import WaitTimeout
from planner.core.parse import parse_plan


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "submit",
        help="submit a plan to the sidecar for approval (over HTTP)",
        description="Exit 0 when accepted (with --wait: applied), 1 when rejected, failed or stale "
        "(with --wait: or still undecided at the timeout), 2 on misuse or refusal, 3 when the sidecar fails.",
    )
    parser.add_argument("plan", help="plan file, or - for standard input")
    parser.add_argument(
        "--wait", action="store_true", help="wait until it is applied, rejected, failed or stale"
    )
    parser.add_argument(
        "--supersedes",
        metavar="ID",
        help="the id of an earlier version of yours that this revision replaces (it becomes superseded)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        metavar="S",
        help=f"with --wait: give up after S seconds (default {DEFAULT_TIMEOUT:g})",
    )
    add_json_option(parser)
    add_server_options(parser)
    parser.set_defaults(run=run)


@calling
def run(args: argparse.Namespace) -> int:
    if args.timeout is not None and not args.wait:
        raise UsageError("--timeout goes with --wait")
    plan = parse_plan(read_input(args.plan))  # malformed plans stop here, with every problem listed
    with connect(args) as client:
        status = client.submit(plan, supersedes=args.supersedes)
        if not args.wait or not status.undecided:
            return emit_status(args, status)
        try:
            status = client.wait(status.id, timeout=args.timeout or DEFAULT_TIMEOUT, on_change=say_progress)
        except WaitTimeout as timeout:
            emit_status(args, timeout.last)
            print(f"pva: {timeout.message}", file=sys.stderr)
            return EXIT_DIAGNOSTICS
    return emit_status(args, status)
