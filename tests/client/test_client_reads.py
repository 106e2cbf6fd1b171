"""PvaClient's reads of the store and its uploads, against the real sidecar app in process."""

from __future__ import annotations

import json
import ssl
from pathlib import Path

import httpx
import pytest

from planner.client.http_client import ClientError, PvaClient, _tls
from planner.core.manifest import read_entries
from planner.core.plan import Write
from planner.core.states import PlanState
from sidecar.settings import Settings

Clients = dict[str, PvaClient]


def test_list_folder_read_and_manifest(as_: Clients) -> None:
    """list_folder lists (every page), read returns a file or a range, manifest streams manifest/v1."""
    agent = as_["agent"]
    assert [e["path"] for e in agent.list_folder("m")] == ["m/inbox", "m/notes.txt"]
    assert [e["path"] for e in agent.list_folder("m", depth=2, limit=1)] == [
        "m/inbox",
        "m/inbox/1.pdf",
        "m/notes.txt",
    ]
    assert agent.read("m/inbox/1.pdf") == b"contract"
    assert agent.read("m/inbox/1.pdf", start=2, stop=5) == b"ntr"
    lines = list(agent.manifest("m"))
    assert json.loads(lines[0])["pva"] == "manifest/v1"
    assert {json.loads(line)["path"] for line in lines[1:]} == {"m/inbox", "m/inbox/1.pdf", "m/notes.txt"}


def test_a_manifest_of_names_holding_line_breaks_reads_whole(as_: Clients, settings: Settings) -> None:
    """A file may be named with U+2028 or U+0085: its manifest line stays one line, for every reader."""
    odd = ["m/a\u2028b.pdf", "m/c\x85d.pdf", "m/e\u2029f.pdf"]
    for path in odd:
        (Path(settings.store) / path).write_bytes(b"x")
    agent = as_["agent"]
    streamed = [entry.path for entry in read_entries(agent.manifest("m"))]
    assert set(odd) <= set(streamed)
    assert [entry.path for entry in read_entries(agent.manifest_text("m").splitlines())] == streamed


def test_reads_outside_the_scope_are_refused(as_: Clients) -> None:
    """A read outside the token's scope raises ClientError with the sidecar's code."""
    with pytest.raises(ClientError) as refused:
        as_["outsider"].read("m/inbox/1.pdf")
    assert refused.value.code == "not_allowed"
    with pytest.raises(ClientError) as missing:
        as_["agent"].read("m/nope.pdf")
    assert missing.value.code == "not_found"


def test_the_builder_uploads_large_content_itself(as_: Clients) -> None:
    """A write over the builder's inline limit is uploaded and named by content_ref; the plan applies it."""
    agent = as_["agent"]
    data = b"%PDF " + b"z" * (2 * 1024 * 1024)
    plan = agent.builder("Write a large file", scope=["m"]).write("m/big.pdf", data).build()
    op = plan.ops[0]
    assert isinstance(op, Write)
    assert op.content_ref is not None
    assert op.data() is None
    status = agent.submit(plan)
    as_["alice"].approve(status.id, "fine")
    assert agent.wait(status.id, timeout=120).state is PlanState.APPLIED  # a worker applies it
    assert agent.read("m/big.pdf") == data


def test_manifest_text_is_the_streamed_manifest_in_one_piece(as_: Clients) -> None:
    agent = as_["agent"]
    assert agent.manifest_text("m") == "".join(f"{line}\n" for line in agent.manifest("m"))


STOPPED = (
    '{"pva": "manifest/v1", "root": "local/m", "hashed": false}\n'
    '{"path": "m/a.pdf", "kind": "file", "size": 3}\n'
    '{"error": {"code": "stopped", "message": "the store failed: EIO"}}\n'
)


def test_a_manifest_the_sidecar_stopped_midway_is_an_error_not_a_short_listing() -> None:
    """The sidecar ends a manifest it cannot finish with an error line (status 200 already sent)."""
    fake = httpx.Client(transport=httpx.MockTransport(lambda _request: httpx.Response(200, text=STOPPED)))
    client = PvaClient("http://sidecar.test", "pva_test", http=fake)
    with pytest.raises(ClientError, match="stopped the listing midway: the store failed: EIO") as whole:
        client.manifest_text("m")
    assert whole.value.code == "stopped"
    with pytest.raises(ClientError, match="EIO") as streamed:
        list(client.manifest("m"))
    assert streamed.value.code == "stopped"


def test_a_plain_http_client_loads_no_trust_store_and_would_trust_no_certificate() -> None:
    """http: no TLS is ever made, so no trust store is loaded (20-40 ms); one made anyway fails closed."""
    context = _tls("http://sidecar.test")
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname
    assert context.cert_store_stats()["x509_ca"] == 0
    assert _tls("https://sidecar.test") is True  # https: the default trust store, checked
