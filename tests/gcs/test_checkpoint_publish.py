"""Publishing signed checkpoints to a bucket (the faithful server): objects created once, never replaced."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sidecar.audit import checkpoints
from sidecar.audit.checkpoints import Checkpoint, CheckpointConflict
from sidecar.audit.signing import Publisher
from sidecar.audit.store import SqlAuditStore
from sidecar.audit.tree import SqlAuditTree
from sidecar.backends.gcs.publish import GcsPrefix
from tests.audit.conftest import make_plan, record
from tests.gcs.fixtures import FAST_RETRY, client_for
from tests.gcs.server import GcsServer
from tests.support.clocks import TickingClock

SIGNER = checkpoints.parse_signer(checkpoints.new_signer_key("firm.example/pva"))
HEAD = Checkpoint("firm.example/pva", 7, b"\x01" * 32)


def destination(server: GcsServer, bucket: str) -> GcsPrefix:
    return GcsPrefix(f"gs://{bucket}/audit/checkpoints", client=client_for(server.url), retry=FAST_RETRY)


def test_a_checkpoint_is_an_object_created_once(server: GcsServer, bucket: str) -> None:
    """The note becomes gs://.../<size>.checkpoint; the same note again is a no-op; another one is refused."""
    note = checkpoints.sign(HEAD, SIGNER)
    where = checkpoints.publish(note, HEAD, destination(server, bucket))
    assert where == f"gs://{bucket}/audit/checkpoints/000000000007.checkpoint"
    stored = server.objects(bucket)["audit/checkpoints/000000000007.checkpoint"]
    assert stored.data == note.encode("utf-8")
    assert checkpoints.publish(note, HEAD, destination(server, bucket)) == where
    other = Checkpoint("firm.example/pva", 7, b"\x02" * 32)
    with pytest.raises(CheckpointConflict, match="already holds a different checkpoint"):
        checkpoints.publish(checkpoints.sign(other, SIGNER), other, destination(server, bucket))
    assert server.objects(bucket)["audit/checkpoints/000000000007.checkpoint"].data == note.encode("utf-8")


def test_the_sidecars_publisher_signs_into_the_bucket(server: GcsServer, bucket: str, url: str) -> None:
    """A running sidecar's publisher writes each checkpoint due as an object of the bucket."""
    clock = TickingClock(datetime(2026, 1, 5, 9, 0, tzinfo=UTC), timedelta(seconds=1))
    store = SqlAuditStore.open(url, clock=clock)
    tree = SqlAuditTree.open(url)
    try:
        record(store, make_plan({"op": "mkdir", "path": "m/a"}))
        publisher = Publisher(
            tree,
            SIGNER,
            origin="firm.example/pva",
            folder=destination(server, bucket),
            every=1,
            interval=timedelta(hours=1),
            clock=clock,
        )
        assert publisher.sign_if_due() == f"gs://{bucket}/audit/checkpoints/000000000002.checkpoint"
    finally:
        tree.close()
        store.close()
    note = server.objects(bucket)["audit/checkpoints/000000000002.checkpoint"].data.decode("utf-8")
    assert checkpoints.open_checkpoint(note, SIGNER.verifier).size == 2
