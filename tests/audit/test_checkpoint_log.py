"""Checkpoints of the audit database: ``pva audit key|checkpoint`` and ``pva audit verify --checkpoint``.

Every tampering is done behind the store's back (raw SQL), on SQLite and on
PostgreSQL: an edited event fails the chain; dropped last events and a log
rewritten with recomputed hashes keep the chain intact yet fail the
consistency proof against an older checkpoint; a forged checkpoint is refused.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from planner.cli.main import main
from sidecar.audit import checkpoints, merkle
from sidecar.audit.chain import GENESIS
from sidecar.audit.store import SqlAuditStore
from sidecar.audit.tree import SqlAuditTree
from tests.audit.conftest import make_plan, record

Tamper = Callable[..., None]
KEY = checkpoints.new_signer_key("firm.example/pva")
VERIFIER = str(checkpoints.parse_signer(KEY).verifier)


@pytest.fixture
def signing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """The checkpoint settings: a signer key and a folder to publish to."""
    monkeypatch.delenv("PVA_SETTINGS_FILE", raising=False)
    monkeypatch.delenv("PVA_CHECKPOINT_ORIGIN", raising=False)
    monkeypatch.setenv("PVA_CHECKPOINT_KEY", KEY)
    monkeypatch.setenv("PVA_CHECKPOINT_DIR", str(tmp_path / "checkpoints"))
    return tmp_path / "checkpoints"


def add_plans(store: SqlAuditStore, *names: str) -> None:
    """Each plan recorded then applied: two events a plan."""
    for name in names:
        record(store, make_plan({"op": "mkdir", "path": f"m/{name}"}, title=f"plan {name}"))


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def signed(url: str, capsys: pytest.CaptureFixture[str]) -> Path:
    code, out, _ = run(capsys, "audit", "checkpoint", "--db", url)
    assert code == 0
    return Path(out.strip())


def test_the_tree_is_the_rfc6962_tree_of_the_chain_hashes(store: SqlAuditStore, url: str) -> None:
    """The database's tree head is MTH over the events' chain hashes, in seq order."""
    add_plans(store, "a", "b", "c")
    expected = merkle.root(merkle.leaf_hash(bytes.fromhex(link.hash)) for link in store.links())
    tree = SqlAuditTree.open(url)
    try:
        assert (tree.head().size, tree.head().root) == (6, expected)
    finally:
        tree.close()


def test_every_event_has_an_inclusion_proof_to_a_signed_size(store: SqlAuditStore, url: str) -> None:
    """An event's inclusion proof from the database verifies against the tree head of a later size."""
    add_plans(store, "a", "b", "c")
    links = list(store.links())
    tree = SqlAuditTree.open(url)
    try:
        head = tree.head()
        for link in links:
            leaf = merkle.leaf_hash(bytes.fromhex(link.hash))
            proof = tree.inclusion(link.seq, head.size)
            assert merkle.verify_inclusion(link.seq - 1, head.size, leaf, proof, head.root)
        assert merkle.verify_inclusion(
            1,
            5,
            merkle.leaf_hash(bytes.fromhex(links[1].hash)),
            tree.inclusion(2, 5),
            merkle.root(merkle.leaf_hash(bytes.fromhex(link.hash)) for link in links[:5]),
        )
        with pytest.raises(ValueError, match="fewer than 7 events"):
            tree.inclusion(1, 7)
    finally:
        tree.close()


