"""Uploads for content_ref writes: POST /v1/blobs, its limits, the verification of blobs, collection."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

from tests.api.support import Api, MakeApi
from tests.support.plans import plan_doc

BIG = b"%PDF " + b"x" * 300_000  # over the default inline limit


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _upload(api: Api, data: bytes, sha: str | None = None, who: str = "agent") -> tuple[int, dict[str, Any]]:
    response = api.client.post(
        "/v1/blobs", params={"sha256": sha or _sha(data)}, content=data, headers=api.auth(who)
    )
    return response.status_code, response.json()


def _write(sha: str, path: str = "matters/acme/big.pdf") -> dict[str, object]:
    return plan_doc({"op": "write", "path": path, "content_ref": sha}, title="write a large file")


def test_an_uploaded_blob_is_written_by_a_plan_naming_it(api: Api) -> None:
    """Upload, then a content_ref write verifies, is approved and applied: the store holds the bytes."""
    status, body = _upload(api, BIG)
    assert status == 201
    assert body == {"sha256": _sha(BIG), "size": len(BIG), "content_ref": _sha(BIG)}
    assert _upload(api, BIG)[0] == 200  # again: already there
    report = api.post("/v1/plans/verify", "agent", json=_write(_sha(BIG))).json()
    assert report["ok"], report
    plan_id = api.submit(_write(_sha(BIG)))["id"]
    api.decide(plan_id, "approve")
    assert api.show(plan_id)["state"] == "applied"
    assert (api.root / "matters/acme/big.pdf").read_bytes() == BIG


def test_bytes_that_are_not_the_declared_sha256_are_refused(api: Api) -> None:
    """An upload whose bytes hash otherwise is 422 blob_mismatch, and nothing is stored."""
    status, body = _upload(api, BIG, sha=_sha(b"other"))
    assert status == 422
    assert body["error"]["code"] == "blob_mismatch"
    assert not (api.root / ".pva/blobs" / _sha(b"other")).exists()
    assert not list((api.root / ".pva/staging").iterdir())


def test_a_blob_over_the_limit_is_refused(make_api: MakeApi) -> None:
    """A blob over PVA_MAX_BLOB_BYTES is 413, before the route runs; others' bodies keep their own limit."""
    api = make_api(max_blob_bytes=1000)
    status, body = _upload(api, BIG)
    assert status == 413
    assert body["error"]["code"] == "too_large"
    assert _upload(api, b"small")[0] == 201


def test_a_token_over_its_quota_is_refused(make_api: MakeApi) -> None:
    """Past PVA_BLOB_QUOTA_BYTES of blobs, a token's upload is 413 over_quota; another token still uploads."""
    api = make_api(blob_quota_bytes=len(BIG) + 10)
    assert _upload(api, BIG)[0] == 201
    status, body = _upload(api, b"y" * 20)
    assert status == 413
    assert body["error"]["code"] == "over_quota"
    assert _upload(api, b"y" * 20, who="agent-peer")[0] == 201


def test_a_plan_naming_a_missing_blob_does_not_verify(api: Api) -> None:
    """A content_ref no upload (nor trash) holds is a not_found diagnostic."""
    report = api.post("/v1/plans/verify", "agent", json=_write(_sha(b"never uploaded"))).json()
    assert not report["ok"]
    assert [d["code"] for d in report["diagnostics"]] == ["not_found"]


def test_a_blob_altered_on_disk_does_not_verify(api: Api) -> None:
    """Verification hashes the stored blob: one whose bytes changed on disk is missing, not written."""
    _upload(api, BIG)
    (api.root / ".pva/blobs" / _sha(BIG)).write_bytes(b"tampered")
    report = api.post("/v1/plans/verify", "agent", json=_write(_sha(BIG))).json()
    assert not report["ok"]


def test_a_blob_uploaded_for_another_matter_is_not_for_this_one(api: Api) -> None:
    """A blob uploaded by a token scoped to globex is missing to a plan in acme."""
    _upload(api, BIG, who="agent-globex")
    report = api.post("/v1/plans/verify", "agent", json=_write(_sha(BIG))).json()
    assert not report["ok"]


def test_blobs_no_plan_names_are_collected_after_the_retention(api: Api) -> None:
    """collect removes blobs past the retention that no plan names; a named one, and a young one, stay."""
    named, unnamed, young = b"named" * 10, b"unnamed" * 10, b"young" * 10
    for data in (named, unnamed):
        _upload(api, data)
    api.submit(_write(_sha(named)))
    blobs = api.services.require_blobs()
    api.clock.advance(blobs.limits.retention + timedelta(seconds=1))
    _upload(api, young)
    assert blobs.collect(api.clock()) == [_sha(unnamed)]
    stored = {p.name for p in (api.root / ".pva/blobs").iterdir()}
    assert stored == {_sha(named), _sha(young)}
    assert _upload(api, unnamed)[0] == 201  # its record went with it: uploaded anew
