"""``python -m bench [NAME ...] [--quick]``: run benchmarks, print tables, write bench/results/.

With no name, every benchmark but ``profile`` runs. ``--quick`` uses a tenth
of the sizes, for a smoke run; its figures are not the published ones.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

from bench import (
    apply_throughput,
    approval_page,
    bigmove,
    cli_process,
    gcs_move,
    gcs_pages,
    hotspots,
    http_service,
    manifest_load,
    replicas,
    runloop_view,
    sandbox,
    submit_load,
    takeover,
    throughput,
)
from bench.harness import FULL, QUICK, Result, Sizes, machine, print_table, write_json

BENCHMARKS: dict[str, Callable[[Sizes], Result]] = {
    "verify": throughput.run,
    "sandbox": sandbox.run,
    "load": manifest_load.run_time,
    "memory": manifest_load.run_memory,
    "bigmove": bigmove.run,
    "profile": hotspots.run,
    "apply": apply_throughput.run,
    "http": http_service.run_http,
    "clients": http_service.run_clients,
    "submit": submit_load.run,
    "gcs": gcs_move.run,
    "gcs_pages": gcs_pages.run,
    "replicas": replicas.run,
    "takeover": takeover.run,
    "runloop_view": runloop_view.run,
    "startup": cli_process.run_startup,
    "cliroot": cli_process.run_root,
    "page": approval_page.run,
}
DEFAULT = (
    "startup",
    "cliroot",
    "load",
    "memory",
    "verify",
    "bigmove",
    "sandbox",
    "apply",
    "http",
    "clients",
    "submit",
    "gcs",
    "gcs_pages",
    "replicas",
    "takeover",
    "runloop_view",
    "page",
)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("names", nargs="*", metavar="NAME", help="one of " + ", ".join(BENCHMARKS))
    parser.add_argument("--quick", action="store_true", help="a tenth of the sizes (smoke run)")
    args = parser.parse_args()
    unknown = [name for name in args.names if name not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark {unknown[0]!r}; choose from {', '.join(BENCHMARKS)}")
    sizes = QUICK if args.quick else FULL
    info = machine()
    kind = "quick" if args.quick else "full"
    print(f"pva benchmarks: {info['cpus']} cores, Python {info['python']}, {kind} sizes")
    start = time.perf_counter()
    for name in args.names or DEFAULT:
        begun = time.perf_counter()
        result = BENCHMARKS[name](sizes)
        print_table(result)
        path = write_json(result, sizes)
        print(f"  ({time.perf_counter() - begun:.0f} s; {path.relative_to(path.parent.parent.parent)})")
    print(f"\nall done in {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
