"""``pva serve`` with PVA_WATCH_INTERVAL: the sidecar watches the store and counts what it records."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta

from sidecar.audit.watch_state import SqlWatchState
from tests.api.support import Api, MakeApi

DEADLINE = 60.0  # seconds: a busy machine may be slow, a correct sidecar gets there long before


def until(check: Callable[[], bool], what: str) -> None:
    """Poll ``check`` until it holds; fail, naming ``what``, at the deadline."""
    end = time.monotonic() + DEADLINE
    while not check():
        assert time.monotonic() < end, f"never: {what}"
        time.sleep(0.05)


def outside_total(api: Api) -> float:
    for line in api.get("/metrics", "admin").text.splitlines():
        if line.startswith("pva_outside_changes_total "):
            return float(line.split()[1])
    return 0.0


def test_the_sidecar_records_a_change_made_behind_its_back_and_counts_it(make_api: MakeApi) -> None:
    """With a watch interval, an edit on disk becomes an outside_change event, and is counted in /metrics."""
    api = make_api(watch_interval=timedelta(milliseconds=100))
    state = SqlWatchState(api.services.audit.engine)
    until(lambda: state.baseline(api.services.backend.name).mark is not None, "the first scan's baseline")
    (api.root / "matters/acme/inbox/0002.pdf").write_bytes(b"%PDF 0002 altered")
    until(lambda: outside_total(api) == 1.0, "the change counted")
    events = api.get("/v1/audit", "admin").json()["events"]
    changes = [e["payload"] for e in events if e["kind"] == "outside_change"]
    assert [(c["change"], c["path"]) for c in changes] == [("edited", "matters/acme/inbox/0002.pdf")]
