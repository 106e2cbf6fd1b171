"""``BlobService``: content uploaded for plans' ``content_ref`` writes, and its collection.

A blob is stored once, by its sha256, at ``.pva/blobs/SHA256`` (the reserved
area: never a store path), and recorded once per token that uploaded it
(the ``blobs`` table): its size, and the uploader's scopes. An upload is
streamed to a staging file while it is hashed and counted, and renamed into
place only when its sha256 is the one declared: a blob file always holds
the content its name says. A token's blobs count against its quota until
collected. ``collect`` removes the records older than the retention that
no recorded plan names, and a blob's file once no record is left.
Whether a plan may use a blob is ``SqlAuditStore.blob_size``'s rule: its
uploader's scopes must cover the plan's.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterable, Iterator
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, insert, select

from planner.core.errors import AlreadyExists, PvaError
from sidecar import db
from sidecar.audit.tables import BlobRow, PlanRow
from sidecar.backends.base import BLOBS, STAGING, Backend
from sidecar.tokens import Principal

SHA256_HEX = frozenset("0123456789abcdef")


class BlobError(PvaError):
    """An upload refused; the message says why (exit 2: the caller sent it)."""

    exit_code = 2


class BlobMismatch(BlobError):
    """The bytes uploaded do not have the sha256 the upload declared (HTTP 422)."""


class BlobTooLarge(BlobError):
    """The blob is over the size limit, or over what the token's quota has left (HTTP 413)."""

    def __init__(self, message: str, *, code: str = "too_large") -> None:
        self.code = code
        super().__init__(message)


@dataclass(frozen=True)
class Stored:
    """An uploaded blob as its uploader sees it; ``created`` is False for one this token had uploaded."""

    sha256: str
    size: int
    created: bool


@dataclass(frozen=True)
class BlobLimits:
    """How large one blob may be, what one token's blobs may hold, and how long unnamed ones stay."""

    max_bytes: int
    quota_bytes: int
    retention: timedelta


class SqlBlobs(db.SqlStore):
    """The ``blobs`` table."""

    def now(self) -> datetime:
        return self._clock()

    def held(self, token: str) -> int:
        with self._sessions() as session:
            return int(
                session.scalar(select(func.coalesce(func.sum(BlobRow.size), 0)).where(BlobRow.token == token))
                or 0
            )

    def has(self, sha256: str, token: str) -> bool:
        with self._sessions() as session:
            return session.get(BlobRow, (sha256, token)) is not None

    def add(self, sha256: str, size: int, who: Principal) -> None:
        row = {
            "sha256": sha256,
            "token": who.token_id,
            "actor": who.name,
            "scopes": json.dumps(list(who.scopes), ensure_ascii=False),
            "size": size,
            "uploaded": self._clock(),
        }
        with self._sessions() as session, session.begin():
            if session.get(BlobRow, (sha256, who.token_id)) is None:
                session.execute(insert(BlobRow), [row])

    def expired(self, before: datetime) -> list[tuple[str, str]]:
        """(sha256, token) of the records uploaded before ``before`` that no recorded plan names."""
        with self._sessions() as session:
            rows = session.execute(
                select(BlobRow.sha256, BlobRow.token).where(BlobRow.uploaded < before)
            ).all()
            named = {
                sha
                for sha in {row.sha256 for row in rows}
                if session.scalar(select(PlanRow.digest).where(PlanRow.body.contains(sha)).limit(1))
                is not None
            }
        return [(row.sha256, row.token) for row in rows if row.sha256 not in named]

    def forget(self, sha256: str, token: str) -> bool:
        """Remove one record; True when no record of that blob is left."""
        with self._sessions() as session, session.begin():
            session.execute(delete(BlobRow).where(BlobRow.sha256 == sha256, BlobRow.token == token))
            return session.scalar(select(BlobRow.sha256).where(BlobRow.sha256 == sha256).limit(1)) is None


@dataclass
class BlobService:
    """Uploads by agents, within the limits; collection of the blobs no plan names."""

    blobs: SqlBlobs
    backend: Backend
    limits: BlobLimits

    def upload(self, who: Principal, sha256: str, chunks: Iterable[bytes]) -> Stored:
        """Store the streamed ``chunks`` as the blob ``sha256``; refuse a mismatch, an excess, no quota."""
        if len(sha256) != 64 or not set(sha256) <= SHA256_HEX:
            raise BlobMismatch(f"{sha256[:70]!r} is not a sha256 (64 lowercase hex digits)")
        counted = _Counted(
            chunks, self.limits.max_bytes, self.limits.quota_bytes - self.blobs.held(who.token_id)
        )
        self.backend.ensure_dir(BLOBS)
        self.backend.ensure_dir(STAGING)
        staged = f"{STAGING}/upload-{uuid.uuid4().hex}"
        self.backend.stage_stream(staged, counted)
        try:
            if counted.sha256.hexdigest() != sha256:
                raise BlobMismatch(
                    f"the bytes uploaded have sha256 {counted.sha256.hexdigest()}, not {sha256}"
                )
            if self.blobs.has(sha256, who.token_id):
                return Stored(sha256, counted.size, created=False)
            with suppress(AlreadyExists):  # another token uploaded the same bytes: stored once
                self.backend.rename(staged, f"{BLOBS}/{sha256}")
            self.blobs.add(sha256, counted.size, who)
            return Stored(sha256, counted.size, created=True)
        finally:
            if self.backend.exists(staged):
                self.backend.discard(staged)

    def collect(self, now: datetime | None = None) -> list[str]:
        """Remove the blobs past the retention that no recorded plan names; return their sha256.

        ``now``: the database's clock unless given. ``pva serve`` runs it as it sweeps.
        """
        now = self.blobs.now() if now is None else now
        removed = []
        for sha256, token in self.blobs.expired(now - self.limits.retention):
            if self.blobs.forget(sha256, token) and self.backend.exists(f"{BLOBS}/{sha256}"):
                self.backend.ensure_dir(STAGING)
                doomed = f"{STAGING}/collected-{uuid.uuid4().hex}"
                self.backend.rename(f"{BLOBS}/{sha256}", doomed)
                self.backend.discard(doomed)
                removed.append(sha256)
        return removed


class _Counted:
    """The upload's chunks, hashed and counted on their way; over a limit, it stops the upload."""

    def __init__(self, chunks: Iterable[bytes], limit: int, quota_left: int) -> None:
        self.chunks, self.limit, self.quota_left = chunks, limit, quota_left
        self.sha256, self.size = hashlib.sha256(), 0

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self.chunks:
            self.size += len(chunk)
            if self.size > self.limit:
                raise BlobTooLarge(f"the blob is over the limit of {self.limit} bytes (PVA_MAX_BLOB_BYTES)")
            if self.size > self.quota_left:
                raise BlobTooLarge(
                    f"the blob is over what this token's quota has left ({max(0, self.quota_left)} bytes; "
                    "PVA_BLOB_QUOTA_BYTES): blobs no plan names are collected after PVA_BLOB_RETENTION",
                    code="over_quota",
                )
            self.sha256.update(chunk)
            yield chunk
