"""A child process for the GCS crash test: apply or recover on a bucket, and SIGKILL itself at crash point n.

    python -m tests.crash.gcs_runner apply|recover URL BUCKET STATE DB PLAN N

Crash points are the engine's (step boundaries) and the mover's (after each
object of a folder move). With N = -1 it runs to the end and prints the
points it passed, as JSON.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
from pathlib import Path

from planner.core.parse import parse_plan
from sidecar.apply.engine import Engine
from sidecar.apply.journal import FileJournals
from sidecar.audit.store import SqlAuditStore
from sidecar.backends.gcs.backend import GcsBackend
from sidecar.backends.gcs.mover import Mover
from sidecar.backends.gcs.objects import Objects
from tests.gcs.fixtures import FAST_RETRY, client_for


def main(mode: str, url: str, bucket: str, state: str, database: str, plan_file: str, kill_at: int) -> None:  # noqa: PLR0917  # the command line, in order
    passed: list[str] = []
    lock = threading.Lock()

    def hook(label: str) -> None:
        with lock:
            if len(passed) == kill_at:
                os.kill(os.getpid(), signal.SIGKILL)
            passed.append(label)

    objects = Objects(client_for(url).get_bucket(bucket), FAST_RETRY)
    folder = Path(state)
    folder.mkdir(parents=True, exist_ok=True)
    backend = GcsBackend(
        objects, "store/", folder, mover=Mover(objects, folder / "moves", workers=8, hook=hook)
    )
    audit = SqlAuditStore.open(database)
    engine = Engine(backend, audit, FileJournals(folder), hook=hook)
    if mode == "apply":
        engine.apply(parse_plan(Path(plan_file).read_bytes()), actor="crash-test")
    else:
        engine.recover()
    print(json.dumps(passed))  # noqa: T201  # the parent test reads it


if __name__ == "__main__":
    mode, url, bucket, state, database, plan_file = sys.argv[1:7]
    main(mode, url, bucket, state, database, plan_file, int(sys.argv[7]))
