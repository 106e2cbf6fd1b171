"""End to end: the example agent plans over a seeded store's manifest; verify, submit, approve, apply."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from examples.custodians import demo
from examples.custodians.agent import custodian_of
from planner.agent.snapshot import scan
from planner.cli.shell import write_lines_atomically
from planner.client.http_client import PvaClient
from planner.core.manifest import manifest_lines
from planner.core.parse import parse_plan
from tests.agent.conftest import MATTER

AGENT = Path(__file__).parents[2] / "examples" / "custodians" / "agent.py"
INBOX = f"{MATTER}/discovery/inbox"
SORTED = f"{MATTER}/discovery/custodians"


def test_custodian_rules() -> None:
    """The From: address names the custodian, else a 'name--' file name; anything else is left alone."""
    assert custodian_of("1.eml", b"From: Alice Smith <alice@x>\n\nbody") == (
        "alice",
        "From: header names Alice Smith <alice@x>",
    )
    assert custodian_of("1.eml", b"From: <Carol.Wu@x>\n")[0] == "carol-wu"  # type: ignore[index]
    assert custodian_of("carol--notes.pdf", None)[0] == "carol"  # type: ignore[index]
    assert custodian_of("scan.pdf", None) is None
    assert custodian_of("2.eml", b"Subject: no sender\n\nFrom: not a header\n") is None


def _run_agent(store: Path, tmp_path: Path) -> Path:
    manifest, out = tmp_path / "manifest.jsonl", tmp_path / "plan.json"
    write_lines_atomically(manifest, manifest_lines(scan(store), str(store), hashed=True))
    command = [sys.executable, str(AGENT), "--manifest", str(manifest), "--root", str(store)]
    subprocess.run([*command, "--subtree", MATTER, "--out", str(out)], check=True, timeout=60)
    return out


def test_agent_plan_verify_submit_approve_apply_history(
    store: Path, tmp_path: Path, as_: dict[str, PvaClient]
) -> None:
    """The example's plan verifies, is submitted by the agent, approved and applied by alice, and audited."""
    plan = parse_plan(_run_agent(store, tmp_path).read_bytes())
    assert all(op.reason for op in plan.ops)
    agent, alice = as_["agent"], as_["alice"]

    assert agent.verify(plan).ok
    submitted = agent.submit(plan)
    assert (submitted.state, submitted.author) == ("pending", "agent")
    assert alice.approve(submitted.id, "custodians checked").state == "approved"
    assert alice.apply(submitted.id).state == "applying"  # queued: a worker applies it
    applied = alice.wait(submitted.id, timeout=120)
    assert applied.state == "applied"

    assert (store / SORTED / "alice" / "0001.eml").is_file()
    assert (store / SORTED / "alice" / "0003.eml").is_file()  # the same address, without a display name
    assert (store / SORTED / "bob" / "bob--board-minutes.pdf").is_file()
    assert (store / INBOX / "scan-0004.pdf").is_file()  # no rule applies: left where it was
    history = as_["auditor"].history(f"{INBOX}/0001.eml")
    assert history["current"] == [f"{SORTED}/alice/0001.eml"]
    events = as_["auditor"].audit(plan=submitted.id, all_pages=True)
    assert "apply" in {event["kind"] for event in events}


def test_demo_submits_against_a_running_sidecar(
    server: str,
    store: Path,
    tokens: dict[str, str],
    as_: dict[str, PvaClient],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The documented one-command demo plans over the sidecar's manifest and leaves a pending plan."""
    monkeypatch.setenv("PVA_URL", server)
    monkeypatch.setenv("PVA_TOKEN", tokens["agent"])
    assert demo.main(["--store", str(store), "--subtree", MATTER]) == 0
    (listed,) = as_["auditor"].list()
    assert (listed.state, listed.author, listed.title) == (
        "pending",
        "agent",
        "Organise discovery by custodian",
    )
