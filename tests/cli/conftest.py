"""The CLI tests' store: a real folder and a migrated audit database (SQLite and PostgreSQL)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def site(tmp_path: Path, url: str) -> dict[str, str]:
    """A store with an inbox and a migrated, empty audit database (SQLite or PostgreSQL)."""
    store = tmp_path / "store"
    (store / "m" / "inbox").mkdir(parents=True)
    (store / "m" / "inbox" / "1.pdf").write_bytes(b"contract")
    (store / "m" / "notes.txt").write_bytes(b"old notes")
    return {"store": str(store), "db": url, "tmp": str(tmp_path)}
