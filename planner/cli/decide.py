"""``pva approve ID -m COMMENT`` and ``pva reject ID -m COMMENT``: a person's decision on the sidecar.

Approve: exit 0 when the approval is recorded (and the apply it started, if
any, is done), 1 when that apply failed or was stale (or is still running at
the timeout), 2 when refused (your own plan, not pending, out of scope).
Reject: exit 0 when the rejection is recorded (for good), 2 when refused.
``pva reject ID -m COMMENT --request-changes [--op N:COMMENT ...]`` asks the
author for changes instead, with comments on ops numbered from 1 (as people
see them; JSON keeps the 0-based ``op``).
``pva approve ID --without 3,7 -m COMMENT`` approves the plan without ops 3
and 7 (numbered from 1): the sidecar derives the part, verifies it and
approves that (exit 2, nothing approved, when the part fails verification);
the plan itself becomes superseded by the part.
``pva approve ID --override -m REASON`` (admins) overrides the deny of a
policy rule with ``enforcement = "require_override"``: the reason is audited
and the rest of the policy decides the plan (it may then need approvals).

Several ids (``pva approve ID ID ... -m COMMENT``, the same for ``reject``)
decide each plan on its own with the one comment, in order: a refusal is
printed for its plan and the others are decided all the same; the exit code
is the worst of theirs. ``--without`` and ``--request-changes`` name one plan.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

from planner.cli.remote import (
    ID_HELP,
    add_apply_wait_options,
    add_json_option,
    calling,
    connect,
    emit_status,
    until_applied,
)
from planner.cli.shell import EXIT_OK, UsageError, add_server_options
from planner.cli.text import terminal
from planner.client.http_client import ClientError, PvaClient


def register(commands: Any) -> None:
    approve = commands.add_parser(
        "approve",
        help="approve a plan on the sidecar (over HTTP); never your own",
        description="Exit 0 when the approval is recorded (and the apply it started is done), 1 when "
        "that apply failed, was stale or is still running at the timeout, 2 when refused (your own plan, "
        "not pending, out of scope).",
    )
    _arguments(approve, "why: shown with the plan and audited", run_approve)
    approve.add_argument(
        "--without",
        metavar="N,N...",
        help="approve the plan without these ops (numbered from 1, as pva plans show lists them): "
        "the part is verified, approved, and replaces the plan",
    )
    approve.add_argument(
        "--override",
        action="store_true",
        help="admins: override the deny of a policy rule with enforcement 'require_override' (the comment "
        "is the reason, audited); the rest of the policy then decides the plan",
    )
    add_apply_wait_options(approve)
    reject = commands.add_parser(
        "reject",
        help="reject a plan on the sidecar (over HTTP), for good",
        description="Exit 0 when the rejection is recorded, 2 when refused (not pending, out of scope).",
    )
    _arguments(reject, "why: shown to the author and audited", run_reject)
    reject.add_argument(
        "--request-changes",
        action="store_true",
        help="ask the author for changes (state changes_requested) rather than reject outright",
    )
    reject.add_argument(
        "--op",
        action="append",
        default=[],
        metavar="N:COMMENT",
        help="with --request-changes: what to change in op N (numbered from 1); repeatable",
    )


def _arguments(parser: argparse.ArgumentParser, why: str, run: Any) -> None:
    parser.add_argument("ids", nargs="+", metavar="ID", help=f"{ID_HELP}; several: each decided on its own")
    parser.add_argument("-m", "--comment", required=True, help=why)
    add_json_option(parser)
    add_server_options(parser)
    parser.set_defaults(run=run)


@calling
def run_approve(args: argparse.Namespace) -> int:
    without = op_numbers(args.without) if args.without else []
    _one_plan_for(args, "--without", bool(without))
    if args.override and without:
        raise UsageError("--override and --without do not go together: override first, then approve")

    def approve(client: PvaClient, plan_id: str) -> int:
        if args.override:
            return until_applied(args, client, client.override(plan_id, args.comment))
        return until_applied(args, client, client.approve(plan_id, args.comment, without=without))

    return _each(args, approve)


@calling
def run_reject(args: argparse.Namespace) -> int:
    notes = op_comments(args.op)
    if notes and not args.request_changes:
        raise UsageError("--op goes with --request-changes")
    _one_plan_for(args, "--request-changes", args.request_changes)

    def reject(client: PvaClient, plan_id: str) -> int:
        if args.request_changes:
            emit_status(args, client.request_changes(plan_id, args.comment, notes))
        else:
            emit_status(args, client.reject(plan_id, args.comment))
        return EXIT_OK  # the rejection asked for is done

    return _each(args, reject)


def _one_plan_for(args: argparse.Namespace, option: str, given: bool) -> None:
    if given and len(args.ids) > 1:
        raise UsageError(f"{option} decides one plan: give one id")


def _each(args: argparse.Namespace, decide: Callable[[PvaClient, str], int]) -> int:
    """``decide`` each plan named, in order; a refusal is printed, the next decided; the worst exit code."""
    if len(args.ids) == 1:
        with connect(args) as client:
            return decide(client, args.ids[0])  # a refusal is the command's (``calling`` prints it)
    worst = EXIT_OK
    with connect(args) as client:
        for plan_id in args.ids:
            try:
                code = decide(client, plan_id)
            except ClientError as error:
                print(terminal(f"pva: {plan_id}: {error}"), file=sys.stderr)
                code = error.exit_code
            worst = max(worst, code)
    return worst


def op_numbers(given: str) -> list[int]:
    """``3,7`` (ops numbered from 1, as people see them) as 0-based op indexes."""
    numbers = [item.strip() for item in given.split(",") if item.strip()]
    if not numbers or not all(item.isdigit() and int(item) >= 1 for item in numbers):
        raise UsageError(f"--without {given!r}: give op numbers from 1, separated by commas (3,7)")
    return sorted({int(item) - 1 for item in numbers})


def op_comments(given: list[str]) -> dict[int, str]:
    """``N:COMMENT`` options (N counted from 1, as people see ops) by 0-based op index."""
    notes: dict[int, str] = {}
    for item in given:
        number, _, comment = item.partition(":")
        if not number.strip().isdigit() or int(number) < 1 or not comment.strip():
            raise UsageError(f"--op {item!r}: give N:COMMENT, N the op's number from 1")
        notes[int(number) - 1] = comment.strip()
    return notes
