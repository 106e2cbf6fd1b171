"""``pva snapshot gs://BUCKET/PREFIX``: stream a manifest of a bucket, one listing page at a time.

Each file line carries the object's generation, size, md5 and crc32c (the
server's own checksums) and its sha256 where pva stored it as metadata bound
to the current bytes; nothing is downloaded. Folders follow the folder model
(``folders.py``): in explicit mode an object under a prefix without a
placeholder is left out, as gcsfuse leaves it out. Listings come in name
order, so a folder's placeholder arrives before everything below it and
memory holds only the set of folders.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from google.cloud import storage  # type: ignore[attr-defined,import-untyped,unused-ignore]  # no stubs

from planner.core.manifest import header_line, line_of
from sidecar.backends.gcs.errors import translated
from sidecar.backends.gcs.folders import reserved
from sidecar.backends.gcs.location import GcsLocation
from sidecar.backends.gcs.objects import Obj, obj_of


def manifest(store: str, *, hashed: bool = True, client: storage.Client | None = None) -> Iterator[str]:
    """The manifest lines (header first, no newlines) of the store ``gs://BUCKET/PREFIX[?implicit-dirs=...]``."""
    location = GcsLocation.parse(store)
    yield header_line(location.url, hashed=hashed)
    with translated(location.url):
        client = client if client is not None else storage.Client()
        blobs = client.list_blobs(location.bucket, prefix=location.prefix)
        yield from _lines((obj_of(blob) for blob in blobs), location, hashed=hashed)


def _lines(objects: Iterator[Obj], location: GcsLocation, *, hashed: bool) -> Iterator[str]:
    folders: set[str] = {""}
    for obj in objects:
        path = obj.name[len(location.prefix) :]
        parts = path.rstrip("/").split("/")
        if not path or any(part in ("", ".", "..") for part in parts) or reserved(path):
            continue
        parent = "/".join(parts[:-1])
        if location.implicit:
            for depth in range(1, len(parts)):
                folder = "/".join(parts[:depth])
                if folder not in folders:
                    folders.add(folder)
                    yield line_of({"path": folder, "kind": "dir"})
        elif parent not in folders:
            continue  # below a folder gcsfuse does not show
        whole = "/".join(parts)
        if path.endswith("/"):
            if whole not in folders:
                folders.add(whole)
                yield line_of({"path": whole, "kind": "dir", "generation": obj.generation})
        elif whole not in folders:
            yield line_of(_file(whole, obj, hashed=hashed))


def _file(path: str, obj: Obj, *, hashed: bool) -> dict[str, Any]:
    body: dict[str, Any] = {"path": path, "kind": "file", "size": obj.size, "generation": obj.generation}
    if obj.md5:
        body["md5"] = obj.md5
    body["crc32c"] = obj.crc32c
    if hashed and obj.sha256 is not None:
        body["sha256"] = obj.sha256
    if obj.updated is not None:
        body["mtime"] = obj.updated
    return body
