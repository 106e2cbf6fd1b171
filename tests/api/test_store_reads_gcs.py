"""The read endpoints and uploads on a bucket (the GCS test server): listings, files, manifests, blobs."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.api.support import SEED, Api, Opener, empty
from tests.gcs.fixtures import new_bucket, seed, shared_server
from tests.support.plans import plan_doc

FILE = "matters/acme/inbox/0001.pdf"
CONTENT = SEED[FILE] or b""


@pytest.fixture
def gcs_api(migrated_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Api]:
    """The app over ``gs://BUCKET/store`` on the GCS test server, seeded with the API tests' store."""
    server = shared_server()
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", server.url)  # the library's documented test switch
    bucket = new_bucket(server)
    folders: dict[str, bytes | None] = {
        "/".join(p.split("/")[:n]): None for p in SEED for n in range(1, p.count("/") + 1)
    }
    seed(server, bucket, "store", folders | SEED)
    empty(migrated_url)
    opener = Opener(tmp_path / "unused", migrated_url, tmp_path)
    yield opener.open(store=f"gs://{bucket}/store")
    opener.close()


def test_a_bucket_folder_lists_and_a_file_streams_by_generation(gcs_api: Api) -> None:
    """On a bucket, /v1/tree lists, /v1/files streams with the generation as ETag, ranges and 304 work."""
    listed = gcs_api.get("/v1/tree", "agent", params={"path": "matters/acme/inbox"}).json()["entries"]
    assert [e["name"] for e in listed] == ["0001.pdf", "0002.pdf", "Thumbs.db"]
    assert all(e["generation"] for e in listed)
    whole = gcs_api.get(f"/v1/files/{FILE}", "agent")
    assert whole.status_code == 200
    assert whole.content == CONTENT
    generation = next(e["generation"] for e in listed if e["path"] == FILE)
    assert whole.headers["etag"] == f'"g{generation}"'
    part = gcs_api.client.get(f"/v1/files/{FILE}", headers={**gcs_api.auth("agent"), "Range": "bytes=5-8"})
    assert part.status_code == 206
    assert part.content == CONTENT[5:9]
    same = gcs_api.client.get(
        f"/v1/files/{FILE}", headers={**gcs_api.auth("agent"), "If-None-Match": whole.headers["etag"]}
    )
    assert same.status_code == 304


def test_a_bucket_manifest_and_scope(gcs_api: Api) -> None:
    """The manifest of a bucket folder is manifest/v1; another matter's folder and files are refused."""
    lines = gcs_api.get("/v1/manifest", "agent", params={"path": "matters/acme"}).text.splitlines()
    assert json.loads(lines[0])["pva"] == "manifest/v1"
    assert {json.loads(line)["path"] for line in lines[1:]} >= {FILE, "matters/acme/templates/cover.docx"}
    assert gcs_api.get("/v1/files/matters/globex/inbox/g-0001.pdf", "agent").status_code == 403
    assert gcs_api.get("/v1/tree", "agent", params={"path": "matters/globex"}).status_code == 403
    assert gcs_api.get("/v1/files/matters/acme/nope", "agent").status_code == 404


def test_a_write_is_applied_from_an_uploaded_blob_on_a_bucket(gcs_api: Api) -> None:
    """On a bucket, an uploaded blob is named by a content_ref write, applied, and read back whole."""
    data = b"%PDF " + b"y" * 300_000
    sha = hashlib.sha256(data).hexdigest()
    upload = gcs_api.client.post(
        "/v1/blobs", params={"sha256": sha}, content=data, headers=gcs_api.auth("agent")
    )
    assert upload.status_code == 201, upload.text
    doc = plan_doc({"op": "write", "path": "matters/acme/big.pdf", "content_ref": sha}, title="big")
    plan_id = gcs_api.submit(doc)["id"]
    gcs_api.decide(plan_id, "approve")
    assert gcs_api.show(plan_id)["state"] == "applied"
    assert gcs_api.get("/v1/files/matters/acme/big.pdf", "agent").content == data
