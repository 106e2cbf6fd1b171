"""What the app holds while it runs, typed: ``app.state.pva`` is one ``AppState``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from starlette.requests import HTTPConnection

from sidecar.edge.body import JsonLimits
from sidecar.edge.metrics import Metrics
from sidecar.edge.ratelimit import RateLimiter, StreamLimit
from sidecar.settings import Settings
from sidecar.wiring import Services


@dataclass
class AppState:
    """The settings, the live services and the per-app helpers every route reads."""

    settings: Settings
    services: Services
    limiter: RateLimiter
    hashing: StreamLimit  # hashed manifests and snapshots: each reads every byte below its folder
    limits: JsonLimits
    metrics: Metrics
    clock: Callable[[], datetime]


def app_state(connection: HTTPConnection) -> AppState:
    return cast("AppState", connection.app.state.pva)
