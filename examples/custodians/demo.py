"""The custodian example end to end against a running sidecar (``make serve``), in one command.

    PVA_URL=http://127.0.0.1:8000 PVA_TOKEN=<an agent token> .venv/bin/python -m examples.custodians.demo

It seeds a small discovery set into the store folder (``--store``, default
``var/projects``: the demo writes sample files there directly, as a person
filing documents would, never through pva), fetches the matter's manifest
from the sidecar, runs the agent over it, verifies the plan with the sidecar,
submits it, and prints the plan's id and how a person approves it. With
``--wait SECONDS`` it then waits for the decision.

It checks first that the sidecar answers and that the token may propose
in the subtree, and writes nothing until then. A failure is one line on
standard error: exit 2 for what the caller must fix (the token, its scope,
the settings), 3 when the sidecar cannot be reached or fails.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from examples.custodians.agent import organise
from examples.custodians.seed import seed
from planner.client.http_client import PvaClient
from planner.core.builder import PlanBuilder
from planner.core.errors import PvaError
from planner.core.manifest import read_entries


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", type=Path, default=Path("var/projects"), help="the sidecar's store folder")
    parser.add_argument("--subtree", default="matters/demo-custodians", help="the matter to organise")
    parser.add_argument("--wait", type=float, metavar="SECONDS", help="wait for the decision")
    args = parser.parse_args(argv)
    try:
        with PvaClient.from_env() as client:
            return _demo(client, args)
    except PvaError as error:
        sys.stderr.write(f"demo: {error}\n")
        return error.exit_code


def _demo(client: PvaClient, args: argparse.Namespace) -> int:
    _check_token(client, args.subtree)  # before writing anything into the store
    inbox = args.store / args.subtree / "discovery" / "inbox"
    if not inbox.exists():
        sys.stdout.write(f"seeded {len(seed(args.store, args.subtree))} documents in {inbox}\n")
    entries = list(read_entries(client.snapshot(args.subtree)))
    plan = organise(entries, args.subtree, lambda path: _head(args.store, path))
    if plan is None:
        sys.stdout.write("nothing to file: the inbox is already organised\n")
        return 0
    report = client.verify(plan)
    for diagnostic in report.diagnostics:
        sys.stdout.write(f"  {diagnostic}\n")
    if not report.ok:
        return 1
    status = client.submit(plan)
    sys.stdout.write(f"submitted {status.id[:12]} ({len(plan.ops)} ops): {status.state}\n")
    if status.state == "pending":
        approve = f"PVA_TOKEN=<approver token> pva approve {status.id[:12]} -m 'checked'"
        sys.stdout.write(f"approve it as someone else:  {approve}\n")
    if args.wait is not None:
        status = client.wait(status.id, timeout=args.wait)
        sys.stdout.write(f"{status.id[:12]}: {status.state}\n")
    return 0


def _check_token(client: PvaClient, subtree: str) -> None:
    """Raise the sidecar's refusal unless it answers and the token may propose plans in ``subtree``.

    A dry run of a plan that makes the subtree: it stores nothing, and its
    diagnostics (the subtree may exist already) do not matter here.
    """
    probe = PlanBuilder("demo: may this token propose here?", scope=[subtree])
    client.verify(probe.mkdir(subtree, parents=True).build())


def _head(store: Path, path: str) -> bytes:
    with (store / path).open("rb") as handle:
        return handle.read(8192)


if __name__ == "__main__":
    sys.exit(main())
