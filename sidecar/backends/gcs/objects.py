"""One bucket's objects through ``google-cloud-storage``: every change conditional, every answer checked.

Creates carry ``if_generation_match=0`` and every change to an existing
object names the generation it expects, so the client may retry them safely
(``ConditionalRetryPolicy``: 429, 503 and transport errors, with exponential
backoff and jitter) and a stale replica can never overwrite a newer object.
A retried call can meet its own earlier success, whose answer was lost: a
412 on a create, or a 404 on a move's source. That is not a conflict when the
destination now holds exactly the source's bytes (size and crc32c) and the
source is gone; ``create``, ``copy`` and ``move`` check for it.

``move`` is ``objects.move`` (atomic) where the server offers it, else copy
then a conditional delete. Which one the bucket supports is found out on the
first move and remembered.
"""

from __future__ import annotations

import base64
import hashlib
import tempfile
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime

import google_crc32c
from google.api_core.retry import Retry
from google.cloud import storage  # type: ignore[attr-defined,import-untyped,unused-ignore]  # no stubs
from google.cloud.storage.retry import (  # type: ignore[import-untyped]
    ConditionalRetryPolicy,
    is_generation_specified,
)

from planner.core.errors import NotFound
from sidecar.backends.gcs.errors import Missing, NoMove, Precondition, changed, fault, translated

SHA256 = "sha256"  # metadata: the sha256 pva computed of the bytes it wrote
BOUND = "pva-crc32c"  # metadata: the crc32c those bytes had; sha256 is trusted only while it matches


@dataclass(frozen=True, slots=True)
class Obj:
    """What pva needs of one live object."""

    name: str
    generation: int
    size: int
    crc32c: str
    md5: str | None
    sha256: str | None  # from pva's metadata, only while it is bound to the current crc32c
    updated: float | None

    def same_bytes(self, other: Obj) -> bool:
        return (self.size, self.crc32c) == (other.size, other.crc32c)


def obj_of(blob: storage.Blob) -> Obj:
    metadata = blob.metadata or {}
    crc = str(blob.crc32c or "")
    sha = metadata.get(SHA256) if metadata.get(BOUND) == crc else None
    updated: datetime | None = blob.updated
    return Obj(
        blob.name,
        int(blob.generation or 0),
        int(blob.size or 0),
        crc,
        blob.md5_hash,
        sha,
        updated.timestamp() if updated is not None else None,
    )


def crc32c_of(data: bytes) -> str:
    return base64.b64encode(google_crc32c.value(data).to_bytes(4, "big")).decode()


class _Hasher:
    """A file-like sink that hashes what a download writes to it."""

    def __init__(self) -> None:
        self.sha = hashlib.sha256()

    def write(self, data: bytes) -> int:
        self.sha.update(data)
        return len(data)


