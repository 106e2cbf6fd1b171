"""``pva``: parse arguments, run one command, map failures to exit codes.

Exit codes (stable, documented in docs/cli.md):
    0  success (for ``verify``: the plan is valid)
    1  the plan parsed but has error diagnostics
    2  malformed input (not JSON, fails the schema, bad manifest) or misuse
  130  interrupted
  141  standard output was closed early (a broken pipe)
User errors are one line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from planner.cli import digest, schema, snapshot, verify
from planner.cli.common import EXIT_USAGE, UsageError
from planner.errors import ManifestError, PlanSyntaxError

COMMANDS = (verify, snapshot, schema, digest)
EXIT_BROKEN_PIPE = 141


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pva", description="pva: plan, verify, apply. Safe changes to a file store."
    )
    commands = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)
    for command in COMMANDS:
        command.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.run(args)
    except PlanSyntaxError as error:
        for problem in error.problems:
            print(f"pva: malformed plan: {problem}", file=sys.stderr)
        return EXIT_USAGE
    except (ManifestError, UsageError) as error:
        print(f"pva: {error}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:
        # The reader went away (`pva schema | head`): stop quietly, as cat does.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except OSError as error:
        print(f"pva: {error.strerror or error}: {error.filename or ''}".rstrip(": "), file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("pva: interrupted", file=sys.stderr)
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
