"""The backend against a real bucket: skipped unless ``PVA_TEST_GCS_BUCKET`` and credentials are set.

For operators (docs/gcs.md): ``PVA_TEST_GCS_BUCKET=my-test-bucket`` with
application-default credentials (``gcloud auth application-default login``,
or a service account key in ``GOOGLE_APPLICATION_CREDENTIALS``) allowed to
create, read, move and delete objects. Each run works below a fresh prefix
``pva-test/<uuid>/`` and deletes it afterwards.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from planner.core.builder import PlanBuilder
from planner.core.entry import Blob
from sidecar.apply.direct import DirectOps
from sidecar.apply.engine import Engine
from sidecar.apply.journal import FileJournals
from sidecar.audit.memory import MemoryAudit
from sidecar.backends.gcs.backend import GcsBackend
from sidecar.backends.gcs.location import GcsLocation, open_backend

BUCKET = os.environ.get("PVA_TEST_GCS_BUCKET", "")


def _credentials() -> bool:
    try:
        import google.auth

        google.auth.default()
    except Exception:  # noqa: BLE001  # any failure means: no credentials here
        return False
    return True


pytestmark = pytest.mark.skipif(
    not BUCKET or not _credentials(), reason="set PVA_TEST_GCS_BUCKET and credentials"
)


@pytest.fixture
def real(tmp_path: Path) -> Iterator[GcsBackend]:
    location = GcsLocation(BUCKET, f"pva-test/{uuid.uuid4().hex}/", workers=16)
    backend = open_backend(location, tmp_path)
    yield backend
    for obj in list(backend.objects.iterate(location.prefix)):
        backend.objects.delete(obj)
    backend.close()


def test_an_apply_on_a_real_bucket_moves_writes_and_trashes(real: GcsBackend, tmp_path: Path) -> None:
    """A plan with a folder move, a write and a delete applies on a real bucket as the verifier predicted."""
    ops = DirectOps(real)
    ops.make_dir("m")
    ops.make_dir("m/in")
    for n in range(50):
        ops.write_file(f"m/in/{n}.txt", Blob(hashlib.sha256(b"%d" % n).hexdigest(), None, b"%d" % n))
    plan = (
        PlanBuilder("real bucket", scope=["m"])
        .mkdir("m/alice")
        .move("m/in", "m/alice/in")
        .write("m/alice/index.csv", "file\n")
        .delete("m/alice/in/0.txt")
        .build()
    )
    record = Engine(real, MemoryAudit(), FileJournals(tmp_path)).apply(plan, actor="real-bucket-test")
    assert record.status == "applied", record.message
    assert {e.path for e in real.walk("m/alice/in")} == {"m/alice/in"} | {
        f"m/alice/in/{n}.txt" for n in range(1, 50)
    }
    assert real.objects.can_move is not None
