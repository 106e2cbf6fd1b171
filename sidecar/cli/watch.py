"""``pva watch``: record the changes made to the store outside pva, each as one ``outside_change`` event.

Compares the store with what the audit expects (the last scan, and every
apply since) and records each difference: an edit, a delete, an add, or a
move (a delete and an add of the same content). The first scan of a store
only sets the baseline. Once by default; ``--every 5m`` scans until stopped.
``pva serve`` does the same when PVA_WATCH_INTERVAL is set. Exit 0; 3 when
the store fails, or lists no file where the audit expects some (an unmounted
disk shows an empty folder): nothing is recorded then, unless --allow-empty.
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import timedelta
from typing import Any

from planner.cli.shell import EXIT_OK, UsageError
from planner.cli.text import one_line, terminal
from planner.core.manifest import unbroken
from sidecar import db
from sidecar.audit.payloads import OutsideChange, encode
from sidecar.audit.watch_state import SqlWatchState
from sidecar.cli.options import add_store_options, settings_from
from sidecar.service.watch import Watcher
from sidecar.times import short_duration
from sidecar.wiring import open_services


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "watch", help="record changes made to the store outside pva", description=__doc__
    )
    add_store_options(parser)
    parser.add_argument(
        "--every", metavar="DURATION", help="scan again after this long (e.g. 5m), until stopped"
    )
    parser.add_argument("--json", action="store_true", help="print each change recorded as JSON")
    parser.add_argument(
        "--allow-empty",
        action="store_true",
        help="record every file deleted if the store lists none (else: refused, as if it were not mounted)",
    )
    parser.set_defaults(run=run_watch)


def run_watch(args: argparse.Namespace) -> int:
    every = _every(args.every)
    settings = settings_from(args)
    with open_services(settings) as services:
        watcher = Watcher(
            services.backend,
            SqlWatchState(services.audit.engine),
            clock=db.utc_now,
            busy=services.plans.paths_applying,
            allow_empty=args.allow_empty,
        )
        while True:
            _show(args, watcher.scan())
            if every is None:
                return EXIT_OK
            time.sleep(every.total_seconds())


def _show(args: argparse.Namespace, changes: list[OutsideChange]) -> None:
    for change in changes:
        if args.json:
            line = json.dumps({"version": "outside-change/v1", **encode(change)}, ensure_ascii=False)
            print(unbroken(line), flush=True)  # one line, whatever the changed names hold
        else:
            shown = " -> ".join(one_line(path) for path in change.paths)  # a newline in a name forges no line
            print(terminal(f"{change.change}: {shown}"), flush=True)
    if not args.json:
        print(f"{len(changes)} outside change{'' if len(changes) == 1 else 's'} recorded", flush=True)


def _every(text: str | None) -> timedelta | None:
    if text is None:
        return None
    every = short_duration(text)
    if every is None or every <= timedelta(0):
        raise UsageError(f"--every {text!r}: give a duration such as 30s, 5m or 1h")
    return every
