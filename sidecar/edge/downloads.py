"""Content an agent wrote, sent as a download: saved by a browser, never shown or run by it.

The bytes of a plan's write are the agent's: served from the sidecar's own
origin, HTML or SVG among them could run script with an approver's
session. So they go as ``application/octet-stream``, an attachment, with
``nosniff`` and a sandboxing Content-Security-Policy, and are not cached.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterator
from urllib.parse import quote

from fastapi.responses import StreamingResponse

from sidecar.backends.base import FileStream
from sidecar.edge.ranges import etag

HEADERS = {
    "Content-Security-Policy": "sandbox; default-src 'none'",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}


def download(stream: FileStream, served: Callable[[], None]) -> StreamingResponse:
    """The whole of ``stream`` as an attachment named after its path's last segment; closed at the end.

    ``served`` runs first (the read's audit event, durable before the first
    byte is sent, as for ``GET /v1/files``); if it fails, nothing is sent.
    """
    entry = stream.entry
    size = entry.size or 0
    try:
        served()
    except BaseException:
        stream.close()
        raise
    headers = {
        **HEADERS,
        "Content-Length": str(size),
        "ETag": etag(entry),
        "Content-Disposition": disposition(entry.path.rpartition("/")[2]),
    }
    body = _sent(stream, size)
    weakref.finalize(body, stream.close)  # a body never started runs no finally: its collection closes
    return StreamingResponse(body, media_type="application/octet-stream", headers=headers)


def disposition(name: str) -> str:
    """``attachment`` with the file's name (RFC 6266): plain ASCII for old clients, UTF-8 for the rest."""
    plain = "".join(c if " " <= c <= "~" and c not in '"\\' else "_" for c in name) or "content"
    return f"attachment; filename=\"{plain}\"; filename*=UTF-8''{quote(name, safe='')}"


def _sent(stream: FileStream, size: int) -> Iterator[bytes]:
    try:
        yield from stream.chunks(0, size)
    finally:  # sent, failed, or the client went away (the generator is closed)
        stream.close()
