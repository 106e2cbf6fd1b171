"""``pva apply PLAN``: verify against the live store under a lock, apply, audit, report.

With a server (``--server`` or ``PVA_URL``), ``pva apply ID`` asks the sidecar
to apply a submitted, approved plan instead (``planner.cli.remote``).
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from planner.cli import remote
from planner.cli.shell import EXIT_DIAGNOSTICS, EXIT_OK, add_server_options, one_shot_collection, read_input
from planner.cli.text import terminal
from planner.cli.views import render_report, report_json
from planner.core.parse import parse_plan
from sidecar.cli.options import actor_from, add_actor_option, add_store_options, settings_from
from sidecar.cli.outcome import outcome_json, render_apply
from sidecar.wiring import open_services


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "apply",
        help="apply a plan to the store (all or nothing, audited)",
        description="Exit 0 when applied, 1 when stale or failed (nothing changed), 2 on misuse. "
        "With a server (--server or PVA_URL), PLAN is the id of a submitted plan and the sidecar applies it.",
    )
    parser.add_argument("plan", help="plan file, or - for standard input; with a server, the plan's id")
    parser.add_argument("--dry-run", action="store_true", help="only verify against the live store")
    parser.add_argument("--json", action="store_true", help="print the outcome as JSON")
    add_actor_option(parser)
    add_store_options(parser)
    add_server_options(parser)
    remote.add_apply_wait_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if remote.server_given(args):
        return remote.run_apply(args)
    remote.refuse_remote(args, no_wait="--async")  # here the command itself applies, and returns when done
    plan = parse_plan(read_input(args.plan))
    with open_services(settings_from(args)) as services, one_shot_collection():
        if args.dry_run:
            report = services.engine.verify(plan)
            if args.json:
                print(report_json(report))
            else:
                print(terminal(render_report(plan, report)))
            return EXIT_OK if report.ok else EXIT_DIAGNOSTICS
        earlier = services.audit.outcome(plan.digest())
        record = services.engine.apply(plan, actor=actor_from(args))
        view = render_apply(services.audit, plan, record, earlier)
    if args.json:
        print(json.dumps(outcome_json(record), indent=2, ensure_ascii=False))
    else:
        print(terminal(view))
    return EXIT_OK if record.status == "applied" else EXIT_DIAGNOSTICS
