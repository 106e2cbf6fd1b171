"""``FaultyCalls``: a ``SysCalls`` that fails chosen calls with an errno and counts every call.

Reusable by any test that drives a ``LocalBackend``::

    calls = FaultyCalls(Fault("fsync", errno.EIO, nth=2))
    backend = LocalBackend(root, calls=calls)
    ...                      # the 2nd fsync raises OSError(EIO) inside the backend
    calls.counts["fsync"]    # calls made so far, by method name (failed ones included)
    calls.raised             # [("fsync", errno.EIO)]: the faults that fired

``Fault("*", errno, nth=n)`` fails the nth call whatever its method (to sweep
every call site). ``on_call(method, count)`` runs before every call (a test
can change the store at an exact point, e.g. between an lstat and the open
after it); ``max_write`` makes every write short (at most that many bytes);
``durable=False`` counts (and fails) fsync, syncfs and sync without doing
them, for speed where durability is not what is tested.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sidecar.backends.fd import SysCalls

_SYNCS = frozenset({"fsync", "syncfs", "sync"})
# Every public method of SysCalls: what FaultyCalls can count and fail.
METHODS = tuple(
    name for name, value in vars(SysCalls).items() if callable(value) and not name.startswith("_")
)


@dataclass(frozen=True)
class Fault:
    """Fail calls ``nth`` (1-based) to ``nth + times - 1`` of ``method`` with ``errno`` (0 times: all)."""

    method: str
    errno: int
    nth: int = 1
    times: int = 1

    def __post_init__(self) -> None:
        if self.method != "*" and self.method not in METHODS:
            raise ValueError(f"SysCalls has no method {self.method!r}")

    def fires(self, count: int) -> bool:
        return count >= self.nth and (self.times == 0 or count < self.nth + self.times)


class FaultyCalls(SysCalls):
    """System calls that fail where the test says, and count every call by method."""

    def __init__(
        self,
        *faults: Fault,
        max_write: int | None = None,
        on_call: Callable[[str, int], None] | None = None,
        durable: bool = True,
    ) -> None:
        self.faults = list(faults)
        self.max_write = max_write
        self.durable = durable
        self.on_call = on_call
        self.counts: Counter[str] = Counter()
        self.raised: list[tuple[str, int]] = []

    def before(self, method: str) -> None:
        self.counts[method] += 1
        count = self.counts[method]
        if self.on_call is not None:
            self.on_call(method, count)
        total = self.total()
        for fault in self.faults:
            if fault.fires(total) if fault.method == "*" else fault.method == method and fault.fires(count):
                self.raised.append((method, fault.errno))
                raise OSError(fault.errno, os.strerror(fault.errno))

    def total(self) -> int:
        return sum(self.counts.values())


def _intercepted(name: str) -> Callable[..., Any]:
    real = getattr(SysCalls, name)

    def method(self: FaultyCalls, *args: Any) -> Any:
        self.before(name)
        if name == "write" and self.max_write is not None:
            fd, data = args
            args = (fd, data[: self.max_write])
        if name in _SYNCS and not self.durable:
            return None
        return real(self, *args)

    method.__name__ = method.__qualname__ = name
    method.__doc__ = real.__doc__
    return method


for _name in METHODS:
    setattr(FaultyCalls, _name, _intercepted(_name))
