"""``pva token create|list|revoke``: end to end through ``pva``'s main, on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta

import pytest

from planner.cli.main import main
from sidecar.tokens import TokenStore


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def authenticate(url: str, secret: str) -> str | None:
    """The name the secret authenticates as, or None."""
    store = TokenStore.open(url)
    try:
        found = store.authenticate(secret)
    finally:
        store.close()
    return None if found is None else found.name


def test_create_prints_the_secret_alone_and_what_it_grants_aside(
    url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """create prints only the secret on stdout (for $(...)), the grant and a keep-it-now warning on stderr."""
    code, out, err = run(
        capsys, "token", "create", "--db", url, "--role", "agent", "--name", "ci", "--scope", "matters/acme"
    )
    assert code == 0
    secret = out.strip()
    assert out == secret + "\n"
    assert secret.startswith("pva_")
    assert "'ci': agent on matters/acme" in err
    assert "shown this once" in err
    assert secret not in err
    assert authenticate(url, secret) == "ci"


def test_create_json_gives_the_token_and_its_secret_once(
    url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """create --json prints the versioned document: the token's details and the secret, nothing else."""
    code, out, err = run(
        capsys,
        "token",
        "create",
        "--db",
        url,
        "--role",
        "admin",
        "--name",
        "ops",
        "--actor",
        "alice",
        "--json",
    )
    assert (code, err) == (0, "")
    body = json.loads(out)
    assert body["version"] == "token-created/v1"
    assert body["token"]["name"] == "ops"
    assert body["token"]["scopes"] == ["*"]
    assert body["token"]["created_by"] == "alice"
    assert body["token"]["status"] == "active"
    assert body["token"]["id"].startswith("tok_")
    assert authenticate(url, body["secret"]) == "ops"


