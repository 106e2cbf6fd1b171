"""``pva schema``: print the plan JSON Schema."""

from __future__ import annotations

import argparse
import json
from typing import Any

from planner.cli.shell import EXIT_OK
from planner.core.schema import plan_json_schema


def register(commands: Any) -> None:
    parser = commands.add_parser("schema", help="print the plan JSON Schema (plan/v1)")
    parser.set_defaults(run=run)


def run(_args: argparse.Namespace) -> int:
    print(json.dumps(plan_json_schema(), indent=2, ensure_ascii=False))
    return EXIT_OK
