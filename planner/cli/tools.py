"""``pva tools --format openai|anthropic``: print the tool definitions for LLM function calling."""

from __future__ import annotations

import argparse
import json
from typing import Any

from planner.agent.tools import FORMATS, definitions
from planner.cli.shell import EXIT_OK


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "tools",
        help="print tool definitions for LLM function calling (generated from the plan schema)",
        description="Print the agent tools (verify, submit, status, list a folder, history) as JSON, "
        "in OpenAI or Anthropic format. There is no approve tool: agents only propose.",
    )
    parser.add_argument("--format", choices=FORMATS, default="openai", help="the vendor's format")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    print(json.dumps(definitions(args.format), indent=2, ensure_ascii=False))
    return EXIT_OK
