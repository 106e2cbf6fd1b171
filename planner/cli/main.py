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

from planner.cli.catalogue import BUILTIN, FALLBACKS, MISSING_HELP, Command
from planner.cli.shell import EXIT_USAGE, UsageError
from planner.cli.text import terminal
from planner.core.errors import PlanSyntaxError, PvaError

EXIT_BROKEN_PIPE = 141
PLUGIN_GROUP = "pva.commands"


def build_parser(
    only: str | None = None, *, lazy: bool = False, plugins: Sequence[Command] | None = None
) -> argparse.ArgumentParser:
    """``pva``'s parser: every command declared in full, or (``lazy``) only the one named ``only``.

    Lazy, every other command is listed with its help (``pva --help`` needs no
    more) and no module of it is imported; the plugins (by default those of
    the entry points) are looked up only when ``only`` is not one of the agent
    side's own commands.
    """
    parser = argparse.ArgumentParser(
        prog="pva", description="pva: plan, verify, apply. Safe changes to a file store."
    )
    commands = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)
    catalogue = list(BUILTIN)
    if not (lazy and only in {command.name for command in BUILTIN}):
        catalogue += _with_fallbacks(_plugins() if plugins is None else plugins)
    # A module may declare several commands (approve and reject): all of them, when one runs.
    run = {(command.module, command.register) for command in catalogue if command.name == only}
    for command in catalogue:
        if command.name in commands.choices:
            continue  # declared with another command of its module
        if not command.available():
            _register_missing(commands, command.name)
        elif not lazy or (command.module, command.register) in run or not command.help:  # no help: old style
            _declare(commands, command)
        else:
            _list_only(commands, command)
    return parser


def _plugins() -> list[Command]:
    """Commands other packages add (the sidecar's), by the ``pva.commands`` entry points, by name.

    Each entry point names a ``Command`` (its module is not imported here). The
    planner never imports the sidecar: a sandbox without the sidecar's
    dependencies still gets every agent command, and a clear word on the rest.
    """
    found: list[Command] = []
    for point in sorted(entry_points(group=PLUGIN_GROUP), key=lambda p: p.name):
        try:
            command = point.load()
        except ModuleNotFoundError:  # the plugin's package itself is not installed
            command = Command(point.name, MISSING_HELP, point.module, needs=(point.module,))
        if not isinstance(command, Command):  # a module with ``register``: declared in full
            command = Command(point.name, "", command.__name__)
        found.append(command)
    return found


def _with_fallbacks(plugins: Sequence[Command]) -> list[Command]:
    """The plugins, where one cannot run its remote form if it has one, listed after the rest."""
    usable = {command.name for command in plugins if command.available()}
    kept = [command for command in plugins if command.name in usable or command.name not in FALLBACKS]
    return kept + [command for name, command in FALLBACKS.items() if name not in usable]


def _declare(commands: Any, command: Command) -> None:
    try:
        command.declare(commands)
    except ModuleNotFoundError:  # a dependency its ``needs`` did not name
        _register_missing(commands, command.name)


def _list_only(commands: Any, command: Command) -> None:
    """A command as ``pva --help`` lists it, its module not imported (never parsed: it is not the one run)."""
    commands.add_parser(command.name, help=command.help, add_help=False)


def _register_missing(commands: Any, name: str) -> None:
    # No option is an option here (prefix "\0"): every word, --help included, goes to the message.
    parser = commands.add_parser(name, help=MISSING_HELP, prefix_chars="\0", add_help=False)
    parser.add_argument("rest", nargs=argparse.REMAINDER)
    parser.set_defaults(run=lambda _args: _missing(name))


def _missing(name: str) -> int:
    raise UsageError(f"'pva {name}' runs on the sidecar; install it with: pip install 'pva[sidecar]'")


def _command_in(argv: Sequence[str]) -> str | None:
    """The command ``argv`` names: its first word that is not an option (``pva`` has only ``-h``)."""
    return next((word for word in argv if not word.startswith("-")), None)


def main(argv: Sequence[str] | None = None) -> int:
    words = sys.argv[1:] if argv is None else list(argv)
    args = build_parser(_command_in(words), lazy=True).parse_args(words)
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
