"""``pva ls PATH``, ``pva cat PATH`` and ``pva manifest PATH``: read the store through the sidecar.

Over HTTP only (``--server`` or ``PVA_URL``, and a token): an agent reads
what it plans about without a copy of the store. ``ls`` lists a folder
(``--depth`` levels; ``--json`` prints tree/v1's entries), ``cat`` writes a
file's bytes to standard output (or ``-o FILE``, whole or not at all;
``--range START-END``),
``manifest`` streams manifest/v1 lines (``--hash`` hashes every file). Exit
0, or 2 when the sidecar refuses (out of scope, no such path).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from planner.cli.remote import calling, connect
from planner.cli.shell import EXIT_OK, UsageError, add_server_options, write_atomically
from planner.cli.text import one_line, terminal


def register(commands: Any) -> None:
    ls = commands.add_parser("ls", help="list a folder of the store, through the sidecar")
    ls.add_argument("path", nargs="?", default="", help="a folder ('' or none: the whole store)")
    ls.add_argument("--depth", type=int, default=1, help="levels below the folder (default 1)")
    ls.add_argument("--json", action="store_true", help="print the entries as JSON")
    add_server_options(ls)
    ls.set_defaults(run=run_ls)
    cat = commands.add_parser("cat", help="print a file of the store, through the sidecar")
    cat.add_argument("path", help="a file's store path")
    cat.add_argument("--range", metavar="START-END", help="only these bytes (END included)")
    cat.add_argument("-o", "--output", metavar="FILE", help="write to FILE, not standard output")
    add_server_options(cat)
    cat.set_defaults(run=run_cat)
    manifest = commands.add_parser("manifest", help="a manifest of a folder, through the sidecar")
    manifest.add_argument("path", nargs="?", default="", help="a folder ('' or none: the whole store)")
    manifest.add_argument("--hash", action="store_true", help="hash every file (reads every byte)")
    add_server_options(manifest)
    manifest.set_defaults(run=run_manifest)


@calling
def run_ls(args: argparse.Namespace) -> int:
    with connect(args) as client:
        entries = client.list_folder(args.path, depth=args.depth)
    if args.json:
        print(json.dumps(entries, indent=2, ensure_ascii=False))
        return EXIT_OK
    for entry in entries:
        size = "-" if entry["kind"] == "dir" else str(entry["size"])
        name = entry["path"] + ("/" if entry["kind"] == "dir" else "")
        print(terminal(f"{size:>12}  {one_line(name)}"))  # a name may hold a newline: it forges no line
    return EXIT_OK


@calling
def run_cat(args: argparse.Namespace) -> int:
    start, stop = _range(args.range)
    with connect(args) as client:
        chunks = client.read_chunks(args.path, start=start, stop=stop)
        if args.output:
            write_atomically(Path(args.output), chunks)  # a cut-off read leaves no partial file
        else:
            for chunk in chunks:
                sys.stdout.buffer.write(chunk)
            sys.stdout.flush()
    return EXIT_OK


@calling
def run_manifest(args: argparse.Namespace) -> int:
    with connect(args) as client:
        for line in client.manifest(args.path, hashed=args.hash):
            print(line)
    return EXIT_OK


def _range(text: str | None) -> tuple[int | None, int | None]:
    if text is None:
        return None, None
    first, _, last = text.partition("-")
    if not first.isdigit() or (last and not last.isdigit()):
        raise UsageError(f"--range {text!r}: give START-END or START- (byte offsets, END included)")
    return int(first), int(last) + 1 if last else None
