"""Commands over the sidecar's HTTP API: options, output, remote ``apply``, ``revert``, ``audit``.

The sidecar's own commands call these when a server is given (``--server`` or
``PVA_URL``); otherwise they work on the store and database directly. An
install without the sidecar extra has none of its commands: there ``main``
registers the remote-only forms below (``catalogue.FALLBACKS``) under the same names.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from planner.cli.shell import EXIT_DIAGNOSTICS, EXIT_OK, UsageError, add_server_options
from planner.cli.status_views import events_view, headline, history_view
from planner.cli.text import terminal
from planner.client.errors import WaitTimeout
from planner.client.http_client import ClientError, PvaClient, plan_of
from planner.client.models import REFUSED, PlanStatus
from planner.core.states import PlanState

Run = Callable[[argparse.Namespace], int]
ID_HELP = "the plan's id: its digest, or the first 8+ hex digits of it"
DEFAULT_TIMEOUT = 600.0  # seconds a command waits for a plan's apply (or decision) by default


def add_json_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print the API's JSON answer")


def add_apply_wait_options(parser: argparse.ArgumentParser) -> None:
    """``--async`` and ``--timeout``: the options of commands whose answer may be an apply under way."""
    parser.add_argument(
        "--async",
        dest="no_wait",
        action="store_true",
        help="if the plan's apply starts, return at once (it is 'applying'); default: wait for its end",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        metavar="S",
        default=DEFAULT_TIMEOUT,
        help=f"wait at most S seconds for the apply (default {DEFAULT_TIMEOUT:g})",
    )


def until_applied(args: argparse.Namespace, client: PvaClient, status: PlanStatus) -> int:
    """Show ``status``, after waiting for the apply it started to end unless ``--async``; the exit code.

    A worker applies the plan after the sidecar answered: the apply's
    progress goes to standard error while it runs. Still applying at the
    timeout: exit 1, and the plan goes on (look again with ``pva plans show``).
    """
    if status.state is PlanState.APPLYING and not args.no_wait:
        try:
            status = client.wait(status.id, timeout=args.timeout, on_change=say_progress)
        except WaitTimeout as timeout:
            emit_status(args, timeout.last)
            print(f"pva: {timeout.message}; it goes on: see 'pva plans show'", file=sys.stderr)
            return EXIT_DIAGNOSTICS
    return emit_status(args, status)


def say_progress(status: PlanStatus) -> None:
    """One line on standard error each time a waited-for plan's state or its apply's progress changes."""
    done = f": {status.progress}" if status.progress is not None and status.undecided else ""
    print(f"pva: waiting: plan {status.id[:12]} is {status.state}{done}", file=sys.stderr, flush=True)


def server_given(args: argparse.Namespace) -> bool:
    """True when the command should go over HTTP: ``--server`` or ``PVA_URL`` names a sidecar."""
    return bool(getattr(args, "server", None) or os.environ.get("PVA_URL"))


def connect(args: argparse.Namespace) -> PvaClient:
    url = getattr(args, "server", None) or os.environ.get("PVA_URL")
    token = getattr(args, "token", None) or os.environ.get("PVA_TOKEN")
    if not url:
        raise UsageError("no sidecar given: pass --server URL or set PVA_URL")
    if not token:
        raise UsageError("no API token given: set PVA_TOKEN (or pass --token)")
    return PvaClient(url, token)


def calling(run: Run) -> Run:
    """``run``, with the sidecar's refusals printed whole: the message, then each problem it lists."""

    @functools.wraps(run)
    def wrapped(args: argparse.Namespace) -> int:
        try:
            return run(args)
        except ClientError as error:
            print(terminal(f"pva: {error}"), file=sys.stderr)
            for problem in error.problems:
                print(terminal(f"pva:   {problem}"), file=sys.stderr)
            return error.exit_code

    return wrapped


def emit(args: argparse.Namespace, body: dict[str, Any], human: str) -> None:
    print(json.dumps(body, indent=2, ensure_ascii=False) if args.json else terminal(human))


def emit_status(args: argparse.Namespace, status: PlanStatus, human: str | None = None) -> int:
    """Print a plan's status; exit 1 when it ended rejected, failed or stale (nothing changed), else 0."""
    emit(args, status.model_dump(mode="json"), headline(status) if human is None else human)
    return EXIT_DIAGNOSTICS if status.state in REFUSED else EXIT_OK


