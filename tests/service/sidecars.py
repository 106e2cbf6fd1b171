"""Real sidecar processes for tests: ``pva serve`` on 127.0.0.1 and a free port, stopped afterwards."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def sidecar(
    store: Path, database_url: str, log: Path, *, cwd: Path | None = None, **settings: str
) -> Iterator[str]:
    """A ``pva serve`` process over ``store`` and ``database_url`` (run in ``cwd``); yields its base URL."""
    port = free_port()
    env = os.environ | {
        "PVA_STORE": str(store),
        "PVA_DATABASE_URL": database_url,
        "PVA_PORT": str(port),
        "PVA_RATE_LIMIT": "100000",
        "PVA_RATE_BURST": "100000",
    }
    env |= {f"PVA_{name.upper()}": value for name, value in settings.items()}
    pva = str(Path(sys.executable).with_name("pva"))
    with log.open("wb") as output:
        process = subprocess.Popen([pva, "serve"], env=env, stdout=output, stderr=subprocess.STDOUT, cwd=cwd)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, process, log)
        yield url
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_healthy(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"pva serve exited with {process.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"pva serve did not answer within 60 s:\n{log.read_text()}")
