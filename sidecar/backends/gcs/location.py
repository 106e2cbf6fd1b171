"""``gs://BUCKET/PREFIX[?implicit-dirs=true]``: parse a store string and open the backend it names.

Credentials come from Google's application-default chain (``storage.Client()``);
``STORAGE_EMULATOR_HOST`` points the client at a test server, as the library
documents. The query string takes ``implicit-dirs`` (match the gcsfuse mount's
``--implicit-dirs``) and ``workers`` (parallel calls of a folder move).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from google.api_core.retry import Retry
from google.cloud import storage  # type: ignore[attr-defined,import-untyped,unused-ignore]  # no stubs
from google.cloud.storage.retry import DEFAULT_RETRY  # type: ignore[import-untyped]
from requests.adapters import HTTPAdapter

from sidecar.backends.gcs.backend import GcsBackend
from sidecar.backends.gcs.errors import Missing, translated
from sidecar.backends.gcs.hns import FolderRenamer
from sidecar.backends.gcs.movejournals import MoveJournals
from sidecar.backends.gcs.mover import Mover
from sidecar.backends.gcs.objects import Objects
from sidecar.errors import StoreFault

_TRUE = ("1", "true", "yes")


@dataclass(frozen=True)
class GcsLocation:
    """A bucket, a prefix in it (``""`` or ending in ``/``) and how to read it."""

    bucket: str
    prefix: str
    implicit: bool = False
    workers: int = 32

    @classmethod
    def parse(cls, store: str) -> GcsLocation:
        parts = urlsplit(store)
        if parts.scheme != "gs" or not parts.netloc:
            raise StoreFault(store, f"{store!r} is not a gs://BUCKET/PREFIX store")
        prefix = parts.path.strip("/")
        query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
        unknown = set(query) - {"implicit-dirs", "workers"}
        if unknown:
            raise StoreFault(store, f"unknown option {min(unknown)!r} in {store!r}")
        return cls(
            parts.netloc,
            prefix + "/" if prefix else "",
            query.get("implicit-dirs", "").lower() in _TRUE,
            int(query.get("workers", "32")),
        )

    @property
    def url(self) -> str:
        return f"gs://{self.bucket}/{self.prefix}"

    def state_folder(self, state_dir: Path) -> Path:
        """Where this store's journals and locks live on local disk (one folder per bucket and prefix)."""
        key = hashlib.sha256(self.url.encode()).hexdigest()[:16]
        return state_dir / "gcs" / f"{self.bucket}-{key}"


def open_backend(
    location: GcsLocation,
    journals: Path | MoveJournals,
    *,
    client: storage.Client | None = None,
    retry: Retry | None = None,
) -> GcsBackend:
    """The backend on ``location``, its move journals in ``journals`` (a state folder, or elsewhere).

    Checks the bucket is there.
    """
    with translated(location.url):
        client = client if client is not None else storage.Client()
        # One pooled connection per worker, or the pool discards connections under a parallel move.
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=location.workers + 4)
        client._http.mount("http://", adapter)  # noqa: SLF001  # the client's documented session object
        client._http.mount("https://", adapter)  # noqa: SLF001
        try:
            bucket = client.get_bucket(location.bucket, retry=retry or DEFAULT_RETRY)
        except Missing:
            raise StoreFault(location.url, f"the bucket {location.bucket} does not exist") from None
    objects = Objects(bucket, retry or DEFAULT_RETRY)
    moves = journals / "moves" if isinstance(journals, Path) else journals
    mover = Mover(objects, moves, workers=location.workers)
    hns = FolderRenamer(location.bucket) if bucket.hierarchical_namespace_enabled else None
    implicit = location.implicit or hns is not None  # HNS folders are real, placeholder or not
    return GcsBackend(objects, location.prefix, journals, implicit=implicit, mover=mover, hns=hns)