def test_list_shows_tokens_but_never_a_secret_or_hash(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    """list, as a table or as JSON, shows each token's name, role, status and scopes, never secret or hash."""
    _, secret, _ = run(
        capsys, "token", "create", "--db", url, "--role", "auditor", "--name", "aud", "--scope", "matters"
    )
    secret = secret.strip()
    hashed = hashlib.sha256(secret.encode()).hexdigest()
    code, table, _ = run(capsys, "token", "list", "--db", url)
    assert code == 0
    assert "aud" in table
    assert "auditor" in table
    assert "active" in table
    assert "matters" in table
    code, out, _ = run(capsys, "token", "list", "--db", url, "--json")
    body = json.loads(out)
    assert body["version"] == "tokens/v1"
    assert [(t["name"], t["role"], t["scopes"]) for t in body["tokens"]] == [("aud", "auditor", ["matters"])]
    for shown in (table, out):
        assert secret not in shown
        assert secret[4:] not in shown
        assert hashed not in shown


def test_list_of_no_tokens(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    """An empty token table lists as 'no tokens'."""
    assert run(capsys, "token", "list", "--db", url) == (0, "no tokens\n", "")


def test_revoke_by_name_and_by_id(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    """revoke takes a name or an id; the secret stops working and list shows the token revoked."""
    secrets = {}
    for name in ("one", "two"):
        _, out, _ = run(
            capsys, "token", "create", "--db", url, "--role", "agent", "--name", name, "--scope", "m"
        )
        secrets[name] = out.strip()
    code, out, _ = run(capsys, "token", "revoke", "one", "--db", url, "--actor", "bob")
    assert code == 0
    assert out.startswith("revoked token tok_")
    assert out.rstrip().endswith("by bob")
    _, listing, _ = run(capsys, "token", "list", "--db", url, "--json")
    two_id = next(t["id"] for t in json.loads(listing)["tokens"] if t["name"] == "two")
    code, out, _ = run(capsys, "token", "revoke", two_id, "--db", url, "--json")
    assert code == 0
    assert json.loads(out)["token"]["status"] == "revoked"
    assert authenticate(url, secrets["one"]) is None
    assert authenticate(url, secrets["two"]) is None
    _, table, _ = run(capsys, "token", "list", "--db", url)
    assert table.count("revoked") == 2


def test_expires_takes_a_duration_or_a_time(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    """--expires 30d is thirty days from now; an ISO time without a zone is UTC."""
    before = datetime.now(UTC)
    _, out, _ = run(
        capsys, "token", "create", "--db", url, "--role", "admin", "--name", "a", "--expires", "30d", "--json"
    )
    expires = datetime.fromisoformat(json.loads(out)["token"]["expires"])
    assert before + timedelta(days=30) <= expires <= datetime.now(UTC) + timedelta(days=30)
    _, out, _ = run(
        capsys,
        "token",
        "create",
        "--db",
        url,
        "--role",
        "admin",
        "--name",
        "b",
        "--expires",
        "2999-01-02T03:04",
    )
    _, out, _ = run(capsys, "token", "list", "--db", url, "--json")
    assert json.loads(out)["tokens"][1]["expires"] == "2999-01-02T03:04:00.000000Z"


def test_an_expired_token_lists_as_expired(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    """A token past its expiry shows as expired in the list."""
    then = datetime(2020, 1, 1, tzinfo=UTC)
    store = TokenStore.open(url, clock=lambda: then)
    store.create("agent", "old", ["m"], expires=then + timedelta(hours=1))
    store.close()
    _, out, _ = run(capsys, "token", "list", "--db", url, "--json")
    assert json.loads(out)["tokens"][0]["status"] == "expired"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--role", "agent", "--name", "x"], "pva: a token with role agent needs at least one scope"),
        (["--role", "agent", "--name", "x", "--scope", "../up"], "pva: scope refused: path '../up'"),
        (["--role", "agent", "--name", "x", "--scope", ""], "pva: empty scope: give a store path, or '*'"),
        (["--role", "agent", "--name", "a b", "--scope", "m"], "pva: token name 'a b': 1 to 100"),
        (["--role", "admin", "--name", "x", "--expires", "soon"], "pva: --expires 'soon': give a number"),
        (["--role", "admin", "--name", "x", "--expires", "2001-01-01"], "pva: the expiry 2001-01-01T00"),
    ],
)
def test_a_refused_create_is_one_line_and_exit_2(
    url: str, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    """A missing or hostile scope, a bad name or a bad expiry is one line on stderr, exit 2, no token made."""
    code, out, err = run(capsys, "token", "create", "--db", url, *argv)
    assert (code, out) == (2, "")
    assert err.startswith(message)
    assert len(err.splitlines()) == 1
    assert run(capsys, "token", "list", "--db", url) == (0, "no tokens\n", "")


def test_a_taken_name_and_an_unknown_token_are_one_line(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Creating a name twice and revoking a token that does not exist exit 2 with one line each."""
    run(capsys, "token", "create", "--db", url, "--role", "admin", "--name", "dup")
    code, _, err = run(capsys, "token", "create", "--db", url, "--role", "admin", "--name", "dup")
    assert (code, err) == (
        2,
        "pva: a token named 'dup' exists (names stay taken after revocation: the audit uses them)\n",
    )
    code, _, err = run(capsys, "token", "revoke", "ghost", "--db", url)
    assert (code, err) == (2, "pva: no token named 'ghost'\n")


def test_an_unknown_role_is_an_argparse_error(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    """--role takes only the four roles; anything else is a usage error with exit 2."""
    with pytest.raises(SystemExit) as exited:
        main(["token", "create", "--db", url, "--role", "root", "--name", "x"])
    assert exited.value.code == 2
    assert "invalid choice: 'root'" in capsys.readouterr().err


def test_an_unmigrated_or_unreachable_database_is_one_line(
    empty_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A database never migrated is one line and exit 2 (create makes nothing); one not reachable, exit 3."""
    code, out, err = run(capsys, "token", "create", "--db", empty_url, "--role", "admin", "--name", "x")
    assert (code, out) == (2, "")
    assert err.endswith("run 'pva db upgrade'\n")
    assert len(err.splitlines()) == 1
    code, _, err = run(capsys, "token", "list", "--db", "postgresql://nobody@127.0.0.1:1/none")
    assert code == 3
    assert err.startswith("pva: cannot open the audit database postgresql+psycopg://nobody@127.0.0.1:1/none")
    assert len(err.splitlines()) == 1


def test_the_database_defaults_to_the_settings(
    url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without --db the commands use PVA_DATABASE_URL, as the other sidecar commands do."""
    monkeypatch.setenv("PVA_DATABASE_URL", url)
    assert run(capsys, "token", "create", "--role", "admin", "--name", "env")[0] == 0
    _, out, _ = run(capsys, "token", "list", "--json")
    assert [t["name"] for t in json.loads(out)["tokens"]] == ["env"]


def test_create_with_email_keeps_the_address_approvers_are_mailed_at(
    url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """--email is kept and listed for an approver; an agent's, or a malformed address, is refused (exit 2)."""
    argv = ["token", "create", "--db", url, "--role", "approver", "--name", "alice", "--scope", "matters"]
    code, _, err = run(capsys, *argv, "--email", "alice@firm.example")
    assert code == 0
    assert "mailed at alice@firm.example" in err
    code, out, _ = run(capsys, "token", "list", "--db", url, "--json")
    assert [t["email"] for t in json.loads(out)["tokens"]] == ["alice@firm.example"]
    agent = ["token", "create", "--db", url, "--role", "agent", "--name", "bot", "--scope", "matters"]
    assert run(capsys, *agent, "--email", "bot@firm.example")[0] == 2
    assert run(capsys, *argv[:-3], "bob", "--scope", "matters", "--email", "bob at firm")[0] == 2


def test_read_only_tokens_must_expire_within_the_sandbox_maximum(
    url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """pva token create --read-only needs --expires within PVA_SANDBOX_TOKEN_TTL; the token says read_only."""
    monkeypatch.setenv("PVA_SANDBOX_TOKEN_TTL", "2h")
    base = ["token", "create", "--db", url, "--role", "agent", "--scope", "m", "--read-only", "--json"]
    assert main([*base, "--name", "box-long", "--expires", "3h"]) == 2
    assert "at most" in capsys.readouterr().err
    assert main([*base, "--name", "box-none"]) == 2
    assert "must expire" in capsys.readouterr().err
    assert main([*base, "--name", "box", "--expires", "1h"]) == 0
    assert json.loads(capsys.readouterr().out)["token"]["read_only"] is True


def test_groups_are_given_at_create_listed_and_carried_by_the_token(
    url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """--group (repeatable) for approvers: shown by create and list, and on the authenticated principal."""
    argv = ["token", "create", "--db", url, "--role", "approver", "--name", "pat", "--scope", "matters"]
    code, out, err = run(capsys, *argv, "--group", "records", "--group", "acme-partners")
    assert code == 0
    assert "groups acme-partners, records" in err
    store = TokenStore.open(url)
    try:
        principal = store.authenticate(out.strip())
    finally:
        store.close()
    assert principal is not None
    assert principal.groups == ("acme-partners", "records")
    code, out, _ = run(capsys, "token", "list", "--db", url, "--json")
    assert [t["groups"] for t in json.loads(out)["tokens"]] == [["acme-partners", "records"]]
    code, _, err = run(
        capsys,
        "token",
        "create",
        "--db",
        url,
        "--role",
        "agent",
        "--name",
        "a",
        "--scope",
        "m",
        "--group",
        "x",
    )
    assert code == 2
    assert "groups are approvers' and admins'" in err
    bad = [
        "token",
        "create",
        "--db",
        url,
        "--role",
        "approver",
        "--name",
        "bad",
        "--scope",
        "m",
        "--group",
        "Not A Group",
    ]
    code, _, err = run(capsys, *bad)
    assert code == 2
    assert "group 'Not A Group'" in err
