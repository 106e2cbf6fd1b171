"""Routes for reading: the audit (``/v1/audit``, ``/v1/history``) and the store.

The store: ``/v1/tree`` (a folder, paged), ``/v1/files/{path}`` (a file,
streamed, with ranges and ETags), ``/v1/manifest`` and ``/v1/snapshot``
(manifests, streamed). Scope and audit are ``ReadService``'s; ranges and
validators ``sidecar.edge.ranges``; bytes served are counted in /metrics.
"""

from __future__ import annotations

import contextlib
import json
import logging
import weakref
from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import APIRouter, Header, Path, Query, Request, Response
from fastapi.responses import StreamingResponse

from planner.core.errors import PvaError
from sidecar.api.models import ErrorBody, EventList, HistoryOut, TreeOut, event_out, history_out, tree_out
from sidecar.api.plans import NAME
from sidecar.backends.base import FileStream
from sidecar.edge.auth import Caller
from sidecar.edge.metrics import Metrics
from sidecar.edge.params import Storable, UtcTime
from sidecar.edge.problems import problem
from sidecar.edge.ranges import Unsatisfiable, byte_range, etag, not_modified
from sidecar.edge.state import AppState, app_state
from sidecar.errors import StoreFault
from sidecar.tokens import Principal

log = logging.getLogger("pva.api")
BATCH = 256 * 1024  # characters of manifest lines sent at once (a thread hop a batch)
INLINE_BYTES = 256 * 1024  # answers up to this size are read whole, not streamed a chunk at a time
router = APIRouter(prefix="/v1", tags=["audit"])
ERRORS: dict[int | str, dict[str, object]] = {
    status: {"model": ErrorBody} for status in (401, 403, 404, 422, 429)
}
StorePath = Annotated[Storable, Query(min_length=1, max_length=4096, description="A store path")]
Folder = Annotated[Storable, Query(max_length=4096, description="A folder; '' for the whole store")]


