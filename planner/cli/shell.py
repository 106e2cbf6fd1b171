"""Helpers shared by CLI commands: exit codes, reading inputs, writing outputs."""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path

from planner.core.errors import PvaError

EXIT_OK = 0
EXIT_DIAGNOSTICS = 1
EXIT_USAGE = 2
MAX_PLAN_BYTES = 256 * 1024 * 1024


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
    folder = target.parent
    fd, temporary = tempfile.mkstemp(dir=folder, prefix=f".{target.name}.", suffix=".tmp")
    count = 0
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            for line in lines:
                handle.write(line)
                handle.write("\n")
                count += 1
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, target)
    except BaseException:
        os.unlink(temporary)
        raise
    return count
