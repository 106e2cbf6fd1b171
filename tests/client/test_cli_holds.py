"""``pva hold`` and ``pva verify --holds`` or ``--server-holds``: legal holds from the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from planner.cli.main import main
from planner.core.holds import Hold
from sidecar.settings import Settings
from tests.client.conftest import FILE_IT, write_plan
from tests.support.tokens import create_tokens


@pytest.fixture(autouse=True)
def no_ambient_server(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test names its server and token itself; the shell's PVA_URL and PVA_TOKEN do not leak in."""
    monkeypatch.delenv("PVA_URL", raising=False)
    monkeypatch.delenv("PVA_TOKEN", raising=False)


@pytest.fixture
def counsel(settings: Settings) -> str:
    """A counsel token over the whole test store."""
    return create_tokens(settings.database_url, {"counsel": ("counsel", ["m"])})["counsel"]


def pva(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_counsel_places_lists_and_releases_a_hold(
    server: str, tokens: dict[str, str], counsel: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """pva hold place, list and release as counsel exit 0; an agent may list but not place (exit 2)."""
    remote = ["--server", server, "--token", counsel]
    code, out, _ = pva(
        capsys, "hold", "place", "m/inbox", "--matter", "Doe v. Roe", "--reason", "suit", *remote
    )
    assert code == 0
    assert out.startswith("placed hold_")
    assert "active 'Doe v. Roe': m/inbox" in out
    hold_id = out.split()[1]
    as_agent = ["--server", server, "--token", tokens["agent"]]
    code, _, err = pva(capsys, "hold", "place", "m/inbox", "--matter", "x", "--reason", "y", *as_agent)
    assert code == 2
    assert "only counsel and admins may place holds" in err
    code, out, _ = pva(capsys, "hold", "list", "--json", *as_agent)
    assert code == 0
    assert [hold["id"] for hold in json.loads(out)["holds"]] == [hold_id]
    code, out, _ = pva(capsys, "hold", "release", hold_id, "--reason", "settled", *remote)
    assert (code, out.startswith(f"released {hold_id} released")) == (0, True)
    assert pva(capsys, "hold", "list", *remote)[1] == "no holds\n"


def test_verify_takes_holds_from_a_file_or_the_sidecar(
    server: str, settings: Settings, counsel: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A plan moving a held file verifies with on_hold (exit 1) given the holds, and ok (exit 0) without."""
    remote = ["--server", server, "--token", counsel]
    assert pva(capsys, "hold", "place", "m/inbox", "--matter", "M", "--reason", "R", *remote)[0] == 0
    code, listed, _ = pva(capsys, "hold", "list", "--json", *remote)
    holds = tmp_path / "holds.json"
    holds.write_text(listed, encoding="utf-8")
    plan = write_plan(tmp_path, FILE_IT)
    local = ["verify", plan, "--root", settings.store]
    assert pva(capsys, *local)[0] == 0
    code, out, _ = pva(capsys, *local, "--holds", str(holds))
    assert code == 1
    assert "error[on_hold] op 1.src" in out
    code, out, _ = pva(capsys, *local, "--server-holds", *remote)
    assert (code, "error[on_hold]" in out) == (1, True)
    holds.write_text('{"holds": [{"id": "hold_1", "paths": ["/abs"]}]}', encoding="utf-8")
    code, _, err = pva(capsys, *local, "--holds", str(holds))
    assert code == 2
    assert "not a holds document: /holds/0/paths" in err


def test_the_client_gives_the_held_paths_for_verify(
    server: str, tokens: dict[str, str], counsel: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """PvaClient.held() is what verify(..., holds=) takes: one Hold per path in the caller's scope."""
    from planner.client.http_client import PvaClient  # one use

    with PvaClient(server, counsel) as client:
        placed = client.place_hold(["m/inbox", "m/notes.txt"], matter="M", reason="R")
    with PvaClient(server, tokens["agent"]) as client:
        assert set(client.held()) == {Hold(placed.id, "m/inbox"), Hold(placed.id, "m/notes.txt")}
    assert capsys.readouterr().err == ""
