"""Applies as durable jobs: the queues ``PlanService`` hands claimed applies to, and their workers.

With ``PVA_APPLY_MODE=jobs`` an apply's request claims the plan (it is
``applying``) and enqueues a job; a worker runs ``PlanService.work``, which
first settles what a dead worker left (recovery rolls its journal forward or
back) and then applies. On PostgreSQL the queue is Procrastinate's
(``postgres``): every ``pva serve`` and ``pva worker`` takes jobs, heartbeats,
and retries the jobs of workers whose heartbeat stopped. On SQLite
(``local``) one thread in ``pva serve`` runs them, and at start it re-takes
the plans left ``applying``: the plan case is what makes them durable.
"""

from __future__ import annotations

from typing import Protocol

RESUMED_BY = "pva"  # the actor of an apply re-taken at start (the one who asked is in the case's events)


class Worker(Protocol):
    """Something that runs queued applies until stopped."""

    def start(self) -> None:
        """Start taking jobs (in a thread: this returns at once)."""
        ...

    def stop(self) -> None:
        """Finish the job in hand, then stop."""
        ...
