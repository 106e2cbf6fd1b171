"""A replica holding one lock lease, for tests: ``python -m tests.apply.lease_holder URL PATH SECONDS``.

It takes the lock on PATH with a lease of SECONDS, prints ``held FENCE``,
then for each line on its standard input checks its lease and prints ``ok``
or ``lost``. Tests stop it (SIGSTOP) to play a replica that stalls, or kill
it to play one that dies.
"""

from __future__ import annotations

# ruff: noqa: T201  # it speaks to the test on its standard output
import sys
from datetime import timedelta

from sidecar.apply.leases import SqlLocks
from sidecar.db import make_engine
from sidecar.errors import LeaseLost


def main(url: str, path: str, seconds: str) -> None:
    locks = SqlLocks(make_engine(url), lease=timedelta(seconds=float(seconds)))
    with locks.hold([path], timeout=60) as lease:
        print(f"held {lease.fence}", flush=True)
        for _ in sys.stdin:
            try:
                lease.check()
            except LeaseLost:
                print("lost", flush=True)
            else:
                print("ok", flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
