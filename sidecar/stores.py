"""Open the store that ``PVA_STORE`` names: its backend, its journals and its apply locks.

A local folder keeps its journals and lock table in its own reserved area
(``.pva``), on the same filesystem as the changes they describe (ADR 0002).
The one place that decides which backend a store string means.
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


def open_store(store: str, *, create: bool = False) -> StoreParts:
    """The store at ``store`` (a folder path); StoreFault when it is missing and ``create`` is False."""
    root = Path(store)
    if create:
        root.mkdir(parents=True, exist_ok=True)
    if not root.is_dir():
        raise StoreFault(str(root), f"the store folder {root} does not exist (set PVA_STORE or --store)")
    return StoreParts(LocalBackend(root), FileJournals(root), FileLocks(root))
