"""Open the store that ``PVA_STORE`` names: its backend, its journals and its apply locks.

A local folder keeps its journals and lock table in its own reserved area
(``.pva``), on the same filesystem as the changes they describe (ADR 0002).
A ``gs://BUCKET/PREFIX`` store keeps them on local disk, below ``state_dir``
(a bucket has no ``flock``); see docs/gcs.md. The one place that decides
which backend a store string means.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sidecar.apply.journal import FileJournals
from sidecar.apply.locks import FileLocks, Locks
from sidecar.backends.base import Backend
from sidecar.backends.local import LocalBackend
from sidecar.errors import StoreFault


@dataclass
class StoreParts:
    """A store's backend with the journals and locks the engine keeps for it."""

    backend: Backend
    journals: FileJournals
    locks: Locks

    def close(self) -> None:
        close = getattr(self.backend, "close", None)
        if close is not None:
            close()


def open_store(store: str, *, create: bool = False, state_dir: Path = Path("var/state")) -> StoreParts:
    """The store at ``store`` (a folder, or ``gs://BUCKET/PREFIX``).

    StoreFault when a folder is missing and ``create`` is False.
    """
    if store.startswith("gs://"):
        return _open_gcs(store, state_dir)
    root = Path(store)
    if create:
        root.mkdir(parents=True, exist_ok=True)
    if not root.is_dir():
        raise StoreFault(str(root), f"the store folder {root} does not exist (set PVA_STORE or --store)")
    return StoreParts(LocalBackend(root), FileJournals(root), FileLocks(root))


def _open_gcs(store: str, state_dir: Path) -> StoreParts:
    # Imported here: google-cloud-storage is loaded only by those who use a bucket.
    from sidecar.backends.gcs.location import GcsLocation, open_backend  # noqa: PLC0415

    location = GcsLocation.parse(store)
    state = location.state_folder(state_dir)
    state.mkdir(parents=True, exist_ok=True, mode=0o700)
    return StoreParts(open_backend(location, state), FileJournals(state), FileLocks(state))
