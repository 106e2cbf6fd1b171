"""Crash scenes: one copy of a prepared store and audit database, applied by a child process that is killed.

A suite's ``Scene`` prepares the pristine store once and copies it per crash;
each copy is a ``CrashRun`` whose ``run`` starts the suite's runner module
(``mode``, where the store is, the database, the plan, the crash point to
die at), then ``recover_here`` and ``outcomes`` check what was left.
"""

from __future__ import annotations

import subprocess
import sys
from abc import ABC, abstractmethod
from contextlib import AbstractContextManager
from pathlib import Path

from sidecar.apply.engine import Engine
from sidecar.apply.journal import FileJournals
from sidecar.audit.store import SqlAuditStore
from sidecar.backends.base import Backend

REPO = Path(__file__).parents[2]


class CrashRun(ABC):
    """One copy of a crash scene: its audit database and plan, the store it names, the runner that applies."""

    runner: str  # the module run as the child process
    timeout: float  # the seconds the child may take

    def __init__(self, database_url: str, plan: Path) -> None:
        self.url, self.plan = database_url, plan

    @abstractmethod
    def where(self) -> list[str]:
        """The runner's arguments that name the store."""

    @abstractmethod
    def backend(self) -> AbstractContextManager[Backend]:
        """The store's backend, opened as a restarted sidecar would open it."""

    @abstractmethod
    def journals(self) -> Path:
        """The folder of the apply journals."""

    def run(self, mode: str, kill_at: int) -> subprocess.CompletedProcess[str]:
        """The runner in ``mode`` (apply or recover), killed at crash point ``kill_at`` (-1: never)."""
        command = [
            sys.executable,
            "-m",
            self.runner,
            mode,
            *self.where(),
            self.url,
            str(self.plan),
            str(kill_at),
        ]
        return subprocess.run(
            command, cwd=REPO, capture_output=True, text=True, timeout=self.timeout, check=False
        )

    def recover_here(self) -> None:
        """Recover in this process, as a restarted sidecar does."""
        with self.backend() as backend:
            audit = SqlAuditStore.open(self.url)
            try:
                Engine(backend, audit, FileJournals(self.journals())).recover()
            finally:
                audit.close()

    def outcomes(self) -> list[str]:
        """The audited outcome of each apply, as ``apply:<status>``."""
        audit = SqlAuditStore.open(self.url)
        try:
            return [f"apply:{e.payload['status']}" for e in audit.events() if e.kind == "apply"]
        finally:
            audit.close()
