"""Settings from the environment: the forms people type are taken; a wrong one is one line, no traceback."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from planner.cli.main import main
from sidecar.settings import BadSetting, Settings


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("10s", timedelta(seconds=10)),
        ("30m", timedelta(minutes=30)),
        ("2h", timedelta(hours=2)),
        ("7d", timedelta(days=7)),
        ("PT30M", timedelta(minutes=30)),
        ("00:30:00", timedelta(minutes=30)),
    ],
)
def test_durations_take_the_forms_people_type(
    monkeypatch: pytest.MonkeyPatch, text: str, expected: timedelta
) -> None:
    """A duration setting takes 10s, 30m, 2h, 7d (as --expires does), ISO 8601 and HH:MM:SS."""
    monkeypatch.setenv("PVA_APPLY_LEASE", text)
    monkeypatch.setenv("PVA_APPROVAL_TTL", text)
    monkeypatch.setenv("PVA_SESSION_TTL", text)
    settings = Settings.load()
    assert settings.apply_lease == settings.approval_ttl == settings.session_ttl == expected


@pytest.mark.parametrize(
    ("variable", "value", "says"),
    [
        ("PVA_APPLY_LEASE", "soon", "a duration"),
        ("PVA_APPROVAL_TTL", "10x", "a duration"),
        ("PVA_PORT", "eighty", "a whole number"),
        ("PVA_PORT", "70000", "a value of at most 65535"),
        ("PVA_REQUEST_THREADS", "0", "a value of at least 1"),
        ("PVA_DATABASE_POOL", "-2", "a value of at least 1"),
        ("PVA_LOCK_LEASE", "PT0.5S", "a value of at least 1s"),
        ("PVA_WATCH_INTERVAL", "PT0S", "a value of more than 0s"),  # a duration or none
        ("PVA_PUBLIC_URL", "ftp://pva.firm.example", "text matching"),
        ("PVA_ENVIRONMENT", "prod", "development"),
        ("PVA_AUTO_APPLY", "maybe", "true or false"),
    ],
)
def test_an_invalid_setting_names_the_variable_and_what_it_takes(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, says: str
) -> None:
    """An invalid setting is a BadSetting naming the variable, the value and what it takes."""
    monkeypatch.setenv(variable, value)
    with pytest.raises(BadSetting) as refused:
        Settings.load()
    message = str(refused.value)
    assert variable in message
    assert repr(value) in message
    assert says in message


def test_an_invalid_secret_is_named_but_never_echoed(monkeypatch: pytest.MonkeyPatch) -> None:
    """The error goes to a terminal or a journal: it names the setting and what it takes, not the value."""
    secret = "too-short-but-a-secret"  # noqa: S105  # test data
    monkeypatch.setenv("PVA_SESSION_SECRET", secret)
    with pytest.raises(BadSetting) as refused:
        Settings.load()
    message = str(refused.value)
    assert "PVA_SESSION_SECRET" in message
    assert "at least 32 characters" in message
    assert secret[:6] not in message


@pytest.mark.parametrize(
    "command",
    [["serve"], ["token", "list"], ["db", "upgrade"], ["audit", "verify"], ["recover"]],
    ids=" ".join,
)
def test_every_command_says_which_setting_is_wrong_without_a_traceback(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    command: list[str],
) -> None:
    """Every sidecar command given PVA_APPLY_LEASE=soon exits 2 with one line naming it."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PVA_APPLY_LEASE", "soon")
    assert main(command) == 2
    err = capsys.readouterr().err
    assert "PVA_APPLY_LEASE" in err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err
