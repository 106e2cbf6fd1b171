"""The faithful server's routes: one method per JSON API call, preconditions as Google documents them.

Called under the state's lock, so each request is atomic. Preconditions
(https://cloud.google.com/storage/docs/request-preconditions): ``ifGenerationMatch``
passes when the live object has that generation, or for 0 when there is no
live object; ``ifGenerationNotMatch`` and the metageneration pair fail when
there is no live object; ``ifSource*`` apply the same rules to the source of a
copy, rewrite or move. A failure is 412 ``conditionNotMet`` (304 on a GET
whose "not match" condition fails); a missing source or object is 404.
Temporary holds (https://cloud.google.com/storage/docs/object-holds): a held
object "cannot be deleted or replaced"; trying is 403 ``forbidden``, after
the preconditions pass (``unheld``).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

import google_crc32c

if TYPE_CHECKING:
    from email.message import Message

    from tests.gcs.server import Object, State

Answer = tuple[int, "dict[str, Any] | bytes", dict[str, str]]
PAGE = 1000


class ApiError(Exception):
    """An error answer: HTTP status, message, GCS reason."""

    def __init__(self, status: int, message: str, reason: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.reason = reason


def _int(query: dict[str, str], key: str) -> int | None:
    value = query.get(key)
    return None if value is None else int(value)


def check(obj: Object | None, query: dict[str, str], prefix: str = "if") -> None:
    """Raise 412 (304 for a GET's "not match") unless ``obj`` meets the ``prefix`` preconditions."""
    match, not_match = _int(query, f"{prefix}GenerationMatch"), _int(query, f"{prefix}GenerationNotMatch")
    meta, not_meta = (
        _int(query, f"{prefix}MetagenerationMatch"),
        _int(query, f"{prefix}MetagenerationNotMatch"),
    )
    if match is not None and not_match is not None:
        raise ApiError(
            400, f"{prefix}GenerationMatch and {prefix}GenerationNotMatch are exclusive", "invalid"
        )
    failed = "conditionNotMet"
    if match is not None and (obj.generation if obj is not None else 0) != match:
        raise ApiError(412, f"{prefix}GenerationMatch={match} failed", failed)
    if meta is not None and (obj is None or obj.metageneration != meta):
        raise ApiError(412, f"{prefix}MetagenerationMatch={meta} failed", failed)
    if not_match is not None and (obj is None or obj.generation == not_match):
        raise ApiError(412, f"{prefix}GenerationNotMatch={not_match} failed", failed)
    if not_meta is not None and (obj is None or obj.metageneration == not_meta):
        raise ApiError(412, f"{prefix}MetagenerationNotMatch={not_meta} failed", failed)


class Api:
    """The routes over one ``State``."""

    def __init__(self, state: State) -> None:
        self.state = state

    def route(  # noqa: PLR0911  # one return per route
        self, method: str, path: list[str], query: dict[str, str], body: bytes, headers: Message
    ) -> Answer:
        match method, path:
            case "GET", ["storage", "v1", "b", bucket]:
                return self.bucket(bucket)
            case "GET", ["storage", "v1", "b", bucket, "o"]:
                return self.list(bucket, query)
            case "POST", ["upload", "storage", "v1", "b", bucket, "o"]:
                return self.insert(bucket, query, body, headers.get("Content-Type", ""))
            case "GET", ["storage" | "download", *_, "b", bucket, "o", name]:
                return self.get(bucket, name, query, headers.get("Range"))
            case "DELETE", ["storage", "v1", "b", bucket, "o", name]:
                return self.delete(bucket, name, query)
            case "PATCH", ["storage", "v1", "b", bucket, "o", name]:
                return self.patch(bucket, name, query, body)
            case "POST", [
                "storage",
                "v1",
                "b",
                bucket,
                "o",
                src,
                "copyTo" | "rewriteTo" as how,
                "b",
                dbucket,
                "o",
                dst,
            ]:
                return self.copy(bucket, src, dbucket, dst, query, rewrite=how == "rewriteTo", body=body)
            case "POST", ["storage", "v1", "b", bucket, "o", src, "moveTo", "o", dst] if self.state.moves:
                return self.move(bucket, src, dst, query)
        self.count(f"{method} unrouted")
        raise ApiError(404, f"no route for {method} /{'/'.join(path)}", "notFound")

    def count(self, what: str) -> None:
        self.state.requests[what] = self.state.requests.get(what, 0) + 1

    def objects(self, bucket: str) -> dict[str, Object]:
        found = self.state.buckets.get(bucket)
        if found is None:
            raise ApiError(404, f"the bucket {bucket} does not exist", "notFound")
        return found

    def live(self, bucket: str, name: str, query: dict[str, str]) -> Object:
        obj = self.objects(bucket).get(name)
        generation = _int(query, "generation")
        if obj is None or (generation is not None and generation != obj.generation):
            raise ApiError(404, f"No such object: {bucket}/{name}", "notFound")
        return obj

    def bucket(self, bucket: str) -> Answer:
        self.objects(bucket)
        hns = bucket in self.state.hns
        return (
            200,
            {
                "kind": "storage#bucket",
                "name": bucket,
                "id": bucket,
                "hierarchicalNamespace": {"enabled": hns},
            },
            {},
        )

    def get(self, bucket: str, name: str, query: dict[str, str], byte_range: str | None = None) -> Answer:
        self.count("GET object")
        obj = self.live(bucket, name, query)
        try:
            check(obj, query)
        except ApiError as error:
            if "NotMatch" in error.message:
                raise ApiError(304, "not modified") from None
            raise
        if query.get("alt") == "media":
            resource = obj.resource(bucket)
            hashes = f"crc32c={resource['crc32c']},md5={resource['md5Hash']}"
            headers = {"X-Goog-Hash": hashes, "X-Goog-Generation": str(obj.generation)}
            ranged = re.fullmatch(r"bytes=(\d+)-(\d*)", byte_range or "")
            if ranged is None:
                return 200, obj.data, headers
            start, end = int(ranged[1]), int(ranged[2] or len(obj.data) - 1)  # one range, as the client sends
            end = min(end, len(obj.data) - 1)
            headers["Content-Range"] = f"bytes {start}-{end}/{len(obj.data)}"
            return 206, obj.data[start : end + 1], headers
        return 200, obj.resource(bucket), {}

    def delete(self, bucket: str, name: str, query: dict[str, str]) -> Answer:
        self.count("DELETE object")
        obj = self.live(bucket, name, query)
        check(obj, query)
        unheld(bucket, obj)
        del self.objects(bucket)[name]
        return 204, b"", {}

    def patch(self, bucket: str, name: str, query: dict[str, str], body: bytes) -> Answer:
        """objects.patch of ``temporaryHold`` and ``metadata``: a new metageneration, the same generation."""
        self.count("PATCH object")
        obj = self.live(bucket, name, query)
        check(obj, query)
        given = json.loads(body) if body.strip() else {}
        unknown = set(given) - {"temporaryHold", "metadata"}
        if unknown:
            raise ApiError(
                400, f"this server patches temporaryHold and metadata, not {sorted(unknown)}", "invalid"
            )
        if "temporaryHold" in given:
            obj.temporary_hold = bool(given["temporaryHold"])
        if "metadata" in given:
            obj.metadata = {
                k: v for k, v in (obj.metadata | (given["metadata"] or {})).items() if v is not None
            }
        obj.metageneration += 1
        return 200, obj.resource(bucket), {}

    def insert(self, bucket: str, query: dict[str, str], body: bytes, kind: str) -> Answer:
        self.count("POST insert")
        objects = self.objects(bucket)
        if query.get("uploadType") == "multipart":
            meta, data = _multipart(body, kind)
        elif query.get("uploadType") == "media":
            meta, data = {"name": query.get("name", "")}, body
        else:
            raise ApiError(400, f"uploadType {query.get('uploadType')!r} is not supported here", "invalid")
        name = meta.get("name") or query.get("name") or ""
        if not name:
            raise ApiError(400, "an object needs a name", "required")
        _check_hashes(meta, data)
        check(objects.get(name), query)
        unheld(bucket, objects.get(name))
        obj = _new(name, data, self.state.tick(), meta.get("contentType"), meta.get("metadata") or {})
        objects[name] = obj
        return 200, obj.resource(bucket), {}

    def copy(
        self,
        bucket: str,
        src: str,
        dbucket: str,
        dst: str,
        query: dict[str, str],
        *,
        rewrite: bool,
        body: bytes,
    ) -> Answer:
        self.count("POST rewrite" if rewrite else "POST copy")
        source = self.live(
            bucket,
            src,
            {"generation": query.get("sourceGeneration", "")} if "sourceGeneration" in query else {},
        )
        check(source, query, "ifSource")
        targets = self.objects(dbucket)
        check(targets.get(dst), query)
        unheld(dbucket, targets.get(dst))
        given = json.loads(body) if body.strip() else {}
        metadata = given.get("metadata", source.metadata)
        obj = _new(
            dst, source.data, self.state.tick(), given.get("contentType", source.content_type), metadata
        )
        targets[dst] = obj
        if rewrite:
            size = str(len(obj.data))
            return (
                200,
                {
                    "kind": "storage#rewriteResponse",
                    "totalBytesRewritten": size,
                    "objectSize": size,
                    "done": True,
                    "resource": obj.resource(dbucket),
                },
                {},
            )
        return 200, obj.resource(dbucket), {}

    def move(self, bucket: str, src: str, dst: str, query: dict[str, str]) -> Answer:
        """objects.move: atomic within the bucket; the destination is a new generation, metageneration 1."""
        self.count("POST move")
        objects = self.objects(bucket)
        source = self.live(bucket, src, {})
        if src == dst:
            raise ApiError(400, "the source and destination names must differ", "invalid")
        check(source, query, "ifSource")
        check(objects.get(dst), query)
        unheld(bucket, source)  # a move deletes its source
        unheld(bucket, objects.get(dst))
        obj = _new(dst, source.data, self.state.tick(), source.content_type, source.metadata)
        del objects[src]
        objects[dst] = obj
        return 200, obj.resource(bucket), {}

    def list(self, bucket: str, query: dict[str, str]) -> Answer:
        self.count("GET list")
        objects = self.objects(bucket)
        prefix, delimiter = query.get("prefix", ""), query.get("delimiter", "")
        trailing = query.get("includeTrailingDelimiter", "").lower() == "true"
        limit = min(int(query.get("maxResults", PAGE)), PAGE)
        after = base64.urlsafe_b64decode(query["pageToken"]).decode() if "pageToken" in query else ""
        start = query.get("startOffset", "")  # names from it on (inclusive)
        items: list[dict[str, Any]] = []
        prefixes: list[str] = []
        more = None
        last = after
        for name in sorted(n for n in objects if n.startswith(prefix) and n > after and n >= start):
            rolled = _rolled(name, prefix, delimiter)
            if rolled is not None and prefixes and prefixes[-1] == rolled:
                if trailing and name == rolled:
                    items.append(objects[name].resource(bucket))
                continue
            if len(items) + len(prefixes) >= limit:
                more = base64.urlsafe_b64encode(last.encode()).decode()
                break
            if rolled is None:
                items.append(objects[name].resource(bucket))
                last = name
            else:
                prefixes.append(rolled)
                if trailing and name == rolled:
                    items.append(objects[name].resource(bucket))
                last = rolled + "\U0010ffff"  # resume past everything below this prefix
        self.state.listed += len(items) + len(prefixes)
        answer: dict[str, Any] = {"kind": "storage#objects", "items": items, "prefixes": prefixes}
        if more is not None:
            answer["nextPageToken"] = more
        return 200, answer, {}


def unheld(bucket: str, obj: Object | None) -> None:
    """403, as GCS answers, when ``obj`` is under a temporary hold (it may not be deleted or replaced)."""
    if obj is not None and obj.temporary_hold:
        raise ApiError(
            403,
            f"Object '{bucket}/{obj.name}' is under active Temporary hold and cannot be deleted, "
            "overwritten or archived until hold is removed.",
            "forbidden",
        )


def _rolled(name: str, prefix: str, delimiter: str) -> str | None:
    """The prefix a delimited listing rolls ``name`` into, or None when it is listed itself."""
    if not delimiter:
        return None
    at = name.find(delimiter, len(prefix))
    return None if at < 0 else name[: at + len(delimiter)]


def _new(
    name: str, data: bytes, generation: int, content_type: str | None, metadata: dict[str, str]
) -> Object:
    from tests.gcs.server import Object  # the dataclass lives with the server

    return Object(name, data, generation, 1, content_type or "application/octet-stream", dict(metadata))


def _multipart(body: bytes, kind: str) -> tuple[dict[str, Any], bytes]:
    """The JSON metadata part and the media part of a multipart/related upload."""
    marker = "boundary="
    if marker not in kind:
        raise ApiError(400, "a multipart upload needs a boundary", "invalid")
    boundary = unquote(kind.split(marker, 1)[1].split(";", maxsplit=1)[0].strip().strip('"')).encode()
    parts = [part for part in body.split(b"--" + boundary) if part.strip() not in (b"", b"--")]
    if len(parts) != 2:
        raise ApiError(400, "a multipart upload has two parts", "invalid")
    bodies = [part.split(b"\r\n\r\n", 1)[1].removesuffix(b"\r\n") for part in parts]
    return json.loads(bodies[0]), bodies[1]


def _check_hashes(meta: dict[str, Any], data: bytes) -> None:
    """The client's checksums of an upload must match its bytes (400 otherwise, as GCS answers)."""
    crc = meta.get("crc32c")
    if crc is not None and base64.b64decode(crc) != google_crc32c.value(data).to_bytes(4, "big"):
        raise ApiError(400, "the crc32c of the upload does not match its bytes", "invalid")
    md5 = meta.get("md5Hash")
    if md5 is not None and base64.b64decode(md5) != hashlib.md5(data).digest():  # noqa: S324  # GCS's checksum
        raise ApiError(400, "the md5 of the upload does not match its bytes", "invalid")