@router.get(
    "/audit",
    operation_id="listAuditEvents",
    response_model=EventList,
    responses=ERRORS,
    summary="Audit events",
)
def list_audit_events(
    request: Request,
    who: Caller,
    *,
    path: Annotated[Storable | None, Query(max_length=4096, description="Applies that touched it")] = None,
    plan: Annotated[str | None, Query(pattern="^[0-9a-f]{8,64}$")] = None,
    actor: Annotated[str | None, Query(max_length=200, pattern=NAME)] = None,
    since: Annotated[UtcTime | None, Query(description="From this time (UTC if no zone)")] = None,
    until: Annotated[UtcTime | None, Query(description="Before this time (UTC if no zone)")] = None,
    after: Annotated[int, Query(ge=0, le=2**62, description="Events after this seq (paging)")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> EventList:
    events = app_state(request).services.reads.events(
        who, path=path, plan=plan, actor=actor, since=since, until=until, after=after, limit=limit
    )
    return EventList(
        events=[event_out(event) for event in events],
        next_after=events[-1].seq if len(events) == limit else None,
    )


@router.get(
    "/history",
    operation_id="getHistory",
    response_model=HistoryOut,
    responses=ERRORS,
    summary="A document's chain of custody, following moves",
)
def get_history(request: Request, who: Caller, path: StorePath) -> HistoryOut:
    return history_out(app_state(request).services.reads.history(who, path))


@router.get(
    "/snapshot",
    operation_id="getSnapshot",
    responses={
        200: {"content": {"application/x-ndjson": {}}, "description": "A manifest/v1 (JSON lines)"},
        **ERRORS,
    },
    response_class=StreamingResponse,
    summary="A manifest of the live store below a prefix, for planners",
)
def get_snapshot(
    request: Request,
    who: Caller,
    prefix: Annotated[str, Query(max_length=4096, description="'' for the whole store")] = "",
) -> StreamingResponse:
    state = app_state(request)
    return _manifest_response(state, who, lambda: state.services.reads.snapshot(who, prefix), hashed=True)


@router.get(
    "/tree",
    operation_id="listTree",
    response_model=TreeOut,
    responses=ERRORS,
    summary="A folder's entries, some levels deep, paged",
)
def list_tree(
    request: Request,
    who: Caller,
    *,
    path: Folder = "",
    depth: Annotated[int, Query(ge=1, le=64, description="Levels below the folder")] = 1,
    after: Annotated[Storable | None, Query(max_length=4096, description="Entries after this path")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 500,
) -> TreeOut:
    state = app_state(request)
    page = state.services.reads.tree(who, path, depth=depth, after=after, limit=limit)
    state.metrics.reads.labels("tree").inc()
    return tree_out(page)


@router.get(
    "/manifest",
    operation_id="getManifest",
    responses={
        200: {"content": {"application/x-ndjson": {}}, "description": "A manifest/v1 (JSON lines)"},
        **ERRORS,
    },
    response_class=StreamingResponse,
    summary="A manifest of a folder, as 'pva snapshot' writes it; hashes only where known unless asked",
)
def get_manifest(
    request: Request,
    who: Caller,
    *,
    path: Folder = "",
    hashed: Annotated[bool, Query(alias="hash", description="Hash every file (reads every byte)")] = False,
) -> StreamingResponse:
    state = app_state(request)
    response = _manifest_response(
        state, who, lambda: state.services.reads.manifest(who, path, hashed=hashed), hashed=hashed
    )
    state.metrics.reads.labels("manifest").inc()
    return response


@router.get(
    "/files/{path:path}",
    operation_id="readFile",
    responses={
        200: {"content": {"application/octet-stream": {}}, "description": "The file's bytes"},
        206: {"description": "The range asked for"},
        304: {"description": "The ETag given in If-None-Match is the file's"},
        416: {"model": ErrorBody, "description": "The range lies past the end"},
        **ERRORS,
    },
    response_class=StreamingResponse,
    summary="A file of the store, streamed (Range, ETag, If-None-Match)",
)
def read_file(
    request: Request,
    who: Caller,
    path: Annotated[Storable, Path(max_length=4096, description="A file's store path")],
    range_: Annotated[str | None, Header(alias="Range", max_length=200)] = None,
    if_none_match: Annotated[str | None, Header(max_length=8192)] = None,
) -> Response:
    state = app_state(request)
    stream = state.services.reads.open_file(who, path)
    try:
        return _file_response(
            state.metrics,
            stream,
            range_,
            if_none_match,
            lambda size, part: state.services.reads.served(who, stream.entry, size, part),
        )
    except BaseException:
        stream.close()
        raise


def _file_response(
    metrics: Metrics,
    stream: FileStream,
    range_: str | None,
    if_none_match: str | None,
    served: Callable[[int, tuple[int, int] | None], None],
) -> Response:
    """200, 206, 304 or 416 for an open file; a streamed answer closes the file when it ends."""
    entry, tag = stream.entry, etag(stream.entry)
    size = entry.size or 0
    headers = {"ETag": tag, "Accept-Ranges": "bytes"}
    if not_modified(if_none_match, tag):
        stream.close()
        return Response(status_code=304, headers=headers)
    try:
        part = byte_range(range_, size)
    except Unsatisfiable:
        stream.close()
        response = problem(
            416, "range_not_satisfiable", f"the file has {size} bytes; the range lies past its end"
        )
        response.headers["Content-Range"] = f"bytes */{size}"
        return response
    start, stop = part if part is not None else (0, size)
    served(stop - start, part)
    metrics.reads.labels("file").inc()
    headers["Content-Length"] = str(stop - start)
    status = 206 if part is not None else 200
    if part is not None:
        headers["Content-Range"] = f"bytes {start}-{stop - 1}/{size}"
    if stop - start <= INLINE_BYTES:  # read here, in the request's thread: no hop per chunk
        with contextlib.closing(stream):
            body = b"".join(stream.chunks(start, stop))
        if len(body) != stop - start:
            raise StoreFault(entry.path, f"{entry.path!r} changed while it was read: ask again")
        metrics.read_bytes.inc(len(body))
        return Response(body, status_code=status, media_type="application/octet-stream", headers=headers)
    chunks = _counted(metrics, stream, start, stop)
    weakref.finalize(chunks, stream.close)  # a body never started (the client left) runs no finally
    return StreamingResponse(
        chunks, status_code=status, media_type="application/octet-stream", headers=headers
    )


def _counted(metrics: Metrics, stream: FileStream, start: int, stop: int) -> Iterator[bytes]:
    try:
        for chunk in stream.chunks(start, stop):
            metrics.read_bytes.inc(len(chunk))
            yield chunk
    finally:
        stream.close()


def _manifest_response(
    state: AppState, who: Principal, make: Callable[[], Iterator[str]], *, hashed: bool
) -> StreamingResponse:
    """A streamed manifest; a hashed one only while ``state.hashing`` admits one more (else 429)."""
    release = state.hashing.admit(who.token_id) if hashed else _nothing
    try:
        lines = make()
        first = next(lines)  # errors (scope, path) surface here, before the response starts
    except BaseException:
        release()
        raise
    body = _chain(first, lines, release)
    weakref.finalize(body, release)  # a body never started runs no finally: its collection counts it out
    return StreamingResponse(body, media_type="application/x-ndjson")


def _nothing() -> None:
    return None


def _chain(first: str, rest: Iterator[str], ended: Callable[[], None] = _nothing) -> Iterator[str]:
    """The lines of a streamed manifest; an error met after the first ends it with an error line.

    The status (200) is sent by then: the last line, ``{"error": ...}``, is
    no manifest line, so a reader of the manifest fails rather than taking
    a cut-off listing for a whole one.
    """
    batch, size = [first], len(first)
    try:
        for line in rest:  # sent in batches: one line per send costs a thread hop each
            batch.append(line)
            size += len(line)
            if size >= BATCH:
                yield "".join(batch)
                batch, size = [], 0
        yield "".join(batch)
    except PvaError as error:
        yield "".join(batch)
        log.warning("a manifest stopped: %s", error)
        yield json.dumps({"error": {"code": "stopped", "message": str(error)}}) + "\n"
    finally:  # sent, failed, or the client went away (the generator is closed)
        ended()
