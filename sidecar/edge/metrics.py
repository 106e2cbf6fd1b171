"""Prometheus metrics of one app: requests by route and status, and plans by what happened to them.

Each app has its own registry (nothing global), so tests and several apps in
one process do not share counters. Labels come from closed sets only: the
HTTP methods of ``METHODS``, the app's route templates and plan states,
else ``other``. So the metrics leak nothing about the store, and a client
inventing methods or paths cannot grow them.
"""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
OTHER = "other"


class Metrics:
    """The counters and histograms one app updates."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "pva_http_requests",
            "HTTP requests answered",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "pva_http_request_seconds", "Time to answer an HTTP request", ["route"], registry=self.registry
        )
        self.read_bytes = Counter(
            "pva_read_bytes", "Bytes of store files served to readers", registry=self.registry
        )
        self.reads = Counter(
            "pva_reads", "Store reads served, by what was read", ["what"], registry=self.registry
        )
        self.plans = Counter(
            "pva_plans", "Plans that reached a state through this sidecar", ["state"], registry=self.registry
        )
        self.outside_changes = Counter(
            "pva_outside_changes",
            "Changes made to the store outside pva, recorded by the watch",
            registry=self.registry,
        )
        self.held_changes = Counter(
            "pva_held_document_changes",
            "Outside changes to documents under a legal hold (an alert)",
            registry=self.registry,
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)

    def middleware(self, app: ASGIApp) -> ASGIApp:
        """ASGI middleware counting every HTTP answer by route template and status.

        Plain ASGI, not Starlette's BaseHTTPMiddleware: that one runs the app
        in a task group, which wraps exceptions (a body over its limit) in
        ExceptionGroups the middleware outside it would no longer recognise.
        """

        async def counting(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http":
                await app(scope, receive, send)
                return
            started, status = time.perf_counter(), 500

            async def watching(message: Message) -> None:
                nonlocal status
                if message["type"] == "http.response.start":
                    status = message["status"]
                await send(message)

            try:
                await app(scope, receive, watching)
            finally:
                method = scope["method"] if scope["method"] in METHODS else OTHER
                template = getattr(scope.get("route"), "path", OTHER)  # set only by a route that matched
                self.requests.labels(method, template, str(status)).inc()
                self.latency.labels(template).observe(time.perf_counter() - started)

        return counting