def refuse_local(args: argparse.Namespace, **flags: str) -> None:
    """UsageError if options that only work on the store directly were given with a server."""
    _refuse(args, flags, "only without a server; with --server or PVA_URL the sidecar does the work")


def refuse_remote(args: argparse.Namespace, **flags: str) -> None:
    """UsageError if options that only the sidecar understands were given without a server."""
    _refuse(args, flags, "only with a server (--server URL or PVA_URL)")


def _refuse(args: argparse.Namespace, flags: dict[str, str], why: str) -> None:
    given = [flag for dest, flag in flags.items() if getattr(args, dest, None)]
    if given:
        raise UsageError(f"{', '.join(given)}: {why}")


# -- the remote forms of the sidecar's commands ---------------------------------


@calling
def run_apply(args: argparse.Namespace) -> int:
    """``pva apply ID``: apply an approved plan on the sidecar."""
    refuse_local(args, dry_run="--dry-run", actor="--actor", store="--store", db="--db")
    with connect(args) as client:
        return until_applied(args, client, client.apply(args.plan))


@calling
def run_revert(args: argparse.Namespace) -> int:
    """``pva revert ID``: submit the inverse of an applied plan, for approval like any plan."""
    refuse_local(args, apply="--apply", actor="--actor", store="--store", db="--db")
    with connect(args) as client:
        inverse = client.revert(args.digest)
        if args.output is not None:
            plan = plan_of(client.get(inverse.id))
            Path(args.output).write_text(plan.to_json() + "\n" if plan else "", encoding="utf-8")
    human = (
        f"{headline(inverse)}\n  the plan that undoes {args.digest}: it applies once approved, like any plan"
    )
    return emit_status(args, inverse, human)


@calling
def run_events(args: argparse.Namespace) -> int:
    """``pva audit list`` with a server: the audit's events, in chain order."""
    refuse_local(args, status="--status", author="--author", db="--db")
    filters = {"path": args.path, "plan": args.plan, "actor": args.actor}
    with connect(args) as client:
        events = client.audit(**filters, since=args.since, until=args.until, limit=args.limit)
    emit(args, {"version": "audit-events/v1", "events": events}, events_view(events))
    return EXIT_OK


@calling
def run_history(args: argparse.Namespace) -> int:
    """``pva audit history PATH`` with a server: a document's chain of custody."""
    refuse_local(args, db="--db")
    with connect(args) as client:
        found = client.history(args.path)
    emit(args, found, history_view(found))
    return EXIT_OK


def add_event_filters(parser: argparse.ArgumentParser) -> None:
    """The filters of ``pva audit list`` that only the sidecar's events have."""
    parser.add_argument("--plan", metavar="ID", help="with a server: events of this plan")
    parser.add_argument("--actor", help="with a server: events by this actor")
    parser.add_argument("--since", metavar="TIME", help="with a server: events at or after (ISO 8601)")
    parser.add_argument("--until", metavar="TIME", help="with a server: events before (ISO 8601)")


# -- without the sidecar extra: the remote forms alone ------------------------------


def register_apply(commands: Any) -> None:
    parser = commands.add_parser("apply", help="apply an approved plan on the sidecar (over HTTP)")
    parser.add_argument("plan", metavar="ID", help=ID_HELP)
    add_apply_wait_options(parser)
    add_json_option(parser)
    add_server_options(parser)
    parser.set_defaults(run=run_apply)


def register_revert(commands: Any) -> None:
    parser = commands.add_parser("revert", help="submit the plan that undoes an applied plan (over HTTP)")
    parser.add_argument("digest", metavar="ID", help=ID_HELP)
    parser.add_argument("-o", "--output", type=Path, help="also write the inverse plan to this file")
    add_json_option(parser)
    add_server_options(parser)
    parser.set_defaults(run=run_revert)


def register_audit(commands: Any) -> None:
    parser = commands.add_parser("audit", help="the sidecar's audit events and document histories (HTTP)")
    actions = parser.add_subparsers(title="actions", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="audit events, in chain order")
    listing.add_argument("--path", help="events of applies that touched this path")
    listing.add_argument("--limit", type=int, default=100, help="at most this many (default 100)")
    add_event_filters(listing)
    listing.set_defaults(run=run_events)
    history = actions.add_parser("history", help="a document's chain of custody, following moves")
    history.add_argument("path", help="the document's path, as it is now or as it was")
    history.set_defaults(run=run_history)
    for action in (listing, history):
        add_json_option(action)
        add_server_options(action)
