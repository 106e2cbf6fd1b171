"""``create_app``: the sidecar's FastAPI application, wired from settings or from parts a test passes.

Nothing is built at import time. Given ``services``, the app uses them and
leaves closing them to the caller; otherwise it opens them from
``settings`` when it starts (and sweeps applies a stopped sidecar left) and
closes them when it stops. Having opened them, it sweeps again every half
lock lease: an apply whose process died is settled by another process on the
same store folder, or by another replica when they share the journals (a
``gs://`` store on PostgreSQL), within about one and a half leases.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime

import anyio.to_thread
from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send

from planner.core.holds import covering
from sidecar import db, web
from sidecar.api import blobs, custody, holds, plans, reads, system, tokens, webhooks
from sidecar.api.openapi import API_VERSION, openapi_document
from sidecar.audit.payloads import OutsideChange
from sidecar.audit.signing import signing
from sidecar.audit.watch_state import SqlWatchState
from sidecar.edge import problems
from sidecar.edge.body import BodyLimit, JsonLimits
from sidecar.edge.metrics import Metrics
from sidecar.edge.ratelimit import RateLimiter, StreamLimit
from sidecar.edge.state import AppState
from sidecar.service.watch import Watcher, log_held, watching
from sidecar.settings import Settings
from sidecar.stores import checkpoint_destination
from sidecar.wiring import Services, open_services

DESCRIPTION = """Plan, verify, apply: agents propose changes to the firm's file store as plans;
the sidecar verifies them against the live store, people (or the policy) approve them,
and the sidecar applies them all or nothing and audits every change. docs/api.md has examples."""


log = logging.getLogger(__name__)


class _Metered:
    """``Metrics.middleware`` in the form ``add_middleware`` takes (a class called with the app)."""

    def __init__(self, app: ASGIApp, *, metrics: Metrics) -> None:
        self.app = metrics.middleware(app)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)


class _Sweeper:
    """Sweeps every ``interval`` seconds: settles the applies a process or replica that died left.

    And collects the uploaded blobs no plan names once past their retention.
    """

    def __init__(self, services: Services, interval: float) -> None:
        self.services = services
        self.interval = interval
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, name="pva-sweeper", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()
        if self.thread.is_alive():
            self.thread.join()

    def _run(self) -> None:
        while not self.stopping.wait(self.interval):
            try:
                self.services.plans.sweep()
                self.services.holds.settle()
            except Exception:  # the next sweep tries again; an operator reads the log
                log.exception("the sweep for interrupted applies or holds failed")
            try:
                if self.services.blobs is not None:
                    self.services.blobs.collect()
            except Exception:
                log.exception("collecting unnamed blobs failed")


def create_app(
    settings: Settings,
    *,
    services: Services | None = None,
    clock: Callable[[], datetime] = db.utc_now,
) -> FastAPI:
    """The sidecar over ``services`` (tests pass their own), else over what ``settings`` names."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = services is None
        # Sync endpoints and dependencies run on anyio's thread pool (FastAPI's way): this sizes it.
        anyio.to_thread.current_default_thread_limiter().total_tokens = settings.request_threads
        live = open_services(settings, clock=clock) if services is None else services
        sweeper = _Sweeper(live, settings.lock_lease.total_seconds() / 2)
        worker = deliverer = None
        try:
            live.plans.sweep()
            live.holds.settle()  # a hold whose bucket side a crash left half done
            if owned:  # pva serve: take over what another process or replica left when it died
                sweeper.start()
            worker = live.worker(settings)  # PVA_APPLY_MODE=jobs: this process takes apply jobs too
            if worker is not None:
                worker.start()
            deliverer = live.deliverer(settings, clock)  # notifications: safe in every replica
            if deliverer is not None:
                deliverer.start()
            app.state.pva = AppState(
                settings=settings,
                services=live,
                limiter=RateLimiter(settings.rate_limit, settings.rate_burst),
                hashing=StreamLimit(settings.hashed_listings, "hashed manifest"),
                limits=JsonLimits(
                    settings.max_json_depth, settings.max_array_length, settings.max_string_length
                ),
                metrics=metrics,
                clock=clock,
            )
            watcher = _watcher(settings, live, metrics, clock)  # outside changes, when configured
            where = checkpoint_destination(settings.checkpoint_dir) if settings.checkpoint_dir else None
            async with (
                signing(settings, live.audit.engine, clock, where),
                watching(watcher, settings.watch_interval),
            ):
                yield
        finally:
            if deliverer is not None:
                deliverer.stop()
            if worker is not None:
                worker.stop()
            sweeper.stop()
            if owned:
                live.close()

    metrics = Metrics()
    app = FastAPI(
        title="pva sidecar",
        version=API_VERSION,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # sidecar.web.docs serves it, without a CDN
        redoc_url=None,
    )
    app.include_router(plans.router)
    app.include_router(holds.router)
    app.include_router(reads.router)
    app.include_router(custody.router)
    app.include_router(blobs.router)
    app.include_router(tokens.router)
    app.include_router(system.router)
    app.include_router(webhooks.router)
    app.state.pva_web = web.state_for(settings)  # the approval page: its session key and templates
    app.include_router(web.router())  # the pages, and /docs
    app.mount("/static", web.StaticAssets(), name="static")
    problems.install(app)
    app.add_middleware(
        BodyLimit, limit=settings.max_body_bytes, uploads={"/v1/blobs": settings.max_blob_bytes}
    )
    app.add_middleware(_Metered, metrics=metrics)  # outermost: it counts the 413s too
    app.openapi = lambda: openapi_document(app)  # type: ignore[method-assign]
    return app


def _watcher(
    settings: Settings, live: Services, metrics: Metrics, clock: Callable[[], datetime]
) -> Watcher | None:
    """The watch ``pva serve`` runs when PVA_WATCH_INTERVAL is set: its changes and alerts are counted."""
    if settings.watch_interval is None:
        return None

    def held(change: OutsideChange) -> None:
        metrics.held_changes.inc()
        log_held(change)

    def under_hold(path: str) -> bool:
        return covering(path, live.holds.store.held(), below=False) is not None

    return Watcher(
        live.backend,
        SqlWatchState(live.audit.engine, clock=clock),
        clock=clock,
        held=under_hold,  # the holds in force, read at each change
        on_held=held,
        on_change=lambda _: metrics.outside_changes.inc(),
        busy=live.plans.paths_applying,
    )
