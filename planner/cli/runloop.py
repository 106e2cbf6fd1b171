"""``pva runloop run``: run an agent in a RunLoop devbox over a read-only view of a subtree; submit its plan.

Needs the ``agent`` extra (``runloop-api-client``), imported only when the
command runs, and ``RUNLOOP_API_KEY``. The plan is submitted to ``PVA_URL`` as
``PVA_TOKEN`` (the agent's token), which the devbox never sees. ``--view
lazy`` (the default) gives the devbox the subtree's manifest and a read-only
token for the subtree that expires with the run; the agent reads documents
through the sidecar. ``--view copy`` copies every byte of the subtree in.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from planner.cli.shell import EXIT_DIAGNOSTICS, EXIT_OK, UsageError
from planner.cli.text import one_line, terminal
from planner.client.http_client import PvaClient
from planner.client.models import REFUSED

AGENT_EXTRA = "install the agent extra: pip install 'pva[agent]'"


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "runloop", help="run an agent in a RunLoop devbox and submit the plan it writes"
    )
    actions = parser.add_subparsers(title="actions", metavar="ACTION", required=True)
    run_parser = actions.add_parser(
        "run",
        help="snapshot a subtree, run the agent command over it read-only, submit its plan",
        description=__doc__,
    )
    run_parser.add_argument("--subtree", required=True, help="what the agent sees, e.g. matters/acme")
    run_parser.add_argument(
        "--view",
        choices=["lazy", "copy"],
        default="lazy",
        help="lazy (default): a manifest and a read-only token, documents read on demand; "
        "copy: every byte of the subtree copied into the devbox",
    )
    run_parser.add_argument("--command", required=True, help="the agent command, e.g. 'python agent.py'")
    run_parser.add_argument(
        "--store",
        type=Path,
        help="the store's folder on this machine (default: PVA_STORE, else var/projects)",
    )
    run_parser.add_argument(
        "--file", type=Path, action="append", default=[], help="a file of the agent's, put in its folder"
    )
    run_parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE", help="for the agent")
    run_parser.add_argument("--blueprint", help="a RunLoop blueprint (image) name")
    run_parser.add_argument("--timeout", type=float, default=3600.0, help="seconds for the agent (3600)")
    run_parser.add_argument("--boot-timeout", type=float, default=600.0, help="seconds to boot (600)")
    run_parser.add_argument("--max-plan-bytes", type=int, default=16 * 1024 * 1024, help="plan size cap")
    run_parser.add_argument(
        "--agent-url", help="the sidecar's URL as the devbox reaches it (default: PVA_URL)"
    )
    run_parser.add_argument("--out", type=Path, help="also save the plan here")
    run_parser.add_argument("--no-submit", action="store_true", help="fetch the plan, do not submit it")
    run_parser.add_argument("--wait", action="store_true", help="then wait for the decision")
    run_parser.add_argument(
        "--wait-timeout", type=float, default=600.0, metavar="S", help="with --wait: give up after S (600)"
    )
    run_parser.add_argument("--json", action="store_true", help="print the plan's status as JSON")
    run_parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    try:
        from runloop_api_client import Runloop, RunloopError  # noqa: PLC0415  # the agent extra

        from planner.agent.runloop import RunSpec, run_view  # noqa: PLC0415
    except ModuleNotFoundError as error:
        raise UsageError(f"'pva runloop' needs runloop-api-client ({error.name}): {AGENT_EXTRA}") from None
    # The lazy view needs the client even without submitting: its token makes the devbox's.
    client = None if args.no_submit and args.view == "copy" else PvaClient.from_env()
    url = args.agent_url or os.environ.get("PVA_URL", "")
    if args.view == "lazy" and args.agent_url is None and _loopback(url):
        raise UsageError(
            f"--view lazy: the agent reads through the sidecar, and PVA_URL ({url}) is this machine's "
            "own address, which a RunLoop devbox cannot reach: pass --agent-url with the sidecar's "
            "address as the devbox reaches it (its public HTTPS URL)"
        )
    spec = RunSpec(
        store=args.store or Path(os.environ.get("PVA_STORE") or "var/projects"),
        subtree=args.subtree.strip("/"),
        command=args.command,
        sidecar_url=url,
        files={path.name: path.read_text(encoding="utf-8") for path in args.file},
        env=dict(_assignment(item) for item in args.env),
        blueprint=args.blueprint,
        timeout=args.timeout,
        boot_timeout=args.boot_timeout,
        max_plan_bytes=args.max_plan_bytes,
        view=args.view,
    )
    try:
        runloop = Runloop()
    except RunloopError as error:
        raise UsageError(f"RunLoop: {error} (set RUNLOOP_API_KEY)") from None

    result = run_view(runloop, spec, client, on_step=lambda step: print(f"pva: {step}", file=sys.stderr))
    plan = result.plan()
    if args.out is not None:
        args.out.write_text(plan.to_json() + "\n", encoding="utf-8")
    if client is None or args.no_submit:
        if client is not None:
            client.close()
        print(plan.digest())
        return EXIT_OK
    with client:
        status = client.submit(plan)
        if args.wait:
            status = client.wait(status.id, timeout=args.wait_timeout)
    if args.json:
        print(json.dumps(status.model_dump(mode="json"), indent=2, ensure_ascii=False))
    else:
        print(terminal(f"{status.id} {status.state}: {one_line(status.title)}"))
        for diagnostic in status.diagnostics:
            print(terminal(f"  {diagnostic}"))
    return EXIT_DIAGNOSTICS if status.state in REFUSED else EXIT_OK


def _loopback(url: str) -> bool:
    """``url`` names this machine: localhost, or a loopback or unspecified address."""
    host = urlsplit(url).hostname or ""
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified


def _assignment(text: str) -> tuple[str, str]:
    name, equals, value = text.partition("=")
    if not equals or not name:
        raise UsageError(f"--env {text!r}: write NAME=VALUE")
    return name, value
