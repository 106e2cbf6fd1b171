"""GET /v1/plans/{id}/writes/{index}: the whole content a write puts in the store, for its reviewers.

A write over the preview's limit shows only its size and sha256; this is
how an approver reads the rest. Inline or uploaded, the bytes are checked
against the sha256 the plan names as they are sent.
"""

from __future__ import annotations

import asyncio
import gc
import hashlib
import os
from collections.abc import MutableMapping
from typing import Any

import pytest

from tests.api.support import Api, MakeApi
from tests.support.plans import plan_doc

BIG = b"custodian,document\n" + b"alice,DOC-0001.pdf\n" * 40_000  # 760 KB: over the 256 KB preview
SMALL = "r\u00e9sum\u00e9 of <script>alert(1)</script>\n".encode()


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _plan(api: Api) -> str:
    """A plan writing SMALL inline (op 1) and BIG from an uploaded blob (op 3), with a move between."""
    upload = api.client.post(
        "/v1/blobs", params={"sha256": _sha(BIG)}, content=BIG, headers=api.auth("agent")
    )
    assert upload.status_code == 201, upload.text
    doc = plan_doc(
        {"op": "mkdir", "path": "matters/acme/notes"},
        {"op": "write", "path": "matters/acme/notes/r\u00e9sum\u00e9.html", "content": SMALL.decode()},
        {"op": "move", "src": "matters/acme/inbox/0002.pdf", "dst": "matters/acme/notes/0002.pdf"},
        {"op": "write", "path": "matters/acme/privilege-log.csv", "content_ref": _sha(BIG)},
        title="a privilege log",
    )
    return str(api.submit(doc)["id"])


def test_an_approver_downloads_every_byte_a_write_puts_in_the_store(api: Api) -> None:
    """Both writes come whole, as attachments a browser saves and never runs; the preview shows only facts."""
    plan_id = _plan(api)
    shown = api.show(plan_id, "approver")
    big = next(c for c in shown["contents"] if c["op_index"] == 3)
    assert big["lines"] == []
    assert "too large to show" in big["note"]
    small = api.get(f"/v1/plans/{plan_id}/writes/1", "approver")
    assert small.status_code == 200
    assert small.content == SMALL
    assert small.headers["content-type"] == "application/octet-stream"
    assert small.headers["content-disposition"] == (
        "attachment; filename=\"r_sum_.html\"; filename*=UTF-8''r%C3%A9sum%C3%A9.html"
    )
    assert small.headers["x-content-type-options"] == "nosniff"
    assert small.headers["content-security-policy"].startswith("sandbox")
    assert small.headers["etag"] == f'"{_sha(SMALL)}"'
    whole = api.get(f"/v1/plans/{plan_id}/writes/3", "approver")
    assert whole.status_code == 200
    assert whole.content == BIG
    assert int(whole.headers["content-length"]) == len(BIG)
    assert api.get(f"/v1/plans/{plan_id[:12]}/writes/3", "agent").content == BIG  # its author, by short id


def test_after_the_apply_the_content_comes_from_where_the_sidecar_keeps_it(api: Api) -> None:
    """Applied, the blob is in the store; a revert trashes it, and the download still finds it, checked."""
    plan_id = _plan(api)
    api.decide(plan_id, "approve")
    assert api.show(plan_id)["state"] == "applied"
    assert api.get(f"/v1/plans/{plan_id}/writes/3", "auditor").content == BIG
    assert api.get(f"/v1/plans/{plan_id}/writes/1", "auditor").content == SMALL


@pytest.mark.parametrize(
    ("index", "message"),
    [
        (0, "op 0 is a mkdir, not a write"),
        (2, "op 2 is a move, not a write"),
        (4, "the plan has 4 op(s): there is no op 4"),
    ],
)
def test_an_op_that_is_no_write_has_no_content(api: Api, index: int, message: str) -> None:
    plan_id = _plan(api)
    answer = api.get(f"/v1/plans/{plan_id}/writes/{index}", "approver")
    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "not_found"
    assert message in answer.json()["error"]["message"]


def test_a_caller_who_may_not_see_the_plan_gets_nothing_of_it(api: Api) -> None:
    """Outside the plan's matter, the answer is the unknown plan's: not a byte, not a name."""
    plan_id = _plan(api)
    for who in ("approver-other", "agent-globex", "auditor-other"):
        answer = api.get(f"/v1/plans/{plan_id}/writes/3", who)
        assert answer.status_code == 404, who
        assert b"alice" not in answer.content
        assert b"privilege" not in answer.content
    assert api.get(f"/v1/plans/{plan_id}/writes/3", None).status_code == 401


def test_an_altered_blob_is_never_sent_whole(api: Api) -> None:
    """Bytes changed on disk since the upload: the answer stops short, and the sidecar says why."""
    plan_id = _plan(api)
    blob = api.root / ".pva/blobs" / _sha(BIG)
    blob.write_bytes(BIG.replace(b"alice", b"mallo"))
    answer = api.get(f"/v1/plans/{plan_id}/writes/3", "approver")
    assert answer.status_code == 200  # sent before the end is read: the end is withheld
    assert len(answer.content) < len(BIG)


def test_a_blob_no_longer_held_is_not_found(api: Api) -> None:
    plan_id = _plan(api)
    (api.root / ".pva/blobs" / _sha(BIG)).unlink()
    answer = api.get(f"/v1/plans/{plan_id}/writes/3", "approver")
    assert answer.status_code == 404
    assert "held no longer" in answer.json()["error"]["message"]


def test_a_download_is_a_read_in_the_audit_as_the_setting_says(make_api: MakeApi) -> None:
    """Who downloaded which content is recorded as a whole-file read of the write's path and sha256."""
    api = make_api()
    plan_id = _plan(api)
    assert api.get(f"/v1/plans/{plan_id}/writes/3", "approver").status_code == 200
    events = api.get("/v1/audit", "auditor", params={"limit": 1000}).json()["events"]
    reads = [(e["actor"], e["payload"]) for e in events if e["kind"] == "read"]
    assert reads == [
        ("approver", {"path": "matters/acme/privilege-log.csv", "version": _sha(BIG), "size": len(BIG)})
    ]
    quiet = make_api(audit_reads="off")
    assert quiet.get(f"/v1/plans/{plan_id}/writes/1", "approver").status_code == 200
    events = quiet.get("/v1/audit", "auditor", params={"limit": 1000}).json()["events"]
    assert [(e["actor"], e["payload"]) for e in events if e["kind"] == "read"] == reads  # the first's only


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.parametrize("route", ["/v1/plans/{plan_id}/writes/3", "/v1/files/matters/acme/big.bin"])
def test_a_client_gone_before_the_answer_starts_leaves_no_file_open(api: Api, route: str) -> None:
    """A streamed file whose answer never starts (the client left first) is closed, not left open."""
    plan_id = _plan(api)
    (api.root / "matters/acme/big.bin").write_bytes(BIG)  # over the size a read sends whole
    path = route.format(plan_id=plan_id)
    auth = f"Bearer {api.secrets['auditor']}".encode()
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},  # as uvicorn serves it
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver"), (b"authorization", auth)],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    sent: list[str] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.disconnect"}  # gone before the answer starts

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message["type"])  # to a gone client, uvicorn sends nothing and says nothing

    async def request() -> None:
        await api.client.app(scope, receive, send)

    before = _open_fds()
    for _ in range(3):
        asyncio.run(request())
    gc.collect()
    assert "http.response.body" not in sent  # the body never started
    assert _open_fds() == before