def test_a_checkpoint_is_published_and_verifies_as_the_log_grows(
    store: SqlAuditStore, url: str, signing: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``checkpoint`` writes a signed head; ``verify --checkpoint`` accepts it now and after more events."""
    add_plans(store, "a", "b")
    path = signed(url, capsys)
    assert path == signing / "000000000004.checkpoint"
    opened = checkpoints.open_checkpoint(
        path.read_text(encoding="utf-8"), checkpoints.parse_verifier(VERIFIER)
    )
    assert (opened.origin, opened.size) == ("firm.example/pva", 4)
    add_plans(store, "c")
    code, out, _ = run(capsys, "audit", "verify", "--db", url, "--checkpoint", str(path))
    assert code == 0
    assert "audit chain intact: 6 events" in out
    assert "the checkpoint of 4 events is consistent with the database's 6 events" in out
    code, out, _ = run(
        capsys, "audit", "verify", "--db", url, "--checkpoint", str(path), "--key", VERIFIER, "--json"
    )
    assert code == 0
    assert '"consistent": true' in out


def test_an_edited_event_fails_the_chain(
    store: SqlAuditStore, url: str, signing: Path, tamper: Tamper, capsys: pytest.CaptureFixture[str]
) -> None:
    """An event's payload edited after the checkpoint: the chain check finds it first, exit 1."""
    add_plans(store, "a", "b")
    path = signed(url, capsys)
    tamper("UPDATE events SET payload = replace(payload, 'plan a', 'plan z') WHERE seq = 1")
    code, out, _ = run(capsys, "audit", "verify", "--db", url, "--checkpoint", str(path))
    assert code == 1
    assert "audit chain broken at seq 1: edited row" in out


def test_dropped_last_events_are_not_consistent(
    store: SqlAuditStore, url: str, signing: Path, tamper: Tamper, capsys: pytest.CaptureFixture[str]
) -> None:
    """The last plan's events and rows removed cleanly: the chain holds, the checkpoint does not."""
    add_plans(store, "a", "b", "c")
    path = signed(url, capsys)
    tamper(
        "DELETE FROM plan_scopes WHERE digest IN (SELECT digest FROM events WHERE seq = 5)",
        "DELETE FROM plans WHERE digest IN (SELECT digest FROM events WHERE seq = 5)",
        "DELETE FROM op_records WHERE event_seq >= 5",
        "DELETE FROM trashed_files WHERE event_seq >= 5",
        "DELETE FROM events WHERE seq >= 5",
    )
    assert run(capsys, "audit", "verify", "--db", url)[0] == 0
    code, out, _ = run(capsys, "audit", "verify", "--db", url, "--checkpoint", str(path))
    assert code == 1
    assert "the database holds 4 events, fewer than the 6 the checkpoint signed: events were dropped" in out


def test_a_log_rewritten_with_recomputed_hashes_is_not_consistent(
    store: SqlAuditStore, url: str, signing: Path, tamper: Tamper, capsys: pytest.CaptureFixture[str]
) -> None:
    """An actor rewritten and every later hash recomputed: the chain holds, the consistency proof fails."""
    add_plans(store, "a", "b", "c")
    path = signed(url, capsys)
    add_plans(store, "d")
    statements, prev = [], GENESIS
    for link in store.links():
        changed = replace(link, actor="mallory" if link.seq == 3 else link.actor, prev_hash=prev)
        changed = replace(changed, hash=changed.computed_hash())
        statements.append(
            f"UPDATE events SET actor = '{changed.actor}', prev_hash = '{changed.prev_hash}', "  # noqa: S608
            f"hash = '{changed.hash}' WHERE seq = {link.seq}"
        )
        prev = changed.hash
    tamper(*statements)
    assert run(capsys, "audit", "verify", "--db", url)[0] == 0
    code, out, _ = run(capsys, "audit", "verify", "--db", url, "--checkpoint", str(path))
    assert code == 1
    assert (
        "is not consistent with the database: the database's first 6 events are not those the checkpoint"
        in out
    )
    code, _, err = run(capsys, "audit", "checkpoint", "--db", url)
    assert code == 0  # a new size, a new file: the old checkpoint stays as published
    tamper("DELETE FROM events WHERE seq > 6")
    code, _, err = run(capsys, "audit", "checkpoint", "--db", url)
    assert code == 1
    assert "already holds a different checkpoint of 6 events" in err


def test_a_forged_or_edited_checkpoint_is_refused(
    store: SqlAuditStore, url: str, signing: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A checkpoint signed by another key, or with its root edited, is refused in one line, exit 1."""
    add_plans(store, "a")
    path = signed(url, capsys)
    forger = checkpoints.parse_signer(checkpoints.new_signer_key("firm.example/pva"))
    forged = path.parent / "forged"
    forged.write_text(
        checkpoints.sign(checkpoints.Checkpoint("firm.example/pva", 2, bytes(32)), forger), encoding="utf-8"
    )
    code, out, err = run(capsys, "audit", "verify", "--db", url, "--checkpoint", str(forged))
    assert (code, out) == (1, "")
    assert err.strip() == "pva: the checkpoint carries no signature of the key " + "+".join(
        VERIFIER.split("+")[:2]
    )
    lines = path.read_text(encoding="utf-8").split("\n")
    lines[2] = base64.b64encode(bytes(32)).decode()
    forged.write_text("\n".join(lines), encoding="utf-8")
    code, out, err = run(capsys, "audit", "verify", "--db", url, "--checkpoint", str(forged))
    assert (code, out) == (1, "")
    assert "does not verify: the checkpoint was edited or forged" in err


def test_key_prints_the_verifier_and_new_keys(
    signing: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``key`` prints the verifier of the setting; ``key --new`` a new signer key; no key is exit 2."""
    assert run(capsys, "audit", "key") == (0, VERIFIER + "\n", "")
    code, out, _ = run(capsys, "audit", "key", "--new", "--name", "other.example/log")
    assert code == 0
    assert checkpoints.parse_signer(out.strip()).name == "other.example/log"
    monkeypatch.delenv("PVA_CHECKPOINT_KEY")
    code, _, err = run(capsys, "audit", "key")
    assert code == 2
    assert "PVA_CHECKPOINT_KEY is not set" in err
    monkeypatch.setenv("PVA_CHECKPOINT_KEY", VERIFIER)
    code, _, err = run(capsys, "audit", "key")
    assert code == 2
    assert "PVA_CHECKPOINT_KEY: a signer key begins with PRIVATE+KEY+" in err
