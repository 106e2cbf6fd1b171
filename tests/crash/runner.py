"""A child process for the crash tests: apply or recover, and SIGKILL itself at crash point n.

    python -m tests.crash.runner apply|recover STORE DB PLAN N

With N = -1 it runs to the end and prints the crash points it passed, as JSON.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path

from planner.core.parse import parse_plan
from sidecar.apply.engine import Engine
from sidecar.apply.journal import FileJournals
from sidecar.audit.store import SqlAuditStore
from sidecar.backends.local import LocalBackend


def main(mode: str, store: str, database: str, plan_file: str, kill_at: int) -> None:
    passed: list[str] = []

    def hook(label: str) -> None:
        if len(passed) == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
        passed.append(label)

    root = Path(store)
    audit = SqlAuditStore.open(database)
    engine = Engine(LocalBackend(root), audit, FileJournals(root), hook=hook)
    if mode == "apply":
        plan = parse_plan(Path(plan_file).read_bytes())
        engine.apply(plan, actor="crash-test")
    else:
        engine.recover()
    print(json.dumps(passed))  # noqa: T201  # the parent test reads it


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]))
