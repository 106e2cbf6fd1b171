"""Real servers for tests and benchmarks: a free port, ``pva serve`` as a process, an app in a thread."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import uvicorn
from fastapi import FastAPI

START_SECONDS = 60


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (the OS's choice)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def sidecar(
    store: Path | str,
    database_url: str,
    log: Path,
    *,
    cwd: Path | None = None,
    pva: Path | None = None,
    **settings: str,
) -> Iterator[str]:
    """A ``pva serve`` process over ``store`` and ``database_url`` (run in ``cwd``); yields its base URL.

    ``settings`` are more ``PVA_*`` variables (``auto_apply="false"``); the
    rate limit is lifted unless given. ``pva`` is the command (default: this
    virtualenv's). The process is stopped by its id.
    """
    port = free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("PVA_")}
    env |= {
        "PVA_STORE": str(store),
        "PVA_DATABASE_URL": database_url,
        "PVA_PORT": str(port),
        "PVA_RATE_LIMIT": "100000",
        "PVA_RATE_BURST": "100000",
    }
    env |= {f"PVA_{name.upper()}": value for name, value in settings.items()}
    command = str(pva or Path(sys.executable).with_name("pva"))
    with log.open("wb") as output:
        process = subprocess.Popen(
            [command, "serve"], env=env, stdout=output, stderr=subprocess.STDOUT, cwd=cwd
        )
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
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"pva serve exited with {process.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"pva serve did not answer within {START_SECONDS} s:\n{log.read_text()}")


@contextmanager
def serving(app: FastAPI) -> Iterator[str]:
    """``app`` behind uvicorn in a thread on 127.0.0.1, on a port the OS chose; yields its URL."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    config = uvicorn.Config(app, log_level="warning", lifespan="on", ws="none")
    running = uvicorn.Server(config)
    thread = threading.Thread(target=running.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    while not running.started and thread.is_alive():
        threading.Event().wait(0.01)
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        running.should_exit = True
        thread.join(timeout=10)
        listener.close()


@contextmanager
def gcs_server(bucket: str, *, latency: float = 0.0) -> Iterator[str]:
    """The faithful GCS test server in its own process, holding ``bucket``; yields its URL."""
    command = [sys.executable, "-m", "tests.gcs.server", "--latency", str(latency), bucket]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    assert server.stdout is not None
    try:
        yield server.stdout.readline().strip()
    finally:
        server.terminate()
        server.wait()
        server.stdout.close()


def replica_env(store: str, database_url: str, **settings: str) -> dict[str, str]:
    """The environment of a ``pva serve`` replica: this one's minus its PVA_ settings, then these."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("PVA_")}
    env |= {"PVA_STORE": store, "PVA_DATABASE_URL": database_url, "PVA_RATE_LIMIT": "100000"}
    env |= {"PVA_RATE_BURST": "100000"}
    return env | {f"PVA_{name.upper()}": value for name, value in settings.items()}


class Replica:
    """One ``pva serve`` process: its own folder (a VM), restartable after a kill."""

    def __init__(self, home: Path, env: dict[str, str]) -> None:
        self.home = home
        self.env = env
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None
        home.mkdir()

    def start(self) -> None:
        pva = str(Path(sys.executable).with_name("pva"))
        env = self.env | {"PVA_PORT": str(self.port), "PVA_STATE_DIR": str(self.home / "state")}
        with (self.home / "serve.log").open("ab") as log:
            self.process = subprocess.Popen(
                [pva, "serve"], env=env, cwd=self.home, stdout=log, stderr=subprocess.STDOUT
            )
        _wait_healthy(self.url, self.process, self.home / "serve.log")

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
