"""``pva worker``: run queued applies (PVA_APPLY_MODE=jobs on PostgreSQL), for VMs that only apply.

It takes apply jobs from the database's queue, heartbeats, and retries the
jobs of workers whose heartbeat stopped (each ``pva serve`` in jobs mode does
the same in a thread). It serves no HTTP. SIGINT or SIGTERM: it finishes the
apply in hand, then exits 0. On SQLite there is no shared queue: ``pva
serve`` applies (exit 2).
"""

from __future__ import annotations

import argparse
import contextlib
import signal
from typing import Any

from planner.cli.shell import EXIT_OK, UsageError
from sidecar import db
from sidecar.cli.options import add_store_options, settings_from
from sidecar.jobs.postgres import PostgresWorker
from sidecar.wiring import open_services


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "worker", help="run queued applies (jobs mode, PostgreSQL)", description=__doc__
    )
    add_store_options(parser)
    parser.add_argument("--name", default="pva-worker", help="the worker's name in logs and the queue")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    settings = settings_from(args).model_copy(update={"apply_mode": "jobs"})
    if db.database_url(settings.database_url).get_backend_name() != "postgresql":
        raise UsageError(
            "pva worker needs a PostgreSQL database (PVA_DATABASE_URL); on SQLite pva serve applies"
        )
    with open_services(settings) as services:
        worker = services.worker(settings, name=args.name)
        assert isinstance(worker, PostgresWorker)  # jobs mode on PostgreSQL
        signal.signal(signal.SIGTERM, signal.default_int_handler)  # until the worker's loop handles both
        print(f"pva worker {args.name}: taking apply jobs", flush=True)
        with contextlib.suppress(KeyboardInterrupt):  # a signal before the loop began: nothing to finish
            worker.run()
    return EXIT_OK
