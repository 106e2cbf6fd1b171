"""A child process for the takeover test: a jobs-mode worker whose apply stops at one crash point.

    python -m tests.jobs.doomed_worker LABEL

Settings come from the environment (PVA_*), as for ``pva worker``. When the
engine passes ``LABEL`` the apply blocks there for good (the worker keeps
heartbeating), so the test can read the journal and SIGKILL it at that point.
"""

from __future__ import annotations

import sys
import threading

from sidecar.jobs.postgres import PostgresWorker
from sidecar.settings import Settings
from sidecar.wiring import open_services


def main(label: str) -> None:
    settings = Settings.load(apply_mode="jobs")

    def hook(passed: str) -> None:
        if passed == label:
            threading.Event().wait()  # until SIGKILL

    with open_services(settings) as services:
        services.engine.hook = hook
        worker = services.worker(settings, name="doomed")
        assert isinstance(worker, PostgresWorker)
        worker.run()


if __name__ == "__main__":
    main(sys.argv[1])
