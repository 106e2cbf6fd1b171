"""RFC 3161 timestamps of checkpoints, against a local fake time-stamping authority (tests/support/tsa.py).

The authority is a real HTTP server with its own root CA; ``rfc3161-client``
verifies what it signs. A timestamp is of one checkpoint: another note,
another authority's roots, or a TSA that does not answer are refused.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from planner.cli.main import main
from sidecar.audit import checkpoints, timestamps
from sidecar.audit.signing import Publisher
from sidecar.audit.store import SqlAuditStore
from sidecar.audit.timestamps import TimestampError
from sidecar.audit.tree import SqlAuditTree
from tests.audit.conftest import make_plan, record
from tests.support.tsa import Authority, serving

KEY = checkpoints.new_signer_key("firm.example/pva")
SIGNER = checkpoints.parse_signer(KEY)
NOTE = checkpoints.sign(checkpoints.Checkpoint("firm.example/pva", 3, b"\x05" * 32), SIGNER).encode("utf-8")
WHEN = datetime(2026, 12, 4, 9, 30, 15, tzinfo=UTC)


@pytest.fixture
def authority() -> Authority:
    return Authority(clock=lambda: WHEN)


@pytest.fixture
def tsa(authority: Authority) -> Iterator[str]:
    with serving(authority) as url:
        yield url


def test_a_timestamp_verifies_and_states_the_authoritys_time(authority: Authority, tsa: str) -> None:
    """The TSA's answer checks against its root and gives the time it stamped."""
    reply = timestamps.stamp(tsa, NOTE)
    assert timestamps.check(reply, NOTE, [authority.root]) == WHEN


def test_a_timestamp_is_of_one_checkpoint_and_one_authority(authority: Authority, tsa: str) -> None:
    """Another note, or the roots of another authority, refuse the timestamp."""
    reply = timestamps.stamp(tsa, NOTE)
    with pytest.raises(TimestampError, match="does not verify"):
        timestamps.check(reply, NOTE.replace(b"\n3\n", b"\n4\n"), [authority.root])
    with pytest.raises(TimestampError, match="does not verify"):
        timestamps.check(reply, NOTE, [Authority().root])


def test_a_tsa_that_does_not_answer_a_timestamp_is_an_error(tmp_path: Path) -> None:
    """No server there, or not a TSA: TimestampError naming the URL, never a traceback."""
    with pytest.raises(TimestampError, match="did not answer"):
        timestamps.stamp("http://127.0.0.1:9/", NOTE, timeout=2)


@pytest.fixture
def roots(authority: Authority, tsa: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The settings of a sidecar that signs and timestamps checkpoints; the TSA's roots as a PEM file."""
    monkeypatch.delenv("PVA_SETTINGS_FILE", raising=False)
    monkeypatch.setenv("PVA_CHECKPOINT_KEY", KEY)
    monkeypatch.setenv("PVA_CHECKPOINT_DIR", str(tmp_path / "checkpoints"))
    monkeypatch.setenv("PVA_TSA_URL", tsa)
    pem = tmp_path / "roots.pem"
    pem.write_bytes(authority.root_pem)
    return pem


def test_pva_audit_checkpoint_timestamps_and_verify_checks_it(
    roots: Path, store: SqlAuditStore, url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """With PVA_TSA_URL a checkpoint gets its .tsr beside it; verify --timestamp checks it against roots."""
    record(store, make_plan({"op": "mkdir", "path": "m/a"}))
    assert main(["audit", "checkpoint", "--db", url]) == 0
    checkpoint, stamp = (Path(line) for line in capsys.readouterr().out.split())
    assert stamp == checkpoint.with_name(checkpoint.name + ".tsr")
    verify = ["audit", "verify", "--db", url, "--checkpoint", str(checkpoint), "--key", str(SIGNER.verifier)]
    assert main([*verify, "--timestamp", str(stamp), "--tsa-roots", str(roots)]) == 0
    assert "existed by 2026-12-04T09:30:15" in capsys.readouterr().out
    other = tmp_path / "other.pem"
    other.write_bytes(Authority().root_pem)
    assert main([*verify, "--timestamp", str(stamp), "--tsa-roots", str(other)]) == 1
    assert "does not verify" in capsys.readouterr().err


def test_the_sidecars_publisher_timestamps_each_checkpoint(
    authority: Authority, tsa: str, store: SqlAuditStore, url: str, tmp_path: Path
) -> None:
    """A running sidecar's publisher, given a TSA, writes each checkpoint's verified timestamp beside it."""
    record(store, make_plan({"op": "mkdir", "path": "m/a"}))
    tree = SqlAuditTree.open(url)
    try:
        publisher = Publisher(
            tree,
            SIGNER,
            origin="firm.example/pva",
            folder=tmp_path,
            every=1,
            interval=timedelta(hours=1),
            clock=lambda: WHEN,
            tsa_url=tsa,
        )
        path = Path(publisher.sign_if_due() or "")
    finally:
        tree.close()
    stamp = path.with_name(path.name + ".tsr")
    assert timestamps.check(stamp.read_bytes(), path.read_bytes(), [authority.root]) == WHEN
