"""``pva serve``: unsafe settings refused in production, warned about in development; failures in one line."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from planner.cli.main import main
from sidecar import db
from sidecar.cli.serve import ADMIN_TOKEN_FILE, admin_token, listening
from sidecar.settings import Settings, unsafe
from sidecar.tokens import TokenStore
from tests.support.apps import migrated_sqlite


@pytest.mark.parametrize(
    ("settings", "empty_policy", "errors", "warnings"),
    [
        (Settings(), False, 0, 0),
        (Settings(host="0.0.0.0"), False, 0, 1),  # noqa: S104  # the setting under test
        (Settings(host="0.0.0.0", environment="production"), False, 1, 2),  # noqa: S104  # + SQLite, sessions
        (Settings(host="10.0.0.5", tls_proxy=True, environment="production"), False, 0, 2),
        (Settings(), True, 0, 1),
        (Settings(environment="production"), True, 1, 2),
        (Settings(approval_ttl=None), False, 0, 1),
        (Settings(checkpoint_dir="var/checkpoints"), False, 0, 1),  # a folder without a key
    ],
)
def test_unsafe_settings_are_errors_in_production_and_warnings_elsewhere(
    settings: Settings, empty_policy: bool, errors: int, warnings: int
) -> None:
    """Binding beyond loopback without TLS and an empty policy stop production; the rest are warnings."""
    found = unsafe(settings, empty_policy=empty_policy)
    assert (len(found[0]), len(found[1])) == (errors, warnings), found


def test_production_off_loopback_without_tls_refuses_to_start(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """pva serve exits 2 before listening when production settings are unsafe, saying why."""
    monkeypatch.setenv("PVA_ENVIRONMENT", "production")
    monkeypatch.setenv("PVA_HOST", "0.0.0.0")  # noqa: S104  # the setting under test
    assert main(["serve"]) == 2
    err = capsys.readouterr().err
    assert "REFUSED: PVA_HOST=0.0.0.0 serves bearer tokens in clear text" in err
    assert "REFUSED: the policy has no rules" in err


def test_an_unmigrated_database_is_one_line_and_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """pva serve over a database never migrated says to run pva db upgrade, without a traceback."""
    (tmp_path / "store").mkdir()
    monkeypatch.setenv("PVA_STORE", str(tmp_path / "store"))
    monkeypatch.setenv("PVA_DATABASE_URL", f"sqlite:///{tmp_path / 'new.db'}")
    assert main(["serve"]) == 2
    err = capsys.readouterr().err
    assert "pva db upgrade" in err
    assert "Traceback" not in err


def test_an_invalid_policy_file_stops_the_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A policy file that is not policy/v1 is refused at start, naming the problem."""
    policy = tmp_path / "policy.toml"
    policy.write_text('version = "policy/v1"\n[[rules]]\nname = "x"\noutcome = "deny"\n')
    url = migrated_sqlite(tmp_path, "pva.db")
    monkeypatch.setenv("PVA_POLICY", str(policy))
    assert main(["serve", "--db", url, "--store", str(tmp_path)]) == 2
    assert "invalid policy" in capsys.readouterr().err


# -- pva serve --init: the port first, one admin token kept across restarts ------------------------


def _init_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, port: int) -> Settings:
    url = f"sqlite:///{tmp_path / 'pva.db'}"
    for name, value in {
        "PVA_STORE": str(tmp_path / "store"),
        "PVA_DATABASE_URL": url,
        "PVA_STATE_DIR": str(tmp_path / "state"),
        "PVA_PORT": str(port),
    }.items():
        monkeypatch.setenv(name, value)
    return Settings.load()


def _active_admins(url: str) -> list[str]:
    with db.opened(TokenStore, url) as tokens:
        return [t.name for t in tokens.list() if t.role.value == "admin" and t.status == "active"]


def test_a_busy_port_is_one_line_naming_pva_port_and_mints_no_token(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """pva serve --init on a port in use exits 2 naming PVA_PORT, before it makes any admin token."""
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        settings = _init_settings(tmp_path, monkeypatch, busy.getsockname()[1])
        assert main(["serve", "--init"]) == 2
    err = capsys.readouterr().err
    assert "PVA_PORT" in err
    assert "in use" in err
    assert "Traceback" not in err
    assert not (tmp_path / "state" / ADMIN_TOKEN_FILE).exists()
    db.upgrade(settings.database_url)
    assert _active_admins(settings.database_url) == []


def test_init_keeps_one_admin_token_across_restarts_and_rotates_on_request(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--init makes an admin token once, kept in a 0600 file and reused; --rotate revokes it for a new one."""
    settings = _init_settings(tmp_path, monkeypatch, 8000)
    db.upgrade(settings.database_url)
    first = admin_token(settings, rotate=False)
    again = admin_token(settings, rotate=False)
    assert (again.secret, again.fresh, first.fresh) == (first.secret, False, True)
    kept = tmp_path / "state" / ADMIN_TOKEN_FILE
    assert kept.stat().st_mode & 0o777 == 0o600
    assert _active_admins(settings.database_url) == [first.name]
    rotated = admin_token(settings, rotate=True)
    assert rotated.secret != first.secret
    assert _active_admins(settings.database_url) == [rotated.name]
    assert kept.read_text().strip() == rotated.secret


def test_init_replaces_a_kept_token_that_was_revoked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A kept admin token revoked meanwhile (pva token revoke) is replaced by a new one, not reused."""
    settings = _init_settings(tmp_path, monkeypatch, 8000)
    db.upgrade(settings.database_url)
    first = admin_token(settings, rotate=False)
    with db.opened(TokenStore, settings.database_url) as tokens:
        tokens.revoke(first.name)
    second = admin_token(settings, rotate=False)
    assert second.fresh
    assert _active_admins(settings.database_url) == [second.name]


def test_accepted_connections_send_without_waiting_for_acks() -> None:
    """The listener's connections have TCP_NODELAY: a response's body never waits on a delayed ACK."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with (
        listening(Settings(host="127.0.0.1", port=port)) as listener,
        socket.create_connection(("127.0.0.1", port)),
    ):
        accepted, _ = listener.accept()
        with accepted:
            assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
