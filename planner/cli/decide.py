"""``pva approve ID -m COMMENT`` and ``pva reject ID -m COMMENT``: a person's decision on the sidecar.

Approve: exit 0 when the approval is recorded (and the apply it started, if
any, is done), 1 when that apply failed or was stale (or is still running at
the timeout), 2 when refused (your own plan, not pending, out of scope).
Reject: exit 0 when the rejection is recorded (for good), 2 when refused.
"""

from __future__ import annotations

import argparse
from typing import Any

from planner.cli.remote import (
    ID_HELP,
    add_apply_wait_options,
    add_json_option,
    add_server_options,
    calling,
    connect,
    emit_status,
    until_applied,
)
from planner.cli.shell import EXIT_OK


def register(commands: Any) -> None:
    approve = commands.add_parser(
        "approve",
        help="approve a plan on the sidecar (over HTTP); never your own",
        description="Exit 0 when the approval is recorded (and the apply it started is done), 1 when "
        "that apply failed, was stale or is still running at the timeout, 2 when refused (your own plan, "
        "not pending, out of scope).",
    )
    _arguments(approve, "why: shown with the plan and audited", run_approve)
    add_apply_wait_options(approve)
    reject = commands.add_parser(
        "reject",
        help="reject a plan on the sidecar (over HTTP), for good",
        description="Exit 0 when the rejection is recorded, 2 when refused (not pending, out of scope).",
    )
    _arguments(reject, "why: shown to the author and audited", run_reject)


def _arguments(parser: argparse.ArgumentParser, why: str, run: Any) -> None:
    parser.add_argument("id", help=ID_HELP)
    parser.add_argument("-m", "--comment", required=True, help=why)
    add_json_option(parser)
    add_server_options(parser)
    parser.set_defaults(run=run)


@calling
def run_approve(args: argparse.Namespace) -> int:
    with connect(args) as client:
        return until_applied(args, client, client.approve(args.id, args.comment))


@calling
def run_reject(args: argparse.Namespace) -> int:
    with connect(args) as client:
        emit_status(args, client.reject(args.id, args.comment))
    return EXIT_OK  # the rejection asked for is done
