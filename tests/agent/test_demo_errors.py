"""The example demo's failures: one line and an exit code, never a traceback, and nothing seeded first."""

from __future__ import annotations

from pathlib import Path

import pytest

from examples.custodians import demo
from tests.servers import free_port

ELSEWHERE = "matters/globex"  # outside the agent token's scope (matters/acme)


def _run(store: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = demo.main(["--store", str(store), "--subtree", ELSEWHERE])
    return code, capsys.readouterr().err


def test_a_token_of_another_scope_is_one_line_and_seeds_nothing(
    server: str,
    store: Path,
    tokens: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A token whose scope does not hold the subtree: exit 2, one line naming the problem, no file written."""
    monkeypatch.setenv("PVA_URL", server)
    monkeypatch.setenv("PVA_TOKEN", tokens["agent"])
    code, err = _run(store, capsys)
    assert code == 2
    assert len(err.strip().splitlines()) == 1, err
    assert "scope" in err
    assert not (store / ELSEWHERE).exists()


def test_a_missing_token_is_one_line_and_seeds_nothing(
    server: str, store: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """No PVA_TOKEN: exit 2 with one line saying to set it; no files written."""
    monkeypatch.setenv("PVA_URL", server)
    monkeypatch.delenv("PVA_TOKEN", raising=False)
    code, err = _run(store, capsys)
    assert code == 2
    assert "PVA_TOKEN" in err
    assert len(err.strip().splitlines()) == 1, err
    assert not (store / ELSEWHERE).exists()


def test_an_unreachable_sidecar_is_one_line_and_seeds_nothing(
    store: Path, tokens: dict[str, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Nothing listening at PVA_URL: exit 3 with one line; no files written."""
    monkeypatch.setenv("PVA_URL", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("PVA_TOKEN", tokens["agent"])
    code, err = _run(store, capsys)
    assert code == 3
    assert len(err.strip().splitlines()) == 1, err
    assert not (store / ELSEWHERE).exists()
