"""``pva worker``: what it refuses (its work on PostgreSQL is in test_takeover.py)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from planner.cli.main import main
from sidecar import db
from tests.databases import postgres_database

PVA = Path(sys.executable).with_name("pva")
ATTEMPTS = 8
STOP_SECONDS = 60  # generous on a busy machine: a clean stop takes well under a second


def test_pva_worker_needs_postgresql(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """On SQLite there is no shared queue: one line naming the fix, exit 2, nothing made."""
    url = f"sqlite:///{tmp_path / 'pva.db'}"
    assert main(["worker", "--db", url, "--store", str(tmp_path / "store")]) == 2
    assert "pva worker needs a PostgreSQL database" in capsys.readouterr().err
    assert not (tmp_path / "pva.db").exists()


def test_pva_worker_stops_cleanly_on_sigterm_whatever_it_is_doing(tmp_path: Path) -> None:
    """SIGTERM at any moment stops the worker at its next await, exit 0: never inside a database call.

    A heartbeat of 10 ms keeps the worker in its database client (heartbeats,
    polls for jobs, the rescue of stalled ones) nearly all the time, so the
    signals land there: an interrupt raised in that code left a connection
    locked, and the worker hung on closing its pool.
    """
    with postgres_database() as url:
        db.upgrade(url)
        env = {key: value for key, value in os.environ.items() if not key.startswith("PVA_")} | {
            "PVA_STORE": str(tmp_path / "store"),
            "PVA_DATABASE_URL": url,
            "PVA_STATE_DIR": str(tmp_path / "state"),
            "PVA_JOB_HEARTBEAT": "PT0.01S",
        }
        (tmp_path / "store").mkdir()
        for attempt in range(ATTEMPTS):
            log = tmp_path / f"worker-{attempt}.log"
            with log.open("wb") as output:
                process = subprocess.Popen(
                    [str(PVA), "worker", "--name", f"w{attempt}"],
                    env=env,
                    stdout=output,
                    stderr=subprocess.STDOUT,
                )
            try:
                _wait_for_text(log, "taking apply jobs", process)
                time.sleep(0.05 * attempt)  # a different moment of its loop each time
                process.send_signal(signal.SIGTERM)
                assert process.wait(timeout=STOP_SECONDS) == 0, log.read_text()
            finally:
                if process.poll() is None:
                    process.kill()
                    process.wait()
            assert "never awaited" not in log.read_text()


def _wait_for_text(log: Path, text: str, process: subprocess.Popen[bytes]) -> None:
    while text not in log.read_text():
        assert process.poll() is None, log.read_text()
        time.sleep(0.02)
