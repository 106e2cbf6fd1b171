"""A ``pva serve`` killed after a plan's event and before its delivery delivers it once it is back."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from tests.notify.receiver import Receiver, serve
from tests.servers import Replica, replica_env
from tests.support.apps import migrated_sqlite
from tests.support.plans import plan_doc
from tests.support.tokens import create_tokens

DEADLINE = 120.0


def _until(done: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while not done():
        assert time.monotonic() < deadline, f"no {what} within {DEADLINE} s"
        time.sleep(0.05)


def test_a_sidecar_killed_between_the_event_and_its_delivery_delivers_it_once_after_restart(
    tmp_path: Path,
) -> None:
    """The receiver fails every try until the sidecar is killed -9; restarted, it delivers each event once."""
    url = migrated_sqlite(tmp_path)
    secrets = create_tokens(url, {"agent": ("agent", ["matters/acme"])})
    (tmp_path / "store" / "matters" / "acme").mkdir(parents=True)
    receiver = Receiver(fail_first=10**6)
    server, thread = serve(receiver)
    pva = str(Path(sys.executable).with_name("pva"))
    added = subprocess.run(
        [pva, "webhook", "add", receiver.url, "--db", url, "--events", "plan.pending"],
        capture_output=True,
        text=True,
        check=True,
    )
    receiver.secret = added.stdout.strip()
    env = replica_env(str(tmp_path / "store"), url, notify_interval="PT0.05S", webhook_backoff="PT0.05S")
    replica = Replica(tmp_path / "vm", env)
    try:
        replica.start()
        headers = {"Authorization": f"Bearer {secrets['agent']}"}
        for n in range(3):
            doc = plan_doc({"op": "mkdir", "path": f"matters/acme/folder-{n}"}, title=f"plan {n}")
            response = httpx.post(f"{replica.url}/v1/plans", json=doc, headers=headers, timeout=30)
            assert response.json()["state"] == "pending", response.text
        _until(lambda: len({r.delivery for r in receiver.received}) == 3, "failed try of each event")
        replica.kill()
        receiver.fail_first = len(receiver.received)  # from now on it accepts
        replica.start()
        _until(lambda: len(receiver.accepted()) >= 3, "delivery after the restart")
        listed = subprocess.run(
            [pva, "webhook", "deliveries", "--db", url, "--status", "delivered", "--json"],
            capture_output=True,
            text=True,
            check=True,
        )
        assert listed.stdout.count('"status": "delivered"') == 3
    finally:
        replica.stop()
        server.shutdown()
        server.server_close()
        thread.join()
    accepted = receiver.accepted()
    assert len(accepted) == 3
    assert len({r.delivery for r in accepted}) == 3
    assert all(r.signed for r in receiver.received)
