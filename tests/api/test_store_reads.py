"""The store's read endpoints: /v1/tree, /v1/files/{path} and /v1/manifest, on a local store.

Scope (a canary from a matter the reader may not see is in no answer),
links and special files never followed, ranges and ETags, the audit of
whole-file reads, the counters, and the rate limit.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import os
import tracemalloc
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from planner.core.entry import Entry
from sidecar.api.reads import _file_response
from sidecar.edge.metrics import Metrics
from sidecar.edge.ratelimit import StreamLimit
from sidecar.edge.state import AppState
from sidecar.errors import StoreFault
from tests.api.support import SEED, Api, MakeApi, sha256
from tests.support.plans import plan_doc

CANARY = b"QWKZ-canary"  # only in matters/globex (names and contents) and outside the store
FILE = "matters/acme/inbox/0001.pdf"
CONTENT = SEED[FILE] or b""


@pytest.fixture
def canaried(api: Api) -> Api:
    """The seeded store, with a canary in matter globex's names and contents, and one outside the store."""
    globex = api.root / "matters/globex"
    (globex / "QWKZ-canary-memo.txt").write_bytes(CANARY + b" privileged memo")
    (api.root.parent / "outside.txt").write_bytes(CANARY + b" outside the store")
    return api


def _leak(api: Api, url: str, **kwargs: object) -> tuple[int, bool]:
    response = api.client.get(url, headers=api.auth("agent"), **kwargs)  # type: ignore[arg-type]
    text = response.content + "".join(f"{k}: {v}" for k, v in response.headers.items()).encode()
    return response.status_code, CANARY.lower() in text.lower()


def test_a_folder_lists_its_entries_levels_deep_and_pages(api: Api) -> None:
    """GET /v1/tree lists below a folder to the depth asked, parents first, paged by path."""
    one = api.get("/v1/tree", "agent", params={"path": "matters/acme"}).json()
    assert [e["path"] for e in one["entries"]] == [
        f"matters/acme/{n}" for n in ("custodians", "inbox", "sealed", "templates")
    ]
    assert one["next_after"] is None
    assert one["version"] == "tree/v1"
    every = api.get("/v1/tree", "agent", params={"path": "matters/acme", "depth": 3}).json()["entries"]
    files = {e["path"]: e["size"] for e in every if e["kind"] == "file"}
    in_acme = {p: c for p, c in SEED.items() if p.startswith("matters/acme/")}
    assert files == {p: len(c) for p, c in in_acme.items() if c is not None}
    pages, after = [], None
    while True:
        params = {"path": "matters/acme", "depth": 3, "limit": 3} | ({"after": after} if after else {})
        page = api.get("/v1/tree", "agent", params=params).json()
        pages.append([e["path"] for e in page["entries"]])
        after = page["next_after"]
        if after is None:
            break
    assert [p for page in pages for p in page] == [e["path"] for e in every]
    assert all(len(page) <= 3 for page in pages)
    assert len(pages) == 4


def test_a_file_streams_with_its_sha256_as_etag(api: Api) -> None:
    """GET /v1/files/{path} answers the bytes, their length and the sha256 as a strong ETag."""
    response = api.get(f"/v1/files/{FILE}", "agent")
    assert response.status_code == 200
    assert response.content == CONTENT
    assert response.headers["etag"] == f'"{sha256(CONTENT)}"'
    assert response.headers["content-length"] == str(len(CONTENT))
    assert response.headers["accept-ranges"] == "bytes"


def test_if_none_match_with_the_etag_is_not_modified(api: Api) -> None:
    """If-None-Match naming the current ETag answers 304 with no body; a stale one gets the file."""
    tag = api.get(f"/v1/files/{FILE}", "agent").headers["etag"]
    fresh = api.client.get(f"/v1/files/{FILE}", headers={**api.auth("agent"), "If-None-Match": tag})
    assert fresh.status_code == 304
    assert fresh.content == b""
    stale = api.client.get(f"/v1/files/{FILE}", headers={**api.auth("agent"), "If-None-Match": '"0000"'})
    assert stale.status_code == 200
    assert stale.content == CONTENT


