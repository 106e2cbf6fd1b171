"""The composition root: build the sidecar's parts from settings, in one place.

Nothing is built at import time. Commands and (later) the HTTP app call
``open_services`` and close what it returns.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Self

from sidecar.apply.engine import Engine
from sidecar.apply.journal import FileJournals
from sidecar.apply.locks import FileLocks
from sidecar.audit.store import SqlAuditStore
from sidecar.backends.local import LocalBackend
from sidecar.errors import StoreFault
from sidecar.settings import Settings


@dataclass
class Services:
    """The live parts: the store, the audit database and the engine over both."""

    backend: LocalBackend
    audit: SqlAuditStore
    engine: Engine

    def close(self) -> None:
        self.backend.close()
        self.audit.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def open_services(settings: Settings, *, create_store: bool = False) -> Services:
    """Open the store and the audit database named by ``settings``."""
    root = Path(settings.store)
    if create_store:
        root.mkdir(parents=True, exist_ok=True)
    if not root.is_dir():
        raise StoreFault(str(root), f"the store folder {root} does not exist (set PVA_STORE or --store)")
    audit = SqlAuditStore.open(settings.database_url)
    try:
        backend = LocalBackend(root)
    except BaseException:
        audit.close()
        raise
    engine = Engine(backend, audit, FileJournals(root), locks=FileLocks(root))
    return Services(backend, audit, engine)
