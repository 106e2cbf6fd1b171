"""``pva revert DIGEST``: show the plan that undoes an applied plan; ``--apply`` applies it.

The inverse is the one verified when the plan was applied. Applying it is an
apply like any other: it refuses (stale) if a file it would move back or
restore changed since, because those ops pin the file's hash (or size). A
folder the plan made has nothing to pin: undoing the mkdir sends the folder to
the trash with whatever was filed in it since (recoverable from the trash).

With a server (``--server`` or ``PVA_URL``), ``pva revert ID`` submits the
inverse to the sidecar as a new plan, for approval (``planner.cli.remote``).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from planner.cli import remote
from planner.cli.shell import EXIT_DIAGNOSTICS, EXIT_OK, UsageError, add_server_options, one_shot_collection
from planner.cli.text import terminal
from planner.cli.views import render_report
from planner.core.parse import plan_from_document
from sidecar.cli.options import actor_from, add_actor_option, add_store_options, settings_from
from sidecar.cli.outcome import outcome_json, partial_inverse, render_apply
from sidecar.wiring import open_services


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "revert",
        help="show (and with --apply, apply) the plan that undoes an applied plan",
        description="Exit 0 when the inverse verifies (or was applied), 1 when it would not apply cleanly. "
        "With a server (--server or PVA_URL), the sidecar takes the inverse as a new plan, to approve.",
    )
    parser.add_argument(
        "digest",
        help="the applied plan's digest (a unique prefix of 4+ digits will do; 8+ with a server)",
    )
    parser.add_argument("--apply", action="store_true", help="apply the inverse plan now")
    parser.add_argument("-o", "--output", type=Path, help="also write the inverse plan to this file")
    parser.add_argument("--json", action="store_true", help="print JSON")
    add_actor_option(parser)
    add_store_options(parser)
    add_server_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if remote.server_given(args):
        return remote.run_revert(args)
    with open_services(settings_from(args)) as services, one_shot_collection():
        digest = services.audit.resolve(args.digest)
        outcome = services.audit.outcome(digest)
        if outcome is None or outcome.status != "applied":
            status = "never applied" if outcome is None else f"{outcome.status}, nothing changed"
            raise UsageError(f"plan {digest[:12]} was {status}: there is nothing to revert")
        if outcome.inverse is None:
            raise UsageError(f"plan {digest[:12]} changed nothing that can be undone")
        inverse = plan_from_document(outcome.inverse)
        partial = partial_inverse(outcome)
        if partial and not args.json:
            print(terminal("\n".join(line.strip() for line in partial)))
        if args.output is not None:
            args.output.write_text(inverse.to_json() + "\n", encoding="utf-8")
        if args.apply:
            earlier = services.audit.outcome(inverse.digest())
            record = services.engine.apply(inverse, actor=actor_from(args))
            print(
                json.dumps(outcome_json(record), indent=2)
                if args.json
                else terminal(render_apply(services.audit, inverse, record, earlier))
            )
            return EXIT_OK if record.status == "applied" else EXIT_DIAGNOSTICS
        report = services.engine.verify(inverse)
    if args.json:
        body = {"version": "revert/v1", "plan": outcome.inverse, "report": report.model_dump(mode="json")}
        print(json.dumps(body, indent=2, ensure_ascii=False))
    else:
        print(terminal(render_report(inverse, report)))
        if report.ok:
            print("\nThis is the plan that undoes it; run again with --apply to apply it.")
    return EXIT_OK if report.ok else EXIT_DIAGNOSTICS
