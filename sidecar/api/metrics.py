"""Prometheus metrics of one app: requests by route and status, and plans by what happened to them.

Each app has its own registry (nothing global), so tests and several apps in
one process do not share counters. Labels are route templates and states,
never paths or plan titles: the metrics leak nothing about the store.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from starlette.requests import Request
from starlette.responses import Response


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
        self.plans = Counter(
            "pva_plans", "Plans that reached a state through this sidecar", ["state"], registry=self.registry
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)

    async def middleware(
        self, request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        started = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        template = getattr(route, "path", "unmatched")
        self.requests.labels(request.method, template, str(response.status_code)).inc()
        self.latency.labels(template).observe(time.perf_counter() - started)
        return response
