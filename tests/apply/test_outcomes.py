"""What an apply says happened: after the commit point the plan is applied, whatever stops the rest."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from planner import Plan
from sidecar.apply.engine import Engine
from sidecar.apply.journal import FileJournals
from sidecar.audit.memory import MemoryAudit
from sidecar.backends.local import LocalBackend


def _plan() -> Plan:
    ops = [{"op": "mkdir", "path": "m/alice"}, {"op": "move", "src": "m/1.pdf", "dst": "m/alice/1.pdf"}]
    return Plan.model_validate({"pva": "plan/v1", "title": "file", "scope": ["m"], "ops": ops})


def _engine(tmp_path: Path, hook: Any) -> tuple[Engine, Path]:
    root = tmp_path / "store"
    (root / "m").mkdir(parents=True)
    (root / "m" / "1.pdf").write_bytes(b"one")
    engine = Engine(LocalBackend(root), MemoryAudit(), FileJournals(tmp_path, "journal"), hook=hook)
    return engine, root


def test_a_symlink_swapped_in_after_the_commit_is_an_incident_of_an_applied_plan(tmp_path: Path) -> None:
    """A folder swapped for a symlink after the commit point leaves the outcome applied, with an incident."""
    outside = tmp_path / "outside"
    outside.mkdir()

    def swap(label: str) -> None:
        if label == "audited":
            moved = tmp_path / "store" / "m" / "alice"
            shutil.move(moved, tmp_path / "aside")
            os.symlink(outside, moved)

    engine, _ = _engine(tmp_path, swap)
    record = engine.apply(_plan(), actor="ops")
    assert record.status == "applied"
    assert len(record.incidents) == 1
    assert "could not be read back" in record.incidents[0]
    audit = engine.audit
    assert isinstance(audit, MemoryAudit)
    assert [a.status for a in audit.applies] == ["applied"]
    assert len(audit.incidents) == 1
    assert list(outside.iterdir()) == []


def test_ctrl_c_after_the_commit_says_the_plan_is_applied(tmp_path: Path) -> None:
    """Ctrl-C after the commit point is reported as applied (and whether audited), not as a refusal."""

    def interrupt(label: str) -> None:
        if label == "audited":
            raise KeyboardInterrupt

    engine, root = _engine(tmp_path, interrupt)
    with pytest.raises(KeyboardInterrupt, match=r"is applied.*audited.*recover") as caught:
        engine.apply(_plan(), actor="ops")
    assert str(caught.value).startswith("after the commit point")
    assert (root / "m" / "alice" / "1.pdf").read_bytes() == b"one"
