"""``pva snapshot DIR|URL [-o FILE] [--no-hash]``: stream a manifest of a folder, or of a store URL.

A URL (``gs://BUCKET/PREFIX``) is read by the snapshot source its scheme names
in the ``pva.snapshot_sources`` entry points (the sidecar's GCS backend
provides ``gs``), so the planner never imports google libraries or the sidecar.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterable
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from planner.agent.snapshot import ScanStats, scan
from planner.cli.progress import Progress
from planner.cli.shell import EXIT_OK, UsageError, write_lines_atomically
from planner.core.manifest import manifest_lines


def register(commands: Any) -> None:
    parser = commands.add_parser("snapshot", help="write a manifest (JSON lines) of a folder")
    parser.add_argument("root", help="the folder to scan, or a store URL such as gs://BUCKET/PREFIX")
    parser.add_argument("-o", "--output", default="-", help="manifest file (default: standard output)")
    parser.add_argument("--no-hash", action="store_true", help="metadata only: skip sha256 (fast)")
    parser.set_defaults(run=run)


SOURCES = "pva.snapshot_sources"


def _source(url: str) -> Callable[..., Iterable[str]]:
    """The manifest source for ``url``'s scheme, from the ``pva.snapshot_sources`` entry points."""
    scheme = url.split("://", 1)[0]
    for point in entry_points(group=SOURCES, name=scheme):
        try:
            source: Callable[..., Iterable[str]] = point.load()
        except ModuleNotFoundError:  # the sidecar or a dependency of it is not installed
            break
        return source
    raise UsageError(
        f"no snapshot source for {scheme}:// here; it needs the sidecar: pip install 'pva[sidecar]'"
    )


def _run_url(args: argparse.Namespace) -> int:
    lines = _source(args.root)(args.root, hashed=not args.no_hash)
    if args.output == "-":
        count = 0
        for count, line in enumerate(lines):  # noqa: B007  # the count is the last index
            sys.stdout.write(line + "\n")
        sys.stdout.flush()
    else:
        count = write_lines_atomically(Path(args.output), lines) - 1
    where = "" if args.output == "-" else f" to {args.output}"
    print(f"pva: wrote {count} entries{where}", file=sys.stderr)
    return EXIT_OK


def run(args: argparse.Namespace) -> int:
    if "://" in args.root:
        return _run_url(args)
    args.root = Path(args.root)
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
    odd = len(stats.skipped)
    skipped = f"; skipped {odd} links, special or hard-linked files or names not UTF-8" if odd else ""
    where = "" if args.output == "-" else f" to {args.output}"
    print(f"pva: wrote {stats.entries} entries{where}{skipped}", file=sys.stderr)
    return EXIT_OK