@pytest.mark.parametrize(
    ("header", "part"),
    [("bytes=0-3", (0, 4)), ("bytes=5-", (5, None)), ("bytes=-7", (-7, None)), ("bytes=2-99999", (2, None))],
)
def test_a_range_answers_206_with_that_part(api: Api, header: str, part: tuple[int, int | None]) -> None:
    """A satisfiable Range answers 206 with exactly those bytes and their Content-Range."""
    response = api.client.get(f"/v1/files/{FILE}", headers={**api.auth("agent"), "Range": header})
    assert response.status_code == 206
    assert response.content == CONTENT[part[0] : part[1]]
    start = part[0] % len(CONTENT)
    assert (
        response.headers["content-range"]
        == f"bytes {start}-{len(CONTENT) - 1 if part[1] is None else part[1] - 1}/{len(CONTENT)}"
    )


def test_a_range_past_the_end_is_416_and_a_bad_one_is_ignored(api: Api) -> None:
    """A range starting past the end is 416; one that does not parse serves the whole file."""
    past = api.client.get(f"/v1/files/{FILE}", headers={**api.auth("agent"), "Range": "bytes=9999-"})
    assert past.status_code == 416
    assert past.headers["content-range"] == f"bytes */{len(CONTENT)}"
    odd = api.client.get(f"/v1/files/{FILE}", headers={**api.auth("agent"), "Range": "bytes=0-1,3-4"})
    assert odd.status_code == 200
    assert odd.content == CONTENT


def test_folders_and_missing_files_are_not_files(api: Api) -> None:
    """A folder, a missing file, the root and the reserved area are 404/409, never content."""
    assert api.get("/v1/files/matters/acme", "agent").status_code == 409
    assert api.get("/v1/files/matters/acme/nope.pdf", "agent").status_code == 404
    assert api.get("/v1/files/matters/acme/inbox/0001.pdf/x", "agent").status_code == 404
    assert api.get("/v1/tree", "agent", params={"path": "matters/acme/nope"}).status_code == 404
    assert api.get("/v1/files/.pva/journal", "admin").status_code in (404, 422)


def test_a_manifest_streams_without_hashing_unless_asked(api: Api) -> None:
    """GET /v1/manifest is manifest/v1 lines; sha256 only with hash=true."""
    lines = api.get("/v1/manifest", "agent", params={"path": "matters/acme/inbox"}).text.splitlines()
    header, *entries = (json.loads(line) for line in lines)
    assert header["pva"] == "manifest/v1"
    assert header["hashed"] is False
    assert [e["path"] for e in entries] == [
        f"matters/acme/inbox/{n}" for n in ("0001.pdf", "0002.pdf", "Thumbs.db")
    ]
    assert all("sha256" not in e for e in entries)
    hashed = api.get("/v1/manifest", "agent", params={"path": "matters/acme/inbox", "hash": "true"}).text
    sums = {e["path"]: e["sha256"] for e in map(json.loads, hashed.splitlines()[1:])}
    assert sums[FILE] == sha256(CONTENT)


@pytest.mark.parametrize(
    "url",
    [
        "/v1/tree?path=matters&depth=3",
        "/v1/tree?path=",
        "/v1/tree?path=matters/globex",
        "/v1/tree?path=matters/acme&depth=5&after=matters/globex",
        "/v1/manifest?path=matters",
        "/v1/manifest?path=matters/globex&hash=true",
        "/v1/manifest",
        "/v1/files/matters/globex/inbox/g-0001.pdf",
        "/v1/files/matters/acme/../globex/inbox/g-0001.pdf",
        "/v1/files/matters%2Fglobex%2Finbox%2Fg-0001.pdf",
        "/v1/snapshot?prefix=matters",
    ],
)
def test_no_read_shows_a_byte_of_another_matter(canaried: Api, url: str) -> None:
    """An agent scoped to acme is refused outside it, and no answer body or header holds globex's canary."""
    status, leaked = _leak(canaried, url)
    assert not leaked
    assert status in (403, 404, 422) or "after" in url  # a cursor outside the folder: an empty page


