"""The app as ``pva serve`` runs it (``sidecar.serving``): forwarded headers, rate limits, the access log."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import Depends
from fastapi.testclient import TestClient

from sidecar.app import create_app
from sidecar.serving import redacted, server_config
from sidecar.settings import Settings
from tests.support.apps import migrated_sqlite

BURST = 5


@contextmanager
def served(tmp_path: Path, **overrides: Any) -> Iterator[str]:
    """The sidecar under ``server_config`` in a thread on a free port of 127.0.0.1; yields its URL."""
    (tmp_path / "store").mkdir(exist_ok=True)
    url = migrated_sqlite(tmp_path, "pva.db")
    values: dict[str, Any] = {
        "store": str(tmp_path / "store"),
        "database_url": url,
        "rate_limit": 1,
        "rate_burst": BURST,
    }
    settings = Settings(**(values | overrides))
    config = server_config(create_app(settings), settings)
    server = uvicorn.Server(config)
    config.port = 0
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started and thread.is_alive():
        threading.Event().wait(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def _guesses(url: str, count: int, *, forwarded: bool) -> list[int]:
    with httpx.Client(base_url=url) as http:
        return [
            http.get(
                "/v1/plans",
                headers={"Authorization": "Bearer pva_wrong"}
                | ({"X-Forwarded-For": f"203.0.113.{n}"} if forwarded else {}),
            ).status_code
            for n in range(count)
        ]


def test_a_forged_forwarded_address_does_not_dodge_the_rate_limit(tmp_path: Path) -> None:
    """Without PVA_TRUSTED_PROXIES, X-Forwarded-For is ignored: wrong tokens from one address hit 429."""
    with served(tmp_path) as url:
        answers = _guesses(url, BURST + 3, forwarded=True)
    assert answers[:BURST] == [401] * BURST
    assert set(answers[BURST:]) == {429}


def test_a_named_proxy_is_believed(tmp_path: Path) -> None:
    """With PVA_TRUSTED_PROXIES naming the proxy, each forwarded address has its own bucket."""
    with served(tmp_path, trusted_proxies="127.0.0.1") as url:
        answers = _guesses(url, BURST + 3, forwarded=True)
    assert answers == [401] * (BURST + 3)


def test_the_access_log_is_on_stderr_without_tokens(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """A token put in a query string is redacted from the access log, which goes to standard error."""
    secret = "pva_" + "A1b2" * 11
    with served(tmp_path) as url, httpx.Client(base_url=url) as http:
        http.get(f"/v1/plans?token={secret}&limit=3")
        http.get(f"/healthz?x={secret}")
    out, err = capfd.readouterr()
    assert secret not in out + err
    assert "GET /v1/plans?token=[redacted]&limit=3" in err
    assert "GET /healthz?x=[redacted]" in err


def test_a_log_record_quoting_a_line_break_stays_one_line(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """A store's name or an agent's title quoted in pva's log cannot make a line that reads as a record."""
    with served(tmp_path):
        logging.getLogger("pva.watch").info("outside change recorded: %s", "m/a\nERROR: forged")
    _, err = capfd.readouterr()
    assert "outside change recorded: m/a\\x0aERROR: forged" in err
    assert not any(line.startswith("ERROR: forged") for line in err.splitlines())


def test_pva_request_threads_bounds_the_requests_handled_at_once(tmp_path: Path) -> None:
    """Six requests to a sync endpoint (as most of the API's are) with three threads: three run, three wait.

    The probe counts arrivals on the event loop (an async dependency) and runs
    in the pool; once all six have arrived and three run, the others would
    have started within the grace period had the pool more threads.
    """
    (tmp_path / "store").mkdir()
    settings = Settings(
        store=str(tmp_path / "store"), database_url=migrated_sqlite(tmp_path), request_threads=3
    )
    app = create_app(settings)
    lock, release = threading.Lock(), threading.Event()
    seen = {"arrived": 0, "running": 0, "most": 0}

    async def arrived() -> None:
        seen["arrived"] += 1  # on the event loop: one at a time

    @app.get("/probe", dependencies=[Depends(arrived)])
    def probe() -> None:
        with lock:
            seen["running"] += 1
            seen["most"] = max(seen["most"], seen["running"])
        release.wait(60)
        with lock:
            seen["running"] -= 1

    with TestClient(app) as client, ThreadPoolExecutor(6) as pool:
        answers = [pool.submit(client.get, "/probe") for _ in range(6)]
        deadline = time.monotonic() + 60
        while (seen["arrived"] < 6 or seen["running"] < 3) and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.5)  # the grace period: long enough for a free thread to take a waiting request
        most = seen["most"]
        release.set()
        assert [answer.result().status_code for answer in answers] == [200] * 6
    assert most == 3


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/v1/plans?token=abc&limit=3", "/v1/plans?token=[redacted]&limit=3"),
        ("/x?access_token=abc", "/x?access_token=[redacted]"),
        ("/x?API_KEY=abc&password=p", "/x?API_KEY=[redacted]&password=[redacted]"),
        ("/x?state=pending&author=a", "/x?state=pending&author=a"),
        ("/v1/history?path=pva_AAAAAAAAAAAAAAAAAAAAAAAA", "/v1/history?path=[redacted]"),
    ],
)
def test_secrets_are_redacted_from_a_request_target(target: str, expected: str) -> None:
    """Secret-named query parameters and anything shaped like a pva token are redacted; the rest is kept."""
    assert redacted(target) == expected