class Objects:
    """Conditional object calls on one bucket; thread-safe (the client's session is)."""

    def __init__(self, bucket: storage.Bucket, retry: Retry) -> None:
        self.bucket = bucket
        self.retry = retry
        self.conditional = ConditionalRetryPolicy(retry, is_generation_specified, ["query_params"])
        self.can_move: bool | None = None  # None until the first move tells
        self._lock = threading.Lock()
        self._hashes: dict[tuple[str, int], str] = {}

    # -- reading -----------------------------------------------------------

    def get(self, name: str) -> Obj | None:
        with translated(name):
            blob = self.bucket.get_blob(name, retry=self.retry)
        return None if blob is None else obj_of(blob)

    def list(self, prefix: str, *, delimiter: str | None = None) -> tuple[list[Obj], set[str]]:
        """Objects whose names start with ``prefix``, and (with a delimiter) the prefixes below it."""
        with translated(prefix or "the bucket root"):
            found = self.bucket.client.list_blobs(
                self.bucket,
                prefix=prefix,
                delimiter=delimiter,
                include_trailing_delimiter=True if delimiter else None,
                retry=self.retry,
            )
            objects = [obj_of(blob) for blob in found]
            return objects, set(found.prefixes)

    def scan(
        self, prefix: str, *, start: str | None = None, page_size: int | None = None
    ) -> Iterator[tuple[str, Obj | None]]:
        """A delimited listing of ``prefix`` from the name ``start`` on (inclusive), lazily, in name order.

        (name, object) for each object, folder placeholders (``x/``)
        included, and (prefix, None) for each prefix below; a placeholder
        comes both ways, the object first. Each page of the listing covers a
        run of names, so merging a page's objects and prefixes orders them all.
        """
        with translated(prefix or "the bucket root"):
            found = self.bucket.client.list_blobs(
                self.bucket,
                prefix=prefix,
                delimiter="/",
                include_trailing_delimiter=True,
                start_offset=start,
                page_size=page_size,
                retry=self.retry,
            )
            for page in found.pages:
                listed: list[tuple[str, Obj | None]] = [(blob.name, obj_of(blob)) for blob in page]
                listed += [(below, None) for below in page.prefixes]
                listed.sort(key=lambda pair: pair[0])  # stable: a placeholder's object before its prefix
                yield from listed

    def iterate(self, prefix: str) -> Iterator[Obj]:
        """Every object below ``prefix``, page by page (constant memory per page)."""
        with translated(prefix or "the bucket root"):
            for blob in self.bucket.client.list_blobs(self.bucket, prefix=prefix, retry=self.retry):
                yield obj_of(blob)

    def any_below(self, prefix: str) -> bool:
        with translated(prefix):
            found = self.bucket.client.list_blobs(self.bucket, prefix=prefix, max_results=1, retry=self.retry)
            return any(True for _ in found)

    def download(self, obj: Obj, size: int) -> bytes:
        """The first ``size`` bytes of that generation of the object."""
        with translated(obj.name):
            blob = self.bucket.blob(obj.name, generation=obj.generation)
            data: bytes = blob.download_as_bytes(
                start=0, end=max(0, size - 1), if_generation_match=obj.generation, retry=self.retry
            )
        return data

    def download_range(self, obj: Obj, start: int, stop: int) -> bytes:
        """The bytes ``[start, stop)`` of that generation of the object (``stop`` > ``start``)."""
        with translated(obj.name):
            blob = self.bucket.blob(obj.name, generation=obj.generation)
            data: bytes = blob.download_as_bytes(
                start=start, end=stop - 1, if_generation_match=obj.generation, retry=self.retry
            )
        return data

    def sha256(self, obj: Obj) -> str:
        """The object's sha256: pva's bound metadata, else hashed from a download of that generation."""
        if obj.sha256 is not None:
            return obj.sha256
        key = (obj.name, obj.generation)
        with self._lock:
            known = self._hashes.get(key)
        if known is not None:
            return known
        sink = _Hasher()
        with translated(obj.name):
            blob = self.bucket.blob(obj.name, generation=obj.generation)
            blob.download_to_file(sink, if_generation_match=obj.generation, retry=self.retry)
        digest = sink.sha.hexdigest()
        with self._lock:
            if len(self._hashes) > 100_000:
                self._hashes.clear()  # a cache, not a record: bounded
            self._hashes[key] = digest
        return digest

    # -- changing ----------------------------------------------------------

    def create(self, name: str, data: bytes) -> Obj:
        """Create ``name`` holding ``data`` (never replacing), its sha256 bound to its crc32c as metadata."""
        crc = crc32c_of(data)
        blob = self.bucket.blob(name)
        blob.metadata = {SHA256: hashlib.sha256(data).hexdigest(), BOUND: crc}
        with translated(name):
            try:
                blob.upload_from_string(data, if_generation_match=0, retry=self.conditional)
            except Precondition:
                there = self.get(name)
                if there is not None and (there.size, there.crc32c) == (len(data), crc):
                    return there  # a retry met its own earlier success
                raise
        return obj_of(blob)

    def create_streamed(self, name: str, chunks: Iterable[bytes]) -> Obj:
        """Create ``name`` from ``chunks`` (never replacing), spooled through a local temporary file.

        Constant memory: the chunks are hashed (sha256, crc32c) on their way
        to the spool, then uploaded in one conditional call.
        """
        sha, crc, size = hashlib.sha256(), 0, 0
        with tempfile.TemporaryFile() as spool:
            for chunk in chunks:
                spool.write(chunk)
                sha.update(chunk)
                crc = google_crc32c.extend(crc, chunk)
                size += len(chunk)
            spool.seek(0)
            blob = self.bucket.blob(name)
            bound = base64.b64encode(crc.to_bytes(4, "big")).decode()
            blob.metadata = {SHA256: sha.hexdigest(), BOUND: bound}
            with translated(name):
                blob.upload_from_file(spool, size=size, if_generation_match=0, retry=self.conditional)
        return obj_of(blob)

    def set_hold(self, name: str, *, held: bool) -> None:
        """Set or clear the object's temporary hold (idempotent: a flag set to a value); gone is fine."""
        blob = self.bucket.blob(name)
        blob.temporary_hold = held
        with translated(name):
            try:
                blob.patch(retry=self.retry)
            except Missing:
                return

    def delete(self, obj: Obj) -> None:
        """Delete exactly this generation; gone already is fine, a newer generation is a fault."""
        blob = self.bucket.blob(obj.name)
        with translated(obj.name):
            try:
                blob.delete(if_generation_match=obj.generation, retry=self.conditional)
            except Missing:
                return
            except Precondition:
                raise changed(obj.name) from None

    def copy(self, src: Obj, dst: str) -> Obj:
        """Copy exactly generation ``src.generation`` to the new name ``dst`` (metadata comes along)."""
        source = self.bucket.blob(src.name)
        with translated(dst):
            try:
                copied = self.bucket.copy_blob(
                    source,
                    self.bucket,
                    dst,
                    if_generation_match=0,
                    if_source_generation_match=src.generation,
                    retry=self.conditional,
                )
            except (Precondition, Missing) as error:
                return self._own_copy(src, dst, error)
        return obj_of(copied)

    def _own_copy(self, src: Obj, dst: str, error: Exception) -> Obj:
        there = self.get(dst)
        if there is not None and there.same_bytes(src):
            return there  # our own earlier copy, whose answer was lost
        now = self.get(src.name)
        if now is None:
            raise NotFound(src.name, f"{src.name!r} does not exist") from error
        if now.generation != src.generation:
            raise changed(src.name) from error
        raise fault(dst, error) from error

    def move(self, src: Obj, dst: str) -> Obj:
        """Move generation ``src.generation`` to the new name ``dst``: atomic where the bucket allows."""
        if self.can_move is not False:
            moved = self._move_blob(src, dst)
            if moved is not None:
                return moved
        copied = self.copy(src, dst)
        self.delete(src)
        return copied

    def _move_blob(self, src: Obj, dst: str) -> Obj | None:
        """objects.move; None when the server turns out not to offer it (then never tried again)."""
        source = self.bucket.blob(src.name)
        with translated(dst):
            try:
                moved = self.bucket.move_blob(
                    source,
                    dst,
                    if_generation_match=0,
                    if_source_generation_match=src.generation,
                    retry=self.conditional,
                )
            except NoMove as error:
                if self.can_move is None and self.get(src.name) is not None:
                    self.can_move = False  # the source is there, so the route is not
                    return None
                return self._own_move(src, dst, error)
            except Precondition as error:
                return self._own_move(src, dst, error)
        self.can_move = True
        return obj_of(moved)

    def _own_move(self, src: Obj, dst: str, error: Exception) -> Obj:
        there = self.get(dst)
        now = self.get(src.name)
        if there is not None and there.same_bytes(src) and now is None:
            return there  # a retry met its own earlier move, whose answer was lost
        if now is None:
            raise NotFound(src.name, f"{src.name!r} does not exist") from error
        if now.generation != src.generation:
            raise changed(src.name) from error
        raise fault(dst, error) from error