def test_links_in_the_store_are_never_followed(canaried: Api) -> None:
    """A symlink to a file outside the store, or to another matter's folder, is refused, not read through.

    A listing of the folder holding a link lists its other entries and leaves
    the link out: neither its name's target nor anything behind it appears.
    """
    inbox = canaried.root / "matters/acme/inbox"
    (inbox / "outside.txt").symlink_to(canaried.root.parent / "outside.txt")
    (canaried.root / "matters/acme/globex").symlink_to(canaried.root / "matters/globex")
    for url in (
        "/v1/files/matters/acme/inbox/outside.txt",
        "/v1/files/matters/acme/globex/QWKZ-canary-memo.txt",
    ):
        status, leaked = _leak(canaried, url)
        assert not leaked, url
        assert status in (404, 409), (url, status)
    status, leaked = _leak(canaried, "/v1/tree?path=matters/acme/globex")  # the link itself: no folder
    assert (status, leaked) == (409, False)
    for url in (
        "/v1/tree?path=matters/acme&depth=4",
        "/v1/manifest?path=matters/acme&hash=true",
        "/v1/snapshot?prefix=matters/acme",
    ):
        status, leaked = _leak(canaried, url)
        assert (status, leaked) == (200, False), url
    status, leaked = _leak(canaried, "/v1/snapshot?prefix=matters/acme/globex")  # a snapshot of the link
    assert (status, leaked) == (409, False)
    snapshot = canaried.get("/v1/snapshot", "agent", params={"prefix": "matters/acme"}).text.splitlines()
    hashed = canaried.get("/v1/manifest", "agent", params={"path": "matters/acme", "hash": "true"})
    below = [json.loads(line) for line in hashed.text.splitlines()[1:]]
    assert [json.loads(line) for line in snapshot[2:]] == below  # the prefix's own entry, then the same
    listed = canaried.get("/v1/tree", "agent", params={"path": "matters/acme", "depth": 4}).json()["entries"]
    paths = {entry["path"] for entry in listed}
    assert "matters/acme/inbox/0001.pdf" in paths
    assert not any(path.startswith(("matters/acme/globex", "matters/acme/inbox/outside")) for path in paths)
    lines = canaried.get("/v1/manifest", "agent", params={"path": "matters/acme"}).text.splitlines()
    assert all("error" not in json.loads(line) for line in lines)
    assert not any("outside.txt" in line or "acme/globex" in line for line in lines)


def test_a_plan_moves_a_document_beside_a_link_and_a_latin1_name_but_never_the_link(api: Api) -> None:
    """A stray link or legacy-named file in an inbox does not block plans on the inbox's documents.

    A plan naming the link itself is refused, and so is one moving the inbox
    as a whole; what the plan moves is applied, the link left as it was.
    """
    inbox = api.root / "matters/acme/inbox"
    (inbox / "shortcut.pdf").symlink_to(api.root / "matters/globex/inbox/g-0001.pdf")
    (inbox / "caf\udce9.txt").write_bytes(b"a name in Latin-1")
    move = {"op": "move", "src": FILE, "dst": "matters/acme/custodians/alice/0001.pdf", "reason": "Alice"}
    assert api.post("/v1/plans/verify", "agent", json=plan_doc(move)).json()["ok"] is True
    applied = api.decide(api.submit(plan_doc(move))["id"], "approve")
    assert applied["state"] == "applied", applied
    assert (api.root / "matters/acme/custodians/alice/0001.pdf").read_bytes() == CONTENT
    assert (inbox / "shortcut.pdf").is_symlink()
    named = {"op": "move", "src": "matters/acme/inbox/shortcut.pdf", "dst": "matters/acme/custodians/s.pdf"}
    whole = {"op": "move", "src": "matters/acme/inbox", "dst": "matters/acme/old-inbox"}
    for op in (named, whole):
        response = api.post("/v1/plans/verify", "agent", json=plan_doc(op))
        assert (response.status_code, response.json()["error"]["code"]) == (409, "refused"), op


