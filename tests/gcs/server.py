"""A faithful test server for the subset of the GCS JSON API that ``GcsBackend`` uses.

Objects live in memory with generations and metagenerations, and every
precondition is enforced as Google documents it (``ifGenerationMatch`` with 0
meaning "no live object", ``ifGenerationNotMatch``, the metageneration pair,
and the ``ifSource*`` family on copy and move); a failed precondition is 412
``conditionNotMet``, a missing object 404, and a whole request is one atomic
step under one lock. Temporary holds too: while an object's ``temporaryHold``
is set, deleting or replacing it (an insert, copy, rewrite or move onto its
name, or a move of it, which deletes it) is 403 ``forbidden``, and a copy of
it is not held. Routes: bucket get; object insert (media and multipart),
get (metadata and ``alt=media``), patch (``temporaryHold`` and ``metadata``),
list (prefix, delimiter, trailing delimiter, ``startOffset``, pages), delete, ``copyTo``,
``rewriteTo`` and ``moveTo``. Faults can be
injected: a status before the request runs, or after it ran (a lost response,
which the client then retries). Run it in a thread (``serve()``) or as
``python -m tests.gcs.server`` (prints its URL).
"""

from __future__ import annotations

import base64
import hashlib
import json
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import google_crc32c

from tests.gcs.routes import Api, ApiError


@dataclass
class Object:
    """One live object version."""

    name: str
    data: bytes
    generation: int
    metageneration: int = 1
    content_type: str = "application/octet-stream"
    metadata: dict[str, str] = field(default_factory=dict)
    temporary_hold: bool = False

    def resource(self, bucket: str) -> dict[str, Any]:
        md5 = base64.b64encode(hashlib.md5(self.data).digest()).decode()  # noqa: S324  # GCS's own checksum
        crc = base64.b64encode(google_crc32c.value(self.data).to_bytes(4, "big")).decode()
        body: dict[str, Any] = {
            "kind": "storage#object",
            "id": f"{bucket}/{self.name}/{self.generation}",
            "name": self.name,
            "bucket": bucket,
            "generation": str(self.generation),
            "metageneration": str(self.metageneration),
            "contentType": self.content_type,
            "size": str(len(self.data)),
            "md5Hash": md5,
            "crc32c": crc,
            "etag": f"{self.generation}-{self.metageneration}",
            "storageClass": "STANDARD",
            "timeCreated": "2025-01-01T00:00:00.000Z",
            "updated": "2025-01-01T00:00:00.000Z",
        }
        if self.metadata:
            body["metadata"] = dict(self.metadata)
        if self.temporary_hold:
            body["temporaryHold"] = True
        return body


@dataclass
class Fault:
    """Answer ``status`` to the next ``count`` requests whose method and path match.

    ``after``: run the request first, then answer ``status`` (the response is
    lost, as when a connection drops after the server committed).
    """

    method: str
    path_part: str
    status: int
    count: int = 1
    after: bool = False


@dataclass
class State:
    """Every bucket's objects, the generation clock and the faults to inject."""

    buckets: dict[str, dict[str, Object]] = field(default_factory=dict)
    hns: set[str] = field(default_factory=set)
    moves: bool = True  # False: answer objects.move as a server without it (404, no such route)
    faults: list[Fault] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    clock: int = 1_700_000_000_000_000
    requests: dict[str, int] = field(default_factory=dict)  # "METHOD kind" -> count
    listed: int = 0  # objects and prefixes answered by listings, all told
    latency: float = 0.0  # seconds each answer waits (outside the lock), as a remote service's round trip

    def tick(self) -> int:
        self.clock += 1
        return self.clock

    def fault(self, method: str, path: str) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.method == method and fault.path_part in path and fault.count > 0:
                    fault.count -= 1
                    return fault
        return None


class Handler(BaseHTTPRequestHandler):
    """Parses HTTP, hands the request to ``Api``, writes the JSON (or media) answer."""

    server: GcsServer
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms delayed-ACK stall

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002  # the base class's name
        """Quiet: tests read state, not logs."""

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    def do_PATCH(self) -> None:
        self._handle("PATCH")

    def _handle(self, method: str) -> None:
        parts = urlsplit(self.path)
        query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
        segments = [unquote(segment) for segment in parts.path.split("/")[1:]]
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        state = self.server.state
        if state.latency:
            time.sleep(state.latency)
        fault = state.fault(method, parts.path)
        if fault is not None and not fault.after:
            self._json(fault.status, _error(fault.status, "injected fault"))
            return
        try:
            with state.lock:
                status, answer, headers = Api(state).route(method, segments, query, body, self.headers)
        except ApiError as error:
            status, answer, headers = error.status, _error(error.status, error.message, error.reason), {}
        if fault is not None:
            status, answer, headers = fault.status, _error(fault.status, "injected fault"), {}
        if isinstance(answer, bytes):
            self._send(status, answer, "application/octet-stream", headers)
        else:
            self._json(status, answer)

    def _json(self, status: int, answer: object) -> None:
        self._send(status, json.dumps(answer).encode(), "application/json; charset=UTF-8", {})

    def _send(self, status: int, payload: bytes, kind: str, headers: dict[str, str]) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(payload)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)


def _error(status: int, message: str, reason: str = "") -> dict[str, Any]:
    reasons = {403: "forbidden", 404: "notFound", 412: "conditionNotMet", 429: "rateLimitExceeded"}
    reason = reason or reasons.get(status, "")
    return {"error": {"code": status, "message": message, "errors": [{"reason": reason, "message": message}]}}


class GcsServer(ThreadingHTTPServer):
    """The HTTP server with its state; ``url`` is what clients pass as ``api_endpoint``."""

    daemon_threads = True

    def __init__(self, port: int = 0) -> None:
        super().__init__(("127.0.0.1", port), Handler)
        self.state = State()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def create_bucket(self, name: str, *, hns: bool = False) -> None:
        with self.state.lock:
            self.state.buckets.setdefault(name, {})
            if hns:
                self.state.hns.add(name)

    def objects(self, bucket: str) -> dict[str, Object]:
        """A snapshot of a bucket's live objects by name (the tests' backdoor)."""
        with self.state.lock:
            return dict(self.state.buckets[bucket])


@contextmanager
def serve() -> Iterator[GcsServer]:
    """A server on a free port of 127.0.0.1, answering from a thread for the block."""
    server = GcsServer()
    thread = threading.Thread(target=server.serve_forever, name="gcs-test-server", daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def main() -> None:
    """Serve until killed; the first line of standard output is the URL.

    ``python -m tests.gcs.server [--latency SECONDS] BUCKET...``
    """
    args = sys.argv[1:]
    server = GcsServer()
    if args[:1] == ["--latency"]:
        server.state.latency = float(args[1])
        args = args[2:]
    for name in args:
        server.create_bucket(name)
    print(server.url, flush=True)  # noqa: T201  # the parent process reads it
    server.serve_forever()


if __name__ == "__main__":
    main()
