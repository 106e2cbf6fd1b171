"""Helpers shared by CLI commands: exit codes, reading inputs, writing outputs, the --server options."""

from __future__ import annotations

import argparse
import gc
import os
import sys
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from planner.core.errors import PvaError

EXIT_OK = 0
EXIT_DIAGNOSTICS = 1
EXIT_USAGE = 2
MAX_PLAN_BYTES = 256 * 1024 * 1024


# Objects allocated between collections of the youngest generation in a one-shot command that
# verifies or applies a plan (pva verify, apply, revert; Python's default: 700). Verifying a
# 100,000-op plan keeps about half a million objects (changes, the inverse plan, the effect); at
# the default, the collector walks all of them again and again as they pile up, a fifth of the
# verify. mypy sets 200,000 for the same reason.
ONE_SHOT_COLLECTION = 200_000


@contextmanager
def one_shot_collection() -> Iterator[None]:
    """Collect garbage less often inside: for a command that builds one big result, never a server.

    Rarer collections only: reference counting still frees nearly everything at once.
    """
    young, older, oldest = gc.get_threshold()
    gc.set_threshold(max(young, ONE_SHOT_COLLECTION), older, oldest)
    try:
        yield
    finally:  # as it was, for a caller that goes on (main() called in process)
        gc.set_threshold(young, older, oldest)


def add_server_options(parser: argparse.ArgumentParser) -> None:
    """``--server`` and ``--token``; here, not in ``remote``: declaring them imports no HTTP client."""
    group = parser.add_argument_group("the sidecar (over HTTP)")
    group.add_argument("--server", metavar="URL", help="the sidecar's URL (default: PVA_URL)")
    group.add_argument(
        "--token", metavar="TOKEN", help="an API token (default: PVA_TOKEN, better: arguments show in ps)"
    )


class UsageError(PvaError):
    """The command was misused; the message says how to use it."""

    exit_code = 2


def read_input(name: str, *, limit: int = MAX_PLAN_BYTES) -> bytes:
    """Read a file, or standard input for '-', refusing more than ``limit`` bytes."""
    if name == "-":
        data = sys.stdin.buffer.read(limit + 1)
    else:
        with open(name, "rb") as handle:
            data = handle.read(limit + 1)
    if len(data) > limit:
        raise UsageError(f"{name}: larger than {limit} bytes")
    return data


def write_lines_atomically(target: Path, lines: Iterable[str]) -> int:
    """Write lines to ``target`` through a temporary file renamed into place; return the count."""
    count = 0

    def encoded() -> Iterator[bytes]:
        nonlocal count
        for line in lines:
            count += 1
            yield f"{line}\n".encode()

    write_atomically(target, encoded())
    return count


def write_atomically(target: Path, chunks: Iterable[bytes]) -> None:
    """Write ``chunks`` to ``target`` through a temporary file, fsynced and renamed into place.

    If anything fails on the way (a cut-off download), ``target`` is as it was.
    A folder it cannot write in is an OSError naming ``target``, not the temporary file.
    """
    try:
        fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    except OSError as error:
        raise OSError(error.errno, error.strerror, str(target)) from None
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.writelines(chunks)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, target)
    except BaseException:
        os.unlink(temporary)
        raise
