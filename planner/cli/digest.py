"""``pva digest PLAN``: print a plan's digest (sha256 of its canonical encoding)."""

from __future__ import annotations

import argparse
from typing import Any

from planner.cli.shell import EXIT_OK, read_input
from planner.core.parse import parse_plan


def register(commands: Any) -> None:
    parser = commands.add_parser("digest", help="print a plan's digest")
    parser.add_argument("plan", help="plan file, or - for standard input")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    print(parse_plan(read_input(args.plan)).digest())
    return EXIT_OK
