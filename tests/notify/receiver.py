"""A webhook receiver for tests: a real HTTP server on 127.0.0.1 that checks each delivery's signature.

It answers 500 to the first ``fail_first`` requests (to force retries), then
202 to each delivery whose signature checks out against ``secret``, and 401
to one whose does not. The check is written here from the documented rule
(HMAC-SHA256 of ``timestamp.body``), not with pva's code.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    """One request the receiver answered."""

    delivery: str
    event: str
    body: bytes
    signed: bool
    status: int

    @property
    def document(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """The receiver's state: its secret, how many requests to fail, and every request answered."""

    secret: str = ""
    fail_first: int = 0
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    url: str = ""

    def accepted(self) -> list[Received]:
        with self.lock:
            return [r for r in self.received if r.status == 202]

    def answer(self, headers: Any, body: bytes) -> int:
        timestamp = headers.get("X-Pva-Timestamp", "")
        expected = (
            "v1="
            + hmac.new(self.secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
        )
        signed = bool(self.secret) and hmac.compare_digest(expected, headers.get("X-Pva-Signature", ""))
        with self.lock:
            failing = len(self.received) < self.fail_first
            status = 500 if failing else 202 if signed else 401
            event = headers.get("X-Pva-Event", "")
            self.received.append(Received(headers.get("X-Pva-Delivery", ""), event, body, signed, status))
        return status


def serve(receiver: Receiver) -> tuple[ThreadingHTTPServer, threading.Thread]:
    """Start ``receiver`` on a free port of 127.0.0.1 (setting its ``url``); stop: ``server.shutdown()``."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            status = receiver.answer(self.headers, body)
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server, thread
