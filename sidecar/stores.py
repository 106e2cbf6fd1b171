"""Open the store that ``PVA_STORE`` names: its backend, its journals and its apply locks.

A local folder keeps its journals and lock table in its own reserved area
(``.pva``), on the same filesystem as the changes they describe (ADR 0002).
A ``gs://BUCKET/PREFIX`` store with a PostgreSQL database keeps them in the
database, shared by every replica (``leases``, ``sqljournals``: any replica
settles any apply); with SQLite (one node) on local disk, below
``state_dir`` (a bucket has no ``flock``); see docs/gcs.md. The one place
that decides which backend a store string means.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from sqlalchemy import Engine

from sidecar.apply.journal import FileJournals, JournalStore
from sidecar.apply.leases import DEFAULT_LEASE, SqlLocks
from sidecar.apply.locks import FileLocks, Locks
from sidecar.apply.sqljournals import SqlJournals, SqlMoveJournals
from sidecar.audit.checkpoints import Destination
from sidecar.backends.base import Backend
from sidecar.backends.local import LocalBackend
from sidecar.errors import StoreFault


@dataclass
class StoreParts:
    """A store's backend with the journals and locks the engine keeps for it."""

    backend: Backend
    journals: JournalStore
    locks: Locks

    def close(self) -> None:
        close = getattr(self.backend, "close", None)
        if close is not None:
            close()


def open_store(
    store: str,
    *,
    create: bool = False,
    state_dir: Path = Path("var/state"),
    database: Engine | None = None,
    lease: timedelta = DEFAULT_LEASE,
) -> StoreParts:
    """The store at ``store`` (a folder, or ``gs://BUCKET/PREFIX``).

    ``database``: the audit database; a ``gs://`` store keeps its journals and
    locks there when it is PostgreSQL (shared by replicas; ``lease`` is the
    locks' lease). StoreFault when a folder is missing and ``create`` is False.
    """
    if store.startswith("gs://"):
        shared = database if database is not None and database.dialect.name == "postgresql" else None
        return _open_gcs(store, state_dir, shared, lease)
    root = Path(store)
    if create:
        root.mkdir(parents=True, exist_ok=True)
    if not root.is_dir():
        raise StoreFault(str(root), f"the store folder {root} does not exist (set PVA_STORE or --store)")
    return StoreParts(LocalBackend(root), FileJournals(root), FileLocks(root))


def _open_gcs(store: str, state_dir: Path, shared: Engine | None, lease: timedelta) -> StoreParts:
    # Imported here: google-cloud-storage is loaded only by those who use a bucket.
    from sidecar.backends.gcs.location import GcsLocation, open_backend  # noqa: PLC0415

    location = GcsLocation.parse(store)
    if shared is not None:  # nothing on this VM that another replica would need
        backend = open_backend(location, SqlMoveJournals(shared))
        return StoreParts(backend, SqlJournals(shared), SqlLocks(shared, lease=lease))
    state = location.state_folder(state_dir)
    state.mkdir(parents=True, exist_ok=True, mode=0o700)
    return StoreParts(open_backend(location, state), FileJournals(state), FileLocks(state))


def checkpoint_destination(where: str) -> Path | Destination:
    """Where PVA_CHECKPOINT_DIR (or ``--dir``) points: a ``gs://BUCKET/PREFIX``, else a folder."""
    if where.startswith("gs://"):
        from sidecar.backends.gcs.publish import GcsPrefix  # noqa: PLC0415  # the GCS client only when asked for

        return GcsPrefix(where)
    return Path(where)
