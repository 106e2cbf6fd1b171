"""A per-token rate limit: a token bucket per API token, kept in the process; and a limit on costly streams.

Each sidecar replica limits its own share; a token over its rate gets 429
with ``Retry-After``. One request can cost far more than another: a hashed
manifest reads every byte below its folder, hours for a large matter, in
the request threads every caller shares. ``StreamLimit`` bounds how many
such streams run at once, one per token.
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

    def __init__(self, retry_after: float, message: str = "") -> None:
        self.retry_after = retry_after
        super().__init__(message or f"too many requests with this token; retry in {math.ceil(retry_after)} s")


PRUNE_AT = 4096  # buckets held before the full ones are dropped (then twice as many as are left)


@dataclass
class RateLimiter:
    """A token bucket per key: ``burst`` requests at once, refilled at ``per_minute``.

    A bucket refilled to ``burst`` is what an absent one is, so full buckets
    are dropped whenever the count doubles: every client address that ever
    failed to authenticate would otherwise be held for good. What is held is
    bounded by the keys seen in the time a bucket takes to refill.
    """

    per_minute: int
    burst: int
    clock: Callable[[], float] = time.monotonic
    _buckets: dict[str, tuple[float, float]] = field(default_factory=dict)  # key -> (tokens, when)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _prune_at: int = PRUNE_AT

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
            if len(self._buckets) > self._prune_at:
                self._drop_full(now, rate)

    @property
    def held(self) -> int:
        """How many buckets are held."""
        with self._lock:
            return len(self._buckets)

    def _drop_full(self, now: float, rate: float) -> None:
        """Drop the buckets refilled to the burst; then wait for twice as many as are left (amortised)."""
        for key, (tokens, when) in list(self._buckets.items()):
            if tokens + (now - when) * rate >= self.burst:
                del self._buckets[key]
        self._prune_at = max(PRUNE_AT, 2 * len(self._buckets))


@dataclass
class StreamLimit:
    """At most ``total`` costly streams (of one ``kind``) at once in the process, and one per token."""

    total: int
    kind: str  # in words: "hashed manifest"
    retry_after: float = 30.0  # what the 429 suggests: such a stream takes minutes, not milliseconds
    _open: set[str] = field(default_factory=set)  # the tokens with one open
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def admit(self, key: str) -> Callable[[], None]:
        """Count a stream of ``key`` in, or raise RateLimited; the function returned counts it out, once."""
        with self._lock:
            if key in self._open:
                message = f"a {self.kind} is still being sent to this token: one at a time, wait for it"
                raise RateLimited(self.retry_after, message)
            if len(self._open) >= self.total:
                wait = math.ceil(self.retry_after)
                message = f"{self.total} {self.kind}s are being made, the most at once: retry in {wait} s"
                raise RateLimited(self.retry_after, message)
            self._open.add(key)
        released = False

        def release() -> None:
            nonlocal released
            with self._lock:
                if not released:
                    released = True
                    self._open.discard(key)

        return release

    @property
    def open(self) -> int:
        """How many are open now."""
        with self._lock:
            return len(self._open)
