"""Tampered tokens and values pva never writes: ``pva audit verify`` reports them, no command crashes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.exc import DBAPIError

from planner.cli.main import main
from sidecar.audit.chain import Link, canonical
from sidecar.audit.store import SqlAuditStore
from sidecar.tokens import TokenStore
from tests.audit.conftest import applied, make_plan

Tamper = Callable[..., None]


@pytest.fixture
def tokens(url: str, store: SqlAuditStore) -> SqlAuditStore:
    """An audit with one plan applied and two tokens: 'ci' (expiring) and 'ops'."""
    plan = make_plan({"op": "mkdir", "path": "m/0"}, title="plan 0")
    store.record_plan(plan, author="agent")
    store.record_apply(applied(plan))
    made = TokenStore.open(url)
    try:
        made.create("agent", "ci", ["m"], expires=datetime.now(UTC) + timedelta(days=30))
        made.create("admin", "ops")
        made.create("agent", "sandbox", ["m"], expires=datetime.now(UTC) + timedelta(hours=1), read_only=True)
    finally:
        made.close()
    assert store.verify_chain() is None
    return store


def verify_says(url: str, capsys: pytest.CaptureFixture[str]) -> str:
    """What ``pva audit verify`` prints, after checking it exits 1 (broken) with no traceback."""
    assert main(["audit", "verify", "--db", url]) == 1
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    return captured.out


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(
            ("UPDATE tokens SET secret_sha256 = '" + "ab" * 32 + "' WHERE name = 'ops'", "secret hash"),
            id="secret-hash",
        ),
        pytest.param(("UPDATE tokens SET expires = NULL WHERE name = 'ci'", "expiry"), id="expiry-cleared"),
        pytest.param(("DELETE FROM tokens WHERE name = 'ci'", "row is missing"), id="row-deleted"),
        pytest.param(
            ("UPDATE tokens SET read_only = false WHERE name = 'sandbox'", "differs from the event"),
            id="read-only-lifted",
        ),
    ],
)
@pytest.mark.usefixtures("tokens")
def test_token_tampering_is_reported(
    tamper: Tamper, url: str, capsys: pytest.CaptureFixture[str], case: tuple[str, str]
) -> None:
    """A forged secret hash, a cleared expiry and a deleted token row each break verification."""
    statement, found = case
    tamper(statement)
    out = verify_says(url, capsys)
    assert found in out
    assert "token tok_" in out


def test_a_time_that_is_not_a_time_is_reported_not_a_traceback(
    tokens: SqlAuditStore, tamper: Tamper, url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """events.time holding text that is no time: verify names the row; export and show stop with one line."""
    if url.startswith("postgresql"):  # a timestamptz column refuses the text itself
        with pytest.raises(DBAPIError):
            tamper("UPDATE events SET time = 'not a time' WHERE seq = 2")
        return
    tamper("UPDATE events SET time = 'not a time' WHERE seq = 2")
    assert "seq 2" in verify_says(url, capsys)
    assert main(["audit", "export", "--db", url]) == 3
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert "seq 2" in err
    assert len(err.strip().splitlines()) == 1
    digest = tokens.list_plans()[0].digest
    for argv in (["audit", "show", digest],):
        assert main([*argv, "--db", url]) == 3, argv
        err = capsys.readouterr().err
        assert "Traceback" not in err
        assert "is damaged" in err, argv
        assert "'not a time'" in err


def test_scopes_that_are_not_json_are_reported_not_a_traceback(
    tokens: SqlAuditStore, tamper: Tamper, url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """tokens.scopes holding no JSON list: verify names the token, token list shows the row as damaged."""
    tamper("UPDATE tokens SET scopes = 'nope' WHERE name = 'ci'")
    out = verify_says(url, capsys)
    assert "token tok_" in out
    assert "(ci)" in out
    assert main(["token", "list", "--db", url]) == 0
    listed = capsys.readouterr()
    assert "Traceback" not in listed.err
    assert "ci" in listed.out
    assert "ops" in listed.out


def test_a_rehashed_token_event_pva_never_writes_is_reported_by_its_seq(
    tokens: SqlAuditStore, tamper: Tamper, url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """The last event, a token's, rewritten with a numeric name and rehashed: verify names it malformed."""
    event = tokens.events()[-1]
    assert event.kind == "token"
    payload = canonical(event.payload | {"name": 7})
    forged = Link(event.seq, event.time, event.kind, event.digest, event.actor, payload, event.prev_hash, "")
    quoted = payload.replace(":", "\\:")  # text() reads a bare colon as a bind parameter
    tamper(
        f"UPDATE events SET payload = '{quoted}', hash = '{forged.computed_hash()}' WHERE seq = {event.seq}"  # noqa: S608
    )
    out = verify_says(url, capsys)
    assert f"audit chain broken at seq {event.seq}: malformed token payload" in out
