"""``pva snapshot DIR [-o FILE] [--no-hash]``: stream a manifest of a folder."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from planner.cli.common import EXIT_OK, UsageError, write_lines_atomically
from planner.cli.progress import Progress
from planner.manifest import manifest_lines
from planner.snapshot import ScanStats, scan


def register(commands: Any) -> None:
    parser = commands.add_parser("snapshot", help="write a manifest (JSON lines) of a folder")
    parser.add_argument("root", type=Path, help="the folder to scan")
    parser.add_argument("-o", "--output", default="-", help="manifest file (default: standard output)")
    parser.add_argument("--no-hash", action="store_true", help="metadata only: skip sha256 (fast)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if not args.root.is_dir():
        raise UsageError(f"{args.root}: not a folder")
    hashed = not args.no_hash
    stats = ScanStats()
    progress = Progress(sys.stderr)
    entries = scan(args.root, hashed=hashed, stats=stats, on_entry=progress.update)
    lines = manifest_lines(entries, str(args.root.resolve()), hashed=hashed)
    if args.output == "-":
        for line in lines:
            sys.stdout.write(line + "\n")
        sys.stdout.flush()
    else:
        write_lines_atomically(Path(args.output), lines)
    progress.done()
    skipped = f"; skipped {len(stats.skipped)} symlinks or special files" if stats.skipped else ""
    where = "" if args.output == "-" else f" to {args.output}"
    print(f"pva: wrote {stats.entries} entries{where}{skipped}", file=sys.stderr)
    return EXIT_OK
