"""``pva``: parse arguments, run one command, map failures to exit codes.

Exit codes (stable, documented in docs/cli.md):
    0  success (for ``verify``: the plan is valid)
    1  the plan parsed but has error diagnostics (or was rejected, failed or stale)
    2  malformed input (not JSON, fails the schema, bad manifest), misuse, or the sidecar refused (4xx)
    3  the store, the audit database or the sidecar failed (5xx, unreachable), or an apply needs an operator
  130  interrupted
  141  standard output was closed early (a broken pipe)
User errors are one line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from importlib.metadata import entry_points
from typing import Any

from planner.cli import (  # the agent side's commands
    decide,
    digest,
    holds,
    mcp,
    plans,
    remote,
    runloop,
    schema,
    snapshot,
    submit,
    tools,
    verify,
)
from planner.cli.shell import EXIT_USAGE, UsageError
from planner.cli.text import terminal
from planner.core.errors import PlanSyntaxError, PvaError

COMMANDS = (verify, snapshot, schema, digest, submit, plans, decide, holds, tools, mcp, runloop)
EXIT_BROKEN_PIPE = 141
PLUGIN_GROUP = "pva.commands"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pva", description="pva: plan, verify, apply. Safe changes to a file store."
    )
    commands = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)
    for command in COMMANDS:
        command.register(commands)
    plugins = _plugins()
    loaded = {name for name, module in plugins if module is not None}
    for name, module in plugins:
        if module is not None:
            module.register(commands)
        elif name not in remote.FALLBACKS:
            _register_missing(commands, name)
    for name, fallback in remote.FALLBACKS.items():
        if name not in loaded:  # no sidecar here: its apply, revert and audit only over HTTP
            fallback(commands)
    return parser


def _plugins() -> list[tuple[str, Any]]:
    """Commands other packages add (the sidecar's), by the ``pva.commands`` entry points.

    The planner never imports the sidecar: a sandbox without the sidecar's
    dependencies still gets every agent command, and a clear word on the rest.
    """
    found: list[tuple[str, Any]] = []
    for point in sorted(entry_points(group=PLUGIN_GROUP), key=lambda p: p.name):
        try:
            found.append((point.name, point.load()))
        except ModuleNotFoundError:  # the sidecar or a dependency of it is not installed
            found.append((point.name, None))
    return found


def _register_missing(commands: Any, name: str) -> None:
    parser = commands.add_parser(name, help="(needs the sidecar: pip install 'pva[sidecar]')")
    parser.add_argument("rest", nargs=argparse.REMAINDER)
    parser.set_defaults(run=lambda _args: _missing(name))


def _missing(name: str) -> int:
    raise UsageError(f"'pva {name}' runs on the sidecar; install it with: pip install 'pva[sidecar]'")


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.run(args)
    except PlanSyntaxError as error:
        for problem in error.problems:
            print(terminal(f"pva: malformed plan: {problem}"), file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:
        # The reader went away (`pva schema | head`): stop quietly, as cat does.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except OSError as error:
        print(f"pva: {error.strerror or error}: {error.filename or ''}".rstrip(": "), file=sys.stderr)
        return EXIT_USAGE
    except PvaError as error:  # each kind says its exit code: 2 to fix input, 3 for an operator
        print(terminal(f"pva: {error}"), file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt as interrupt:  # the message, if any, says what had happened by then
        print(f"pva: interrupted{f': {interrupt}' if str(interrupt) else ''}", file=sys.stderr)
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
