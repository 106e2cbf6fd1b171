"""``pva verify PLAN (--root DIR | --manifest FILE) [--holds FILE]``: simulate a plan and report.

Legal holds come from a file (``pva hold list --json``, or ``GET /v1/holds``'s
answer) or straight from the sidecar (``--server-holds``: ``--server`` or
``PVA_URL``, as the token may see them); an op they forbid is ``on_hold``.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from planner.agent.snapshot import read_footprint
from planner.cli.shell import (
    EXIT_DIAGNOSTICS,
    EXIT_OK,
    UsageError,
    add_server_options,
    one_shot_collection,
    read_input,
)
from planner.cli.text import terminal
from planner.cli.views import render_report, report_json
from planner.core.errors import ManifestError, PlanSyntaxError
from planner.core.footprint import footprint
from planner.core.holds import Hold, holds_from_json
from planner.core.manifest import read_manifest
from planner.core.parse import load_strict_json, parse_plan
from planner.core.plan import Plan
from planner.core.tree import Tree
from planner.core.verify import verify


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "verify",
        help="check a plan against a folder or a manifest, and show its effect",
        description="Exit 0 when the plan is valid, 1 when it has errors, 2 when it is malformed.",
    )
    parser.add_argument("plan", help="plan file, or - for standard input")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--root", type=Path, help="store folder (only what the plan touches is read)")
    source.add_argument("--manifest", type=Path, help="manifest from 'pva snapshot'")
    parser.add_argument(
        "--scope", action="append", metavar="PATH", help="limit to these subtrees (as a token would)"
    )
    holds = parser.add_mutually_exclusive_group()
    holds.add_argument("--holds", metavar="FILE", help="legal holds in force ('pva hold list --json')")
    holds.add_argument(
        "--server-holds", action="store_true", help="fetch the legal holds in your scope from the sidecar"
    )
    parser.add_argument("--json", action="store_true", help="print the versioned JSON report")
    parser.add_argument("--all", action="store_true", help="list every op (default: the first 50)")
    add_server_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.server_holds:  # the HTTP client (httpx: a fifth of the start-up) only when the sidecar is asked
        from planner.cli import remote  # noqa: PLC0415

        return remote.calling(_run)(args)
    return _run(args)


def _run(args: argparse.Namespace) -> int:
    with one_shot_collection():
        plan = parse_plan(read_input(args.plan))
        report = verify(plan, _tree(args, plan), allowed=args.scope, holds=_holds(args))
        if args.json:
            print(report_json(report))
        else:
            print(terminal(render_report(plan, report, limit=None if args.all else 50)))
        return EXIT_OK if report.ok else EXIT_DIAGNOSTICS


def _holds(args: argparse.Namespace) -> tuple[Hold, ...]:
    if args.server_holds:
        from planner.cli.remote import connect  # noqa: PLC0415  # imported by run already

        with connect(args) as client:
            return client.held()
    if args.holds is None:
        return ()
    try:
        return holds_from_json(load_strict_json(read_input(args.holds)))
    except PlanSyntaxError as error:
        raise UsageError(f"--holds {args.holds}: not a holds document: {error.problems[0]}") from None


def _tree(args: argparse.Namespace, plan: Plan) -> Tree:
    if args.manifest is not None:
        with open(args.manifest, encoding="utf-8") as lines:
            try:
                return read_manifest(lines)
            except UnicodeDecodeError as error:
                raise ManifestError(f"{args.manifest}: not UTF-8 (byte {error.start})") from None
    if not args.root.is_dir():
        raise UsageError(f"--root {args.root}: not a folder")
    return read_footprint(args.root, footprint(plan))
