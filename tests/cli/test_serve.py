"""``pva serve``: unsafe settings refused in production, warned about in development; failures in one line."""

from __future__ import annotations

from pathlib import Path

import pytest

from planner.cli.main import main
from sidecar import db
from sidecar.settings import Settings, unsafe


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
    url = f"sqlite:///{tmp_path / 'pva.db'}"
    db.upgrade(url)
    monkeypatch.setenv("PVA_POLICY", str(policy))
    assert main(["serve", "--db", url, "--store", str(tmp_path)]) == 2
    assert "invalid policy" in capsys.readouterr().err
