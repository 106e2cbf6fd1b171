"""The apply queue on PostgreSQL: Procrastinate's jobs, taken by every ``pva serve`` and ``pva worker``.

A job is ``pva.apply(digest, actor)``, locked by the plan's digest so two
jobs of one plan never run at once; a second job of a plan is harmless (it
finds the plan settled), so a worker starting enqueues one for every plan
left ``applying`` (claimed by a process that died before it enqueued). Each worker
heartbeats (Procrastinate's ``update_heartbeat_interval``) and, as often,
looks for jobs left ``doing`` by workers whose heartbeat is older than
``stalled_after``: it puts them back to ``todo``, and whichever worker takes
one runs ``PlanService.work``, which settles the dead worker's journal
before anything else. The worker runs in a thread with its own event loop;
the job itself runs in a thread of that loop (Procrastinate runs sync tasks so).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import threading
from datetime import timedelta

import procrastinate
from procrastinate.exceptions import ProcrastinateException
from sqlalchemy.engine import make_url

from sidecar.jobs import RESUMED_BY
from sidecar.service.plans import PlanService

log = logging.getLogger("pva.jobs")
TASK = "pva.apply"
# A job that raised (the database or the store failing for a while) runs again: ``work`` is idempotent.
RETRY = procrastinate.RetryStrategy(max_attempts=5, exponential_wait=2)


def conninfo(database_url: str) -> str:
    """The libpq connection string of a ``postgresql+psycopg://`` URL."""
    url = make_url(database_url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


def _app(database_url: str) -> procrastinate.App:
    return procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=conninfo(database_url)))


class PostgresQueue:
    """Enqueues applies as Procrastinate jobs (synchronously: the service is sync code)."""

    def __init__(self, database_url: str) -> None:
        self.app = _app(database_url)
        self._opened = False
        self._opening = threading.Lock()

    def enqueue(self, digest: str, actor: str) -> None:
        with self._opening:
            if not self._opened:
                self.app.open()
                self._opened = True
        # No queueing lock: a stalled job put back to 'todo' must never clash with a newer one.
        self.app.configure_task(TASK, lock=digest).defer(digest=digest, actor=actor)

    def close(self) -> None:
        if self._opened:
            self.app.close()


class PostgresWorker:
    """A Procrastinate worker in a thread: runs apply jobs, heartbeats, and retries stalled ones."""

    def __init__(
        self,
        database_url: str,
        plans: PlanService,
        jobs: PostgresQueue,
        *,
        heartbeat: timedelta,
        name: str = "pva",
    ) -> None:
        self.database_url = database_url
        self.plans = plans
        self.jobs = jobs
        self.heartbeat = heartbeat.total_seconds()
        self.name = name
        self.thread = threading.Thread(target=self._thread, name="pva-apply-worker", daemon=True)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._main: asyncio.Task[None] | None = None
        self._started = threading.Event()
        self._stopping = False  # a signal asked the worker to stop (``run``)

    @property
    def stalled_after(self) -> float:
        """Seconds without a heartbeat after which a worker counts as dead (three missed beats)."""
        return 3 * self.heartbeat

    def start(self) -> None:
        self.resume()
        self.thread.start()
        self._started.wait()

    def stop(self) -> None:
        if self.thread.is_alive() and self._loop is not None and self._main is not None:
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile: the worker ended on its own
                self._loop.call_soon_threadsafe(self._main.cancel)
        self.thread.join()

    def run(self) -> None:
        """Run in this thread until SIGINT or SIGTERM (``pva worker``), which stop it as ``stop`` does.

        A signal only asks the event loop to cancel the worker: raised as an
        interrupt inside the database client's code, it could leave a
        connection locked, and the worker hung closing its pool.
        """
        self.resume()
        asyncio.run(self._serve(on_signals=True))

    def resume(self) -> None:
        """Enqueue a job for every plan left ``applying``: one its claimer never enqueued runs too."""
        for stored in self.plans.cases.applying():
            self.jobs.enqueue(stored.digest, RESUMED_BY)

    def _thread(self) -> None:
        asyncio.run(self._serve())

    async def _serve(self, *, on_signals: bool = False) -> None:
        self._loop = asyncio.get_running_loop()
        self._main = asyncio.current_task()
        if on_signals:
            for number in (signal.SIGINT, signal.SIGTERM):
                self._loop.add_signal_handler(number, self._stop_soon)
        app = _app(self.database_url)
        plans = self.plans

        @app.task(name=TASK, retry=RETRY)
        def apply(digest: str, actor: str) -> None:
            plans.work(digest, actor)

        with contextlib.suppress(asyncio.CancelledError):
            try:
                async with app.open_async():
                    # Stoppable from here only: a cancel while the pool opens leaves the pool's
                    # own tasks running, and this thread's event loop waits for them for ever.
                    self._started.set()
                    if not self._stopping:  # asked to stop while the pool opened
                        await self._work(app)
            finally:
                self._started.set()  # a pool that failed to open must not leave start() waiting

    def _stop_soon(self) -> None:
        """Cancel the worker at its next await, or, while its pool opens, as soon as it is open."""
        self._stopping = True
        if self._started.is_set() and self._main is not None:
            self._main.cancel()

    async def _work(self, app: procrastinate.App) -> None:
        """Run the worker, and the rescue of stalled jobs beside it, until cancelled."""
        rescuing = asyncio.create_task(self._rescue(app), name="rescue stalled jobs")
        try:
            await app.run_worker_async(
                name=self.name,
                install_signal_handlers=False,
                update_heartbeat_interval=self.heartbeat,
                stalled_worker_timeout=self.stalled_after,
                fetch_job_polling_interval=self.heartbeat,
            )
        finally:
            rescuing.cancel()

    async def _rescue(self, app: procrastinate.App) -> None:
        """Every heartbeat, put back to ``todo`` the apply jobs of workers that stopped heartbeating."""
        while True:
            stalled = await app.job_manager.get_stalled_jobs(
                task_name=TASK, seconds_since_heartbeat=self.stalled_after
            )
            for job in stalled:
                try:
                    await app.job_manager.retry_job(job)
                    log.warning(
                        "the worker of job %s (plan %s) stopped: retrying it", job.id, job.task_kwargs
                    )
                except ProcrastinateException:  # another worker retried it first
                    continue
            await asyncio.sleep(self.heartbeat)
