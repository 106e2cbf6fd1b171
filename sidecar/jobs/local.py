"""The apply queue without a shared database: an in-process FIFO and the thread that works it.

``LocalQueue`` is what ``PlanService`` enqueues to on SQLite; a
``ThreadWorker`` in ``pva serve`` runs its jobs one at a time. Nothing of
the queue survives the process, the plan cases do: at start the worker
enqueues every plan left ``applying``, and ``PlanService.work`` settles what
the stopped process left before it applies. Tests ``drain`` the queue in
their own thread instead of starting a worker.
"""

from __future__ import annotations

import logging
import queue
import threading

from sidecar.jobs import RESUMED_BY
from sidecar.service.plans import PlanService

log = logging.getLogger("pva.jobs")
WAKE = 0.5  # seconds: the longest a stopped worker waits before it sees it was stopped


class LocalQueue:
    """An in-process FIFO of applies to run: (digest, actor)."""

    def __init__(self) -> None:
        self.pending: queue.SimpleQueue[tuple[str, str] | None] = queue.SimpleQueue()

    def enqueue(self, digest: str, actor: str) -> None:
        self.pending.put((digest, actor))

    def drain(self, plans: PlanService) -> int:
        """Run every queued apply now, in this thread; how many ran."""
        ran = 0
        while not self.pending.empty():
            job = self.pending.get()
            if job is not None:
                plans.work(*job)
                ran += 1
        return ran


class ThreadWorker:
    """A thread that runs ``queue``'s applies through ``plans``, after re-taking those left ``applying``."""

    def __init__(self, jobs: LocalQueue, plans: PlanService) -> None:
        self.jobs = jobs
        self.plans = plans
        self.thread = threading.Thread(target=self._run, name="pva-apply-worker", daemon=True)
        self.stopping = threading.Event()

    def start(self) -> None:
        for stored in self.plans.cases.applying():
            self.jobs.enqueue(stored.digest, RESUMED_BY)
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()
        self.jobs.pending.put(None)  # wakes a waiting worker: this one, or another on the same queue
        self.thread.join()

    def _run(self) -> None:
        # Two workers may share a queue (one app served twice), so a wake-up may be taken by the
        # other: each looks at its own flag at least every WAKE seconds.
        while not self.stopping.is_set():
            try:
                job = self.jobs.pending.get(timeout=WAKE)
            except queue.Empty:
                continue
            if job is None:
                continue
            try:
                self.plans.work(*job)
            except Exception:  # one failed job must not stop the worker: the plan stays applying, swept later
                log.exception("the apply job of plan %s failed", job[0])
