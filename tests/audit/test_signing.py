"""Checkpoints signed by a running sidecar: when they are due, and at its start and stop."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from pydantic import SecretStr

from sidecar.app import create_app
from sidecar.audit import checkpoints
from sidecar.audit.signing import Publisher
from sidecar.audit.store import SqlAuditStore
from sidecar.audit.tree import SqlAuditTree
from sidecar.settings import Settings
from tests.audit.conftest import make_plan, record
from tests.support.clocks import TickingClock

KEY = checkpoints.new_signer_key("firm.example/pva")
VERIFIER = checkpoints.parse_signer(KEY).verifier


def add_plans(store: SqlAuditStore, *names: str) -> None:
    """Each plan recorded then applied: two events a plan."""
    for name in names:
        record(store, make_plan({"op": "mkdir", "path": f"m/{name}"}, title=f"plan {name}"))


def sizes(folder: Path) -> list[int]:
    """The sizes of the checkpoints in ``folder``, each checked against the key."""
    found = [
        checkpoints.open_checkpoint(p.read_text(encoding="utf-8"), VERIFIER)
        for p in folder.glob("*.checkpoint")
    ]
    return sorted(checkpoint.size for checkpoint in found)


def test_checkpoints_are_signed_when_due(store: SqlAuditStore, url: str, tmp_path: Path) -> None:
    """First when there are events, then after every N new events or once the interval has passed."""
    clock = TickingClock(datetime(2026, 1, 5, 9, 0, tzinfo=UTC), timedelta(seconds=1))
    tree = SqlAuditTree.open(url)
    publisher = Publisher(
        tree,
        checkpoints.parse_signer(KEY),
        origin="firm.example/pva",
        folder=tmp_path,
        every=4,
        interval=timedelta(minutes=10),
        clock=clock,
    )
    try:
        assert publisher.sign_if_due() is None  # an empty audit: nothing to sign
        add_plans(store, "a")
        assert publisher.sign_if_due() == tmp_path / "000000000002.checkpoint"
        add_plans(store, "b")
        assert publisher.sign_if_due() is None  # 2 new events, under 4, and not late
        add_plans(store, "c")
        assert publisher.sign_if_due() == tmp_path / "000000000006.checkpoint"
        add_plans(store, "d")
        clock.now += timedelta(minutes=10)
        assert publisher.sign_if_due() == tmp_path / "000000000008.checkpoint"
        clock.now += timedelta(hours=1)
        assert publisher.sign_if_due() is None  # late, but nothing new
        add_plans(store, "e")
        assert publisher.sign_if_due(final=True) == tmp_path / "000000000010.checkpoint"
    finally:
        tree.close()
    assert sizes(tmp_path) == [2, 6, 8, 10]


def test_a_conflicting_checkpoint_is_logged_not_replaced(
    store: SqlAuditStore, url: str, tmp_path: Path
) -> None:
    """A folder already holding another checkpoint of the size: nothing is written, the sidecar goes on."""
    add_plans(store, "a")
    other = checkpoints.Checkpoint("firm.example/pva", 2, bytes(32))
    signer = checkpoints.parse_signer(KEY)
    existing = Path(checkpoints.publish(checkpoints.sign(other, signer), other, tmp_path))
    before = existing.read_bytes()
    tree = SqlAuditTree.open(url)
    try:
        publisher = Publisher(
            tree,
            signer,
            origin="firm.example/pva",
            folder=tmp_path,
            every=1,
            interval=timedelta(hours=1),
            clock=TickingClock(datetime(2026, 1, 5, 9, 0, tzinfo=UTC), timedelta(seconds=1)),
        )
        assert publisher.sign_if_due() is None
    finally:
        tree.close()
    assert existing.read_bytes() == before


def test_the_sidecar_signs_at_start_and_at_stop(store: SqlAuditStore, url: str, tmp_path: Path) -> None:
    """With a key and a folder, the sidecar's app signs the head it starts with and the one it stops with."""
    (tmp_path / "store").mkdir()
    add_plans(store, "a")
    settings = Settings(
        store=str(tmp_path / "store"),
        database_url=url,
        checkpoint_key=SecretStr(KEY),
        checkpoint_dir=str(tmp_path / "checkpoints"),
    )
    with TestClient(create_app(settings)):
        assert sizes(tmp_path / "checkpoints") == [2]
        add_plans(store, "b")
    assert sizes(tmp_path / "checkpoints") == [2, 4]
