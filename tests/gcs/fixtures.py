"""Test plumbing for the GCS backend: a shared faithful server, fresh buckets, a backdoor on their objects.

The backdoor reads and seeds the server's state directly (no client, no pva
code), so tests check what the bucket really holds.
"""

from __future__ import annotations

import hashlib
import threading
import uuid
from pathlib import Path

from google.api_core.retry import Retry
from google.auth.credentials import AnonymousCredentials
from google.cloud import storage  # type: ignore[attr-defined,import-untyped,unused-ignore]  # no stubs
from google.cloud.storage.retry import _should_retry  # type: ignore[import-untyped]

from planner.core.paths import fold
from sidecar.backends.base import RESERVED
from sidecar.backends.gcs.backend import GcsBackend
from sidecar.backends.gcs.location import GcsLocation, open_backend
from tests.gcs.server import GcsServer, Object

State = dict[str, str]  # path -> "dir", or the sha256 of the file

# Fast backoff: the same policy as the library's (429, 503, transport errors), in milliseconds.
FAST_RETRY = Retry(predicate=_should_retry, initial=0.01, maximum=0.05, multiplier=2.0, timeout=20.0)

_server: GcsServer | None = None
_lock = threading.Lock()


def shared_server() -> GcsServer:
    """One faithful server for the whole test session, answering from a daemon thread."""
    global _server  # noqa: PLW0603  # one server per session, started on first use
    with _lock:
        if _server is None:
            _server = GcsServer()
            threading.Thread(target=_server.serve_forever, name="gcs-test-server", daemon=True).start()
        return _server


def client_for(url: str) -> storage.Client:
    return storage.Client(
        project="pva-test",
        credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]  # google-auth leaves it untyped
        client_options={"api_endpoint": url},
    )


def new_bucket(server: GcsServer) -> str:
    name = f"pva-{uuid.uuid4().hex[:12]}"
    server.create_bucket(name)
    return name


def open_gcs(
    server: GcsServer,
    bucket: str,
    state: Path,
    *,
    prefix: str = "store",
    implicit: bool = False,
    workers: int = 8,
) -> GcsBackend:
    location = GcsLocation(bucket, f"{prefix}/" if prefix else "", implicit, workers)
    return open_backend(location, state, client=client_for(server.url), retry=FAST_RETRY)


def put(
    server: GcsServer, bucket: str, name: str, data: bytes, metadata: dict[str, str] | None = None
) -> None:
    """Create an object behind the client's back (as another tool writing the bucket would)."""
    with server.state.lock:
        server.state.buckets[bucket][name] = Object(name, data, server.state.tick(), metadata=metadata or {})


def seed(server: GcsServer, bucket: str, prefix: str, content: dict[str, bytes | None]) -> None:
    """Write a store: a placeholder for each folder (None), an object for each file (no pva metadata)."""
    base = f"{prefix}/" if prefix else ""
    for path, data in content.items():
        put(server, bucket, f"{base}{path}/" if data is None else f"{base}{path}", data or b"")


def bucket_state(server: GcsServer, bucket: str, prefix: str, *, reserved: bool = False) -> State:
    """What the bucket holds below ``prefix`` in the explicit model: placeholders are folders."""
    base = f"{prefix}/" if prefix else ""
    state: State = {}
    for name, obj in server.objects(bucket).items():
        if not name.startswith(base) or name == base:
            continue
        path = name[len(base) :]
        if not reserved and fold(path.split("/", 1)[0]) == RESERVED:
            continue
        if path.endswith("/"):
            state[path[:-1]] = "dir"
        else:
            state[path] = hashlib.sha256(obj.data).hexdigest()
    return state


def staged(server: GcsServer, bucket: str, prefix: str) -> list[str]:
    """Entries left in the staging area (each op must leave it empty)."""
    base = f"{prefix}/{RESERVED}/staging/" if prefix else f"{RESERVED}/staging/"
    return sorted(
        {name[len(base) :] for name in server.objects(bucket) if name.startswith(base) and name != base}
    )
