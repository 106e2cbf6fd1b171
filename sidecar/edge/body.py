"""Request bodies: a size limit enforced while the body streams in, and strict, bounded JSON.

``BodyLimit`` is ASGI middleware: a declared ``Content-Length`` over the limit
is refused before a byte is read, and a body that grows past it while
streaming (chunked) is cut off; either way the answer is 413 and the route
never runs. ``read_json`` then decodes strictly (``planner.core.parse``: no
duplicate keys, NaN, lone surrogates or invalid UTF-8) and refuses documents
nested too deep, with too long an array or too long a string.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from planner.core.errors import PlanSyntaxError, SchemaProblem
from planner.core.parse import load_strict_json


class BodyTooLarge(Exception):
    """The request body is over the limit."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        super().__init__(f"the request body is over the limit of {limit} bytes")


@dataclass(frozen=True)
class JsonLimits:
    """How big a JSON document an agent may send."""

    depth: int
    array_length: int
    string_length: int


class BodyLimit:
    """Refuse request bodies over ``limit`` bytes with 413, counting as they stream in."""

    def __init__(self, app: ASGIApp, *, limit: int, uploads: Mapping[str, int] | None = None) -> None:
        self.app = app
        self.default = limit
        self.uploads = dict(uploads or {})  # path -> its own limit (blob uploads stream to disk)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.uploads.get(scope.get("path", ""), self.default)
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _too_large(send, limit)
            return
        seen = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge(limit)
            return message

        async def watching_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, watching_send)
        except BodyTooLarge:
            if started:
                raise
            await _too_large(send, limit)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _too_large(send: Send, limit: int) -> None:
    body = json.dumps(
        {"error": {"code": "too_large", "message": f"the request body is over {limit} bytes", "problems": []}}
    ).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 413, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def read_json(raw: bytes, limits: JsonLimits, *, what: str = "request body") -> Any:
    """Decode ``raw`` (a plan, or ``what`` else) strictly and within ``limits``, or raise PlanSyntaxError."""
    if not raw.strip():
        empty = SchemaProblem("", "the request body is empty; send a JSON document")
        raise PlanSyntaxError([empty], what=what)
    try:
        document = load_strict_json(raw)
    except PlanSyntaxError as error:
        raise PlanSyntaxError(error.problems, what=what) from None
    for location, problem in _oversized(document, limits):
        raise PlanSyntaxError([SchemaProblem(location, problem)], what=what)
    return document


def _oversized(document: Any, limits: JsonLimits) -> Iterator[tuple[str, str]]:
    """The first place where ``document`` breaks ``limits`` (iterative: depth cannot overflow the stack)."""
    stack: list[tuple[Any, str, int]] = [(document, "", 1)]
    while stack:
        node, location, depth = stack.pop()
        if isinstance(node, (dict, list)) and depth > limits.depth:
            yield location, f"nested deeper than {limits.depth} levels"
            return
        if isinstance(node, dict):
            for key, value in node.items():
                if len(key) > limits.string_length:
                    yield location, f"a key is longer than {limits.string_length} characters"
                    return
                stack.append((value, f"{location}/{_escape(key)}", depth + 1))
        elif isinstance(node, list):
            if len(node) > limits.array_length:
                yield location, f"an array of {len(node)} items; at most {limits.array_length}"
                return
            stack.extend((value, f"{location}/{index}", depth + 1) for index, value in enumerate(node))
        elif isinstance(node, str) and len(node) > limits.string_length:
            yield location, f"a string of {len(node)} characters; at most {limits.string_length}"
            return


def _escape(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")