def test_special_files_are_refused(api: Api) -> None:
    """A FIFO in the store is refused (409), never opened (which could block), and left out of listings."""
    os.mkfifo(api.root / "matters/acme/inbox/pipe")
    assert api.get("/v1/files/matters/acme/inbox/pipe", "agent").status_code == 409
    listed = api.get("/v1/tree", "agent", params={"path": "matters/acme/inbox"})
    assert listed.status_code == 200
    names = [entry["path"].rsplit("/", 1)[-1] for entry in listed.json()["entries"]]
    assert "pipe" not in names
    assert "0001.pdf" in names


def test_a_name_that_is_not_utf8_is_left_out_of_listings(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    """A folder holding a name no plan can spell (not UTF-8) still lists the rest, and the log says so.

    Old archives carry such names (Latin-1 from an old file server); one of
    them must not hide a whole folder of documents from every agent.
    """
    inbox = os.fsencode(api.root / "matters/acme/inbox")
    os.close(os.open(inbox + b"/caf\xe9.pdf", os.O_CREAT | os.O_WRONLY))
    listed = api.get("/v1/tree", "agent", params={"path": "matters/acme", "depth": 2})
    assert listed.status_code == 200
    paths = [entry["path"] for entry in listed.json()["entries"]]
    assert "matters/acme/inbox/0001.pdf" in paths
    assert not any("caf" in path for path in paths)
    lines = api.get("/v1/manifest", "agent", params={"path": "matters/acme/inbox"}).text.splitlines()
    assert all("error" not in json.loads(line) for line in lines)
    assert any("0001.pdf" in line for line in lines)
    assert "not UTF-8" in caplog.text
    assert "matters/acme/inbox" in caplog.text


def test_names_no_plan_could_create_are_listed_past_and_read(api: Api) -> None:
    """Names made elsewhere ("Minutes 10:30.pdf", "CON.txt") are read, paged past and traced.

    A page ending on such a name gives it as the cursor: the next page must
    take it back. The read goes to the audit, whose filters and a history
    take such a path too.
    """
    inbox = api.root / "matters/acme/inbox"
    for name in ("Minutes 10:30.pdf", "CON.txt"):
        (inbox / name).write_bytes(name.encode())
    names, after = [], None
    while True:
        params = {"path": "matters/acme/inbox", "limit": 1} | ({"after": after} if after else {})
        page = api.get("/v1/tree", "agent", params=params)
        assert page.status_code == 200, page.text
        names += [entry["path"] for entry in page.json()["entries"]]
        after = page.json()["next_after"]
        if after is None:
            break
    assert {"matters/acme/inbox/Minutes 10:30.pdf", "matters/acme/inbox/CON.txt"} <= set(names)
    assert len(names) == len(set(names))
    read = api.get("/v1/files/matters/acme/inbox/Minutes%2010%3A30.pdf", "agent")
    assert (read.status_code, read.content) == (200, b"Minutes 10:30.pdf"), read.text
    assert [e["payload"] for e in _reads(api)] == [
        {"path": "matters/acme/inbox/Minutes 10:30.pdf", "version": sha256(b"Minutes 10:30.pdf"), "size": 17}
    ]
    events = api.get("/v1/audit", "auditor", params={"path": "matters/acme/inbox/Minutes 10:30.pdf"})
    assert events.status_code == 200, events.text
    history = api.get("/v1/history", "auditor", params={"path": "matters/acme/inbox/CON.txt"})
    assert history.status_code == 200, history.text
    for escape in ("matters/acme/inbox/../../globex/memo.txt", "matters/acme/./inbox/CON.txt"):
        params = {"path": "matters/acme", "after": escape}
        assert api.get("/v1/tree", "agent", params=params).status_code == 422


def _reads(api: Api) -> list[dict[str, object]]:
    events = api.get("/v1/audit", "auditor", params={"limit": 1000}).json()["events"]
    return [e for e in events if e["kind"] == "read"]


def test_whole_file_reads_go_to_the_audit(api: Api) -> None:
    """A whole-file read is a 'read' event naming the reader, path and sha256; a range is not, by default."""
    api.get(f"/v1/files/{FILE}", "agent")
    api.client.get(f"/v1/files/{FILE}", headers={**api.auth("agent"), "Range": "bytes=0-1"})
    reads = _reads(api)
    assert [(e["actor"], e["payload"]) for e in reads] == [
        ("agent", {"path": FILE, "version": sha256(CONTENT), "size": len(CONTENT)})
    ]
    assert api.get("/v1/audit/verify", "auditor").status_code in (200, 404)


@pytest.mark.parametrize(("setting", "expected"), [("off", 0), ("all", 2)])
def test_which_reads_are_audited_is_a_setting(make_api: MakeApi, setting: str, expected: int) -> None:
    """PVA_AUDIT_READS=off records no reads; =all records ranges too."""
    api = make_api(audit_reads=setting)
    api.get(f"/v1/files/{FILE}", "agent")
    api.client.get(f"/v1/files/{FILE}", headers={**api.auth("agent"), "Range": "bytes=0-1"})
    assert len(_reads(api)) == expected


def test_reads_are_counted_in_the_metrics(api: Api) -> None:
    """/metrics counts the bytes of files served and the reads by kind."""
    api.get(f"/v1/files/{FILE}", "agent")
    api.get("/v1/tree", "agent", params={"path": "matters/acme"})
    text = api.get("/metrics", "admin").text
    assert f"pva_read_bytes_total {float(len(CONTENT))}" in text
    assert 'pva_reads_total{what="file"} 1.0' in text
    assert 'pva_reads_total{what="tree"} 1.0' in text


def test_reads_are_rate_limited_per_token(make_api: MakeApi) -> None:
    """Past its burst, a token's reads are 429 with Retry-After; another token still reads."""
    api = make_api(rate_limit=1, rate_burst=3)
    codes = [api.get(f"/v1/files/{FILE}", "agent").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    assert api.client.get(f"/v1/files/{FILE}", headers=api.auth("agent")).headers.get("retry-after")
    assert api.get(f"/v1/files/{FILE}", "agent-peer").status_code == 200


@dataclass
class _Stall:
    """A slow reader: ``reached`` is set when its first chunk comes, and it reads no more until ``go``."""

    reached: asyncio.Event = field(default_factory=asyncio.Event)
    go: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass
class _Asgi:
    """A client of the app at the ASGI level: it can stall after the first chunk, or leave before it."""

    app: Any
    secrets: dict[str, str]

    async def get(
        self, who: str, path: str, query: str, *, stall: _Stall | None = None, leave: bool = False
    ) -> tuple[int, dict[str, str]]:
        """The status and headers of a GET; ``leave``: the client has gone before the answer starts."""
        status, headers = 0, dict[str, str]()

        async def receive() -> dict[str, Any]:
            if not leave:
                await asyncio.Event().wait()  # the client neither sends more nor goes away
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            nonlocal status, headers
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = {k.decode(): v.decode() for k, v in message["headers"]}
            elif message.get("body") and stall is not None and not stall.reached.is_set():
                stall.reached.set()
                await stall.go.wait()  # the stream waits here, mid-manifest

        auth = f"Bearer {self.secrets[who]}".encode()
        scope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": query.encode(),
            "root_path": "",
            "headers": [(b"host", b"testserver"), (b"authorization", auth)],
            "client": ("127.0.0.1", 50000),
            "server": ("testserver", 80),
        }
        await self.app(scope, receive, send)
        return status, headers


HASHED = "path=matters/acme&hash=true"


def _hashing(api: Api) -> StreamLimit:
    assert isinstance(api.client.app, FastAPI)
    state: AppState = api.client.app.state.pva
    return state.hashing


def test_hashed_manifests_are_limited_one_per_token_and_a_few_at_once(make_api: MakeApi) -> None:
    """A hashed manifest or snapshot reads every byte below it: one per token, PVA_HASHED_LISTINGS at once."""
    api = make_api(hashed_listings=2)
    client, hashing = _Asgi(api.client.app, api.secrets), _hashing(api)

    async def scenario() -> None:
        first, second = _Stall(), _Stall()
        agent = asyncio.create_task(client.get("agent", "/v1/manifest", HASHED, stall=first))
        await first.reached.wait()
        again = await client.get("agent", "/v1/snapshot", "prefix=matters/acme")
        assert again[0] == 429
        assert int(again[1]["retry-after"]) >= 1
        assert (await client.get("agent", "/v1/manifest", "path=matters/acme"))[0] == 200  # not hashed
        peer = asyncio.create_task(client.get("agent-peer", "/v1/manifest", HASHED, stall=second))
        await second.reached.wait()
        assert (await client.get("auditor", "/v1/manifest", HASHED))[0] == 429  # two at once, the most
        first.go.set()
        second.go.set()
        assert [(await agent)[0], (await peer)[0]] == [200, 200]
        assert (await client.get("auditor", "/v1/manifest", HASHED))[0] == 200

    asyncio.run(scenario())
    assert hashing.open == 0


@pytest.mark.parametrize("when", ["before its first line", "mid-manifest"])
def test_a_client_that_leaves_frees_its_hashed_manifest(make_api: MakeApi, when: str) -> None:
    """A client gone before or during the stream does not keep its place: the next one is admitted."""
    api = make_api(hashed_listings=1)
    client, hashing = _Asgi(api.client.app, api.secrets), _hashing(api)

    async def leave() -> None:
        if when == "before its first line":
            await client.get("agent", "/v1/manifest", HASHED, leave=True)
            return
        stall = _Stall()
        task = asyncio.create_task(client.get("agent", "/v1/manifest", HASHED, stall=stall))
        await stall.reached.wait()
        task.cancel()  # the connection is dropped mid-stream
        with contextlib.suppress(asyncio.CancelledError):
            await task

    asyncio.run(leave())
    gc.collect()  # what is left of the dropped request is collected
    assert hashing.open == 0
    assert (
        api.get("/v1/manifest", "agent-peer", params={"path": "matters/acme", "hash": "true"}).status_code
        == 200
    )


def test_a_file_changed_in_place_gets_a_new_etag(api: Api, tmp_path: Path) -> None:
    """The ETag follows the content: a rewritten file has another one."""
    before = api.get(f"/v1/files/{FILE}", "agent").headers["etag"]
    (api.root / FILE).write_bytes(b"%PDF rewritten")
    after = api.get(f"/v1/files/{FILE}", "agent")
    assert after.headers["etag"] != before
    assert after.content == b"%PDF rewritten"
    assert tmp_path.exists()


@pytest.mark.parametrize("migrated_url", ["sqlite"], indirect=True)  # the database plays no part: once
def test_a_2_gb_file_streams_in_constant_memory(api: Api) -> None:
    """A 2 GiB (sparse) file is hashed for its ETag and streamed whole while Python holds under 32 MiB."""
    size = 2 * 1024**3
    with (api.root / "matters/acme/big.bin").open("wb") as big:
        big.truncate(size)  # sparse: no disk used, but every byte is read
    tracemalloc.start()
    try:
        received = 0
        with api.client.stream("GET", "/v1/files/matters/acme/big.bin", headers=api.auth("agent")) as answer:
            assert answer.status_code == 200
            assert answer.headers["content-length"] == str(size)
            for chunk in answer.iter_bytes():
                received += len(chunk)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert received == size
    assert peak < 32 * 1024**2, f"peak {peak / 1024**2:.1f} MiB while streaming 2 GiB"


class _ShrunkFile:
    """A file that lost bytes between its listing (its size) and its reading: a FileStream."""

    def __init__(self) -> None:
        self.entry = Entry("m/shrunk.pdf", "file", 10, "ab" * 32)
        self.closed = False

    def chunks(self, start: int, stop: int) -> Iterator[bytes]:
        yield b"short"[start:stop]

    def close(self) -> None:
        self.closed = True


def test_a_small_file_that_shrank_while_read_is_an_error_not_a_short_answer() -> None:
    """Read whole before answering, a file shorter than its listed size is refused, never sent short."""
    stream = _ShrunkFile()
    with pytest.raises(StoreFault, match="changed while it was read"):
        _file_response(Metrics(), stream, None, None, lambda _size, _part: None)
    assert stream.closed
