"""``pva custody report|verify``: signed custody reports of documents, and checking one offline.

``report PATH`` (a document, followed across its moves) or ``report --matter
FOLDER`` (every document in a matter's folder), optionally ``--from``/``--to``,
writes a report signed with ``PVA_CHECKPOINT_KEY`` as JSON, HTML or CSV
(``-o FILE``, else standard output). On the VM it reads the whole audit (the
command is for those who hold the database); people scoped to a matter get
theirs from the API or the page (``GET /v1/custody``), behind the wall.

``verify REPORT --key VERIFIER`` needs no database: it checks the report's
signature, its checkpoint's signature, every event's hash and inclusion
proof, that the rows are what the events say, and (HTML, CSV) that the file
is the rendering of the report it carries. Exit codes: 0 the report holds;
1 it does not (each problem is printed); 2 misuse.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from planner.cli.shell import EXIT_DIAGNOSTICS, EXIT_OK, UsageError, read_input
from planner.cli.text import terminal
from planner.core.paths import read_path_problem
from sidecar import db
from sidecar.audit import checkpoints
from sidecar.audit.custody_formats import FORMATS, check_file, render
from sidecar.audit.custody_source import SqlCustody, report
from sidecar.cli.checkpoint import NO_KEY
from sidecar.cli.db import add_db_option, database
from sidecar.cli.options import actor_from, add_actor_option
from sidecar.settings import Settings
from sidecar.stores import checkpoint_destination
from sidecar.times import as_utc

MAX_REPORT_BYTES = 512 * 1024 * 1024


def register(commands: Any) -> None:
    parser = commands.add_parser("custody", help="signed custody reports", description=__doc__)
    actions = parser.add_subparsers(title="actions", metavar="ACTION", required=True)
    making = actions.add_parser("report", help="write a signed custody report of a document or a matter")
    making.add_argument("path", nargs="?", help="a document's path, as it is now or as it was")
    making.add_argument("--matter", metavar="FOLDER", help="instead: every document in this matter's folder")
    making.add_argument("--from", dest="since", metavar="TIME", help="events at or after (ISO 8601, UTC)")
    making.add_argument("--to", dest="until", metavar="TIME", help="events before (ISO 8601, UTC)")
    making.add_argument("--format", choices=FORMATS, default="html", help="html (default), json or csv")
    making.add_argument("-o", "--output", metavar="FILE", help="write here instead of standard output")
    add_db_option(making)
    add_actor_option(making)
    making.set_defaults(run=run_report)
    checking = actions.add_parser("verify", help="check a custody report offline (no database)")
    checking.add_argument("report", help="the report file (JSON, HTML or CSV), or - for standard input")
    checking.add_argument("--key", required=True, metavar="VERIFIER", help="the firm's verifier key")
    checking.add_argument("--json", action="store_true", help="print the versioned JSON view")
    checking.set_defaults(run=run_verify)


def run_report(args: argparse.Namespace) -> int:
    if (args.path is None) == (args.matter is None):
        raise UsageError("give a document's PATH or --matter FOLDER (one of them)")
    target = args.path if args.path is not None else args.matter
    problem = read_path_problem(target)
    if problem is not None:
        raise UsageError(problem)
    settings = Settings.load()
    if settings.checkpoint_key is None:
        raise UsageError(NO_KEY)
    signer = checkpoints.parse_signer(settings.checkpoint_key.get_secret_value())
    since, until = _time(args.since, "--from"), _time(args.until, "--to")
    with db.opened(SqlCustody, database(args)) as source:
        subject = source.subject("path" if args.path else "matter", target, since=since, until=until)
        document = report(
            source,
            subject,
            lambda _: True,  # whoever holds the database reads all of it
            signer,
            origin=settings.checkpoint_origin or signer.name,
            made=db.utc_now(),
            made_by=actor_from(args),
            publish_to=checkpoint_destination(settings.checkpoint_dir) if settings.checkpoint_dir else None,
        )
    text = render(document, args.format)
    if args.output is None:
        sys.stdout.write(text)
    else:
        Path(args.output).write_text(text, encoding="utf-8", newline="")
        count = len(document["events"])
        print(f"custody report of {target}: {count} events, written to {args.output}", file=sys.stderr)
    return EXIT_OK


def run_verify(args: argparse.Namespace) -> int:
    verifier = checkpoints.parse_verifier(args.key)
    checked = check_file(read_input(args.report, limit=MAX_REPORT_BYTES), verifier)
    if args.json:
        body = {
            "version": "custody-verify/v1",
            "ok": checked.ok,
            "events": checked.events,
            "rows": checked.rows,
            "checkpoint_size": checked.checkpoint_size,
            "problems": list(checked.problems),
        }
        print(json.dumps(body, indent=2, ensure_ascii=False))
    elif checked.ok:
        print(
            f"the report holds: signed by {verifier.name}; {checked.events} events, each in the log's "
            f"checkpoint of {checked.checkpoint_size} events; {checked.rows} rows, each what its event says"
        )
    else:
        print(terminal("the report does not hold:\n" + "\n".join(f"  {p}" for p in checked.problems)))
    return EXIT_OK if checked.ok else EXIT_DIAGNOSTICS


def _time(text: str | None, option: str) -> datetime | None:
    if text is None:
        return None
    try:
        return as_utc(datetime.fromisoformat(text))
    except ValueError:
        raise UsageError(f"{option} {text!r} is not an ISO 8601 date or time") from None
