"""Publishing small files once to a bucket: a ``gs://BUCKET/PREFIX`` destination for signed checkpoints.

Each file is an object created with ``if_generation_match=0``, so an object
of that name is never replaced (by pva; a retention-locked bucket also stops
anyone else deleting it before its time). When one is there already, its
bytes are returned for the caller to compare (``checkpoints.publish``).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from google.api_core.retry import Retry
from google.cloud import storage  # type: ignore[attr-defined,import-untyped,unused-ignore]  # no stubs
from google.cloud.storage.retry import DEFAULT_RETRY  # type: ignore[import-untyped]

from sidecar.backends.gcs.errors import Precondition, translated
from sidecar.errors import StoreFault


class GcsPrefix:
    """Objects below a prefix of a bucket, each created once."""

    def __init__(self, url: str, *, client: storage.Client | None = None, retry: Retry | None = None) -> None:
        parts = urlsplit(url)
        if parts.scheme != "gs" or not parts.netloc or parts.query:
            raise StoreFault(url, f"{url!r} is not a gs://BUCKET/PREFIX destination")
        prefix = parts.path.strip("/")
        self.url = f"gs://{parts.netloc}/{prefix + '/' if prefix else ''}"
        self.prefix = prefix + "/" if prefix else ""
        self.retry = retry or DEFAULT_RETRY
        with translated(self.url):
            self.bucket = (client if client is not None else storage.Client()).bucket(parts.netloc)

    def where(self, name: str) -> str:
        return self.url + name

    def create(self, name: str, data: bytes) -> bytes | None:
        """Create the object ``name`` holding ``data``: None when made, else the bytes already there."""
        blob = self.bucket.blob(self.prefix + name)
        with translated(self.where(name)):
            try:
                blob.upload_from_string(
                    data, content_type="text/plain; charset=utf-8", if_generation_match=0, retry=self.retry
                )
            except Precondition:
                found: bytes = blob.download_as_bytes(retry=self.retry)
                return found
        return None
