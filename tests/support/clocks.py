"""Clocks a test controls: one that ticks a fixed step per reading, one that stands still."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta


class TickingClock:
    """A clock that moves ``step`` forward at each reading, from ``start``; a test may also move ``now``.

    Thread-safe: an apply worker's thread reads it too, and no two readings are equal.
    """

    def __init__(self, start: datetime, step: timedelta) -> None:
        self.now = start
        self.step = step
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            self.now += self.step
            return self.now

    def advance(self, delta: timedelta) -> None:
        with self._lock:
            self.now += delta


class StillClock:
    """A clock that stands still until a test moves ``now``."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now
