"""``pva worker``: what it refuses (its work on PostgreSQL is in test_takeover.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from planner.cli.main import main


def test_pva_worker_needs_postgresql(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """On SQLite there is no shared queue: one line naming the fix, exit 2, nothing made."""
    url = f"sqlite:///{tmp_path / 'pva.db'}"
    assert main(["worker", "--db", url, "--store", str(tmp_path / "store")]) == 2
    assert "pva worker needs a PostgreSQL database" in capsys.readouterr().err
    assert not (tmp_path / "pva.db").exists()
