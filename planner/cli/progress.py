"""A one-line progress display on stderr, shown only when stderr is a terminal."""

from __future__ import annotations

import time
from typing import TextIO

from planner.agent.snapshot import ScanStats


class Progress:
    """Redraws at most ten times a second; silent when the stream is not a TTY."""

    def __init__(self, stream: TextIO, *, interval: float = 0.1) -> None:
        self._stream = stream
        self._live = stream.isatty()
        self._interval = interval
        self._next = 0.0
        self._drawn = False

    def update(self, stats: ScanStats) -> None:
        if not self._live:
            return
        now = time.monotonic()
        if now < self._next:
            return
        self._next = now + self._interval
        hashed = f", {stats.bytes_hashed / 1024**2:,.1f} MiB hashed" if stats.bytes_hashed else ""
        self._stream.write(f"\r  {stats.entries:,} entries{hashed}\x1b[K")
        self._stream.flush()
        self._drawn = True

    def done(self) -> None:
        if self._drawn:
            self._stream.write("\r\x1b[K")
            self._stream.flush()
