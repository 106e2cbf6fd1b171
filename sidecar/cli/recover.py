"""``pva recover``: finish or roll back applies a crash interrupted (also runs before every apply)."""

from __future__ import annotations

import argparse
from typing import Any

from planner.cli.shell import EXIT_OK
from planner.cli.text import terminal
from sidecar.cli.options import add_store_options, settings_from
from sidecar.wiring import open_services


def register(commands: Any) -> None:
    parser = commands.add_parser("recover", help="finish or undo applies that a crash interrupted")
    add_store_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    with open_services(settings_from(args)) as services:
        settled = services.engine.recover()
    if not settled:
        print("Nothing to recover: no interrupted apply.")
    for item in settled:
        print(terminal(f"{item.digest[:12]}: {item.outcome}"))
    return EXIT_OK
