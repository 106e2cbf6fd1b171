"""A per-token rate limit: a token bucket per API token, kept in the process.

Each sidecar replica limits its own share; a token over its rate gets 429
with ``Retry-After``.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from planner.core.errors import PvaError


class RateLimited(PvaError):
    """The token sent more requests than its rate allows (HTTP 429)."""

    exit_code = 2

    def __init__(self, retry_after: float) -> None:
        self.retry_after = retry_after
        super().__init__(f"too many requests with this token; retry in {math.ceil(retry_after)} s")


@dataclass
class RateLimiter:
    """A token bucket per key: ``burst`` requests at once, refilled at ``per_minute``."""

    per_minute: int
    burst: int
    clock: Callable[[], float] = time.monotonic
    _buckets: dict[str, tuple[float, float]] = field(default_factory=dict)  # key -> (tokens, when)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self, key: str) -> None:
        """Spend one request of ``key``'s bucket, or raise RateLimited saying when one is free."""
        rate = self.per_minute / 60.0
        with self._lock:
            now = self.clock()
            tokens, when = self._buckets.get(key, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - when) * rate)
            if tokens < 1.0:
                self._buckets[key] = (tokens, now)
                raise RateLimited((1.0 - tokens) / rate)
            self._buckets[key] = (tokens - 1.0, now)
