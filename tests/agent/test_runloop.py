"""The RunLoop flow with the real runloop-api-client against a fake RunLoop API (tests/agent/fake_runloop.py).

Against the real API: ``RUNLOOP_API_KEY=... PVA_URL=... PVA_TOKEN=<agent token>
pva runloop run --subtree matters/acme --command "python agent.py" --file
examples/custodians/agent.py --blueprint <an image with pva installed>``
(docs/agents.md, "RunLoop").
"""

from __future__ import annotations

import io
import json
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from planner.agent.runloop import (
    PLAN_PATH,
    SNAPSHOT_DIR,
    AgentFailed,
    NoPlan,
    PlanTooLarge,
    RunSpec,
    RunTimeout,
    run_agent,
    run_and_submit,
    run_view,
)
from planner.agent.snapshot import scan
from planner.cli.main import main
from planner.client.http_client import ClientError, PvaClient
from planner.core.manifest import read_entries
from tests.agent.conftest import MATTER
from tests.agent.fake_runloop import CHUNK, FakeRunLoop, Scenario

AGENT = Path(__file__).parents[2] / "examples" / "custodians" / "agent.py"
PLAN = {
    "pva": "plan/v1",
    "title": "File one e-mail",
    "scope": [MATTER],
    "ops": [{"op": "mkdir", "path": f"{MATTER}/alice"}],
}


def _spec(store: Path, **changes: object) -> RunSpec:
    fields: dict[str, object] = {
        "store": store,
        "subtree": MATTER,
        "command": "python agent.py",
        "sidecar_url": "http://sidecar.internal:8000",
        "files": {"agent.py": AGENT.read_text()},
        "poll": 0.01,
        **changes,
    }
    return RunSpec(**fields)  # type: ignore[arg-type]


def _finished_cleanly(fake: FakeRunLoop) -> None:
    assert fake.errors == []
    assert fake.all_shut_down()
    assert fake.deleted == list(fake.uploads)


def test_success_returns_the_plan_and_shuts_down(store: Path) -> None:
    """A run that writes a plan returns its bytes; the devbox is shut down and the snapshot object deleted."""
    fake = FakeRunLoop(Scenario(plan=json.dumps(PLAN).encode()))
    result = run_agent(fake.client(), _spec(store))
    assert result.plan().title == "File one e-mail"
    _finished_cleanly(fake)


def test_snapshot_holds_the_files_and_a_matching_manifest(store: Path) -> None:
    """The uploaded archive holds the subtree's files, read-only, and a manifest hashing exactly those."""
    fake = FakeRunLoop(Scenario(plan=json.dumps(PLAN).encode()))
    run_agent(fake.client(), _spec(store))
    members = fake.snapshot_members()
    files = {e.path for e in scan(store / MATTER) if e.kind == "file"}
    assert {n.removeprefix(f"store/{MATTER}/") for n in members if members[n].isfile()} == files | {
        "manifest.jsonl"
    }
    assert all(member.mode & 0o222 == 0 for member in members.values())
    lines = fake.snapshot_file("manifest.jsonl").decode().splitlines()
    entries = {e.path: e for e in read_entries(lines) if e.kind == "file"}
    local = {f"{MATTER}/{e.path}": e for e in scan(store / MATTER) if e.kind == "file"}
    assert {p: e.sha256 for p, e in entries.items()} == {p: e.sha256 for p, e in local.items()}


def test_devbox_is_read_only_and_the_agent_not_root(store: Path) -> None:
    """The snapshot is mounted, chowned to root and chmod a-w before the agent runs as a non-root user."""
    fake = FakeRunLoop(Scenario(plan=json.dumps(PLAN).encode()))
    run_agent(fake.client(), _spec(store))
    (box,) = fake.devboxes.values()
    (mount, code) = box.body["mounts"]
    assert (mount["type"], mount["object_path"]) == ("object_mount", SNAPSHOT_DIR)
    assert code == {"type": "file_mount", "target": "/pva/agent/agent.py", "content": AGENT.read_text()}
    setup, agent = box.commands
    assert f"chmod -R a-w,a+rX {SNAPSHOT_DIR}" in setup
    assert f"chown -R root:root {SNAPSHOT_DIR}" in setup
    assert agent.startswith("runuser -u pva-agent -- env ")
    for variable in ("PVA_URL=http://sidecar.internal:8000", f"PVA_MANIFEST={SNAPSHOT_DIR}/manifest.jsonl"):
        assert variable in agent
    assert "PVA_TOKEN" not in agent


def test_long_runs_are_not_cut_at_the_client_default(store: Path) -> None:
    """The polling limits follow the run's timeout, not the client's 120 attempts."""
    spec = _spec(store, timeout=7200.0, poll=1.0)
    polling = spec.polling(spec.timeout)
    assert polling.timeout_seconds == 7200.0
    assert polling.max_attempts * polling.interval_seconds > 7200.0


def test_agent_failure_raises_and_shuts_down(store: Path) -> None:
    """A non-zero exit raises AgentFailed with its output, and the devbox is still shut down."""
    fake = FakeRunLoop(Scenario(exit_status=3, stderr="Traceback: boom\n", plan=None))
    with pytest.raises(AgentFailed) as failed:
        run_agent(fake.client(), _spec(store))
    assert failed.value.exit_status == 3
    assert "boom" in str(failed.value)
    _finished_cleanly(fake)


def test_oversized_plan_is_not_read_past_the_cap(store: Path) -> None:
    """A plan file over the cap raises PlanTooLarge before the download is read to its end."""
    fake = FakeRunLoop(Scenario(plan=b" " * (CHUNK * 64)))
    with pytest.raises(PlanTooLarge):
        run_agent(fake.client(), _spec(store, max_plan_bytes=CHUNK * 2))
    assert fake.plan_chunks_served < 64
    _finished_cleanly(fake)


def test_missing_plan_raises_and_shuts_down(store: Path) -> None:
    """An agent that exits 0 without writing the plan file raises NoPlan naming the path."""
    fake = FakeRunLoop(Scenario(plan=None))
    with pytest.raises(NoPlan, match=PLAN_PATH):
        run_agent(fake.client(), _spec(store))
    _finished_cleanly(fake)


def test_timeout_raises_and_shuts_down(store: Path) -> None:
    """An agent still running when the timeout ends raises RunTimeout, and the devbox is shut down."""
    fake = FakeRunLoop(Scenario(finishes=False))
    with pytest.raises(RunTimeout):
        run_agent(fake.client(), _spec(store, timeout=0.05, poll=0.01))
    _finished_cleanly(fake)


def test_run_and_submit_submits_as_the_agent(store: Path, as_: dict[str, PvaClient]) -> None:
    """The fetched plan is submitted with the agent's token and comes back pending, authored by the agent."""
    fake = FakeRunLoop(Scenario(plan=json.dumps(PLAN).encode()))
    result, status = run_and_submit(fake.client(), _spec(store), as_["agent"])
    assert status.id == result.plan().digest()
    assert (status.state, status.author) == ("pending", "agent")
    _finished_cleanly(fake)


def _lazy_agent(
    seen: dict[str, Any],
) -> Callable[[dict[str, str], list[dict[str, Any]]], bytes]:
    """An agent that reads two files of the manifest through the sidecar, as the token it was given."""

    def agent(env: dict[str, str], mounts: list[dict[str, Any]]) -> bytes:
        manifest = next(m["content"] for m in mounts if m.get("target", "").endswith("manifest.jsonl"))
        files = [e.path for e in read_entries(manifest.splitlines()) if e.kind == "file"]
        seen["env"], seen["mounts"] = env, mounts
        with PvaClient(env["PVA_URL"], env["PVA_TOKEN"]) as client:
            seen["read"] = {path: client.read(path) for path in files[:2]}
            try:
                client.submit(PLAN)
            except ClientError as refused:
                seen["submit"] = refused.status
        return json.dumps(PLAN).encode()

    return agent


def test_the_lazy_view_sends_no_document_and_the_agent_reads_through_the_sidecar(
    store: Path, server: str, as_: dict[str, PvaClient]
) -> None:
    """--view lazy: a manifest and a read-only token, no bytes up front; two reads; the plan is submitted."""
    seen: dict[str, Any] = {}
    fake = FakeRunLoop(Scenario(agent=_lazy_agent(seen)))
    spec = _spec(store, view="lazy", sidecar_url=server)
    result, status = run_and_submit(fake.client(), spec, as_["agent"])
    assert fake.uploads == {}  # no snapshot object: no document left the store up front
    mounts = seen["mounts"]
    assert [m["type"] for m in mounts] == ["file_mount", "file_mount"]
    manifest = mounts[0]["content"]
    documents = {p: (store / p).read_bytes() for p in seen["read"]}
    assert seen["read"] == documents
    assert len(documents) == 2
    assert not any(content.decode() in manifest for content in documents.values())
    assert "PVA_STORE_COPY" not in seen["env"]
    assert seen["env"]["PVA_TOKEN"] != ""
    assert seen["submit"] == 403  # the devbox's token reads and verifies only
    assert (status.state, status.author, status.id) == ("pending", "agent", result.plan().digest())
    with PvaClient(server, seen["env"]["PVA_TOKEN"]) as gone, pytest.raises(ClientError) as revoked:
        gone.list_folder(MATTER)
    assert revoked.value.status == 401  # revoked when the run ended
    _finished_cleanly(fake)


def test_a_long_manifest_goes_as_a_storage_object_holding_nothing_else(
    store: Path, server: str, as_: dict[str, PvaClient]
) -> None:
    """Over the inline limit, the manifest is an object mounted where the file was; no document in it."""
    fake = FakeRunLoop()
    seen: dict[str, Any] = {}

    def agent(env: dict[str, str], mounts: list[dict[str, Any]]) -> bytes:
        (mount,) = mounts
        assert mount == {
            "type": "object_mount",
            "object_id": mount["object_id"],
            "object_path": "/pva/snapshot",
        }
        with tarfile.open(fileobj=io.BytesIO(fake.uploads[mount["object_id"]])) as archive:
            seen["members"] = archive.getnames()
            manifest = archive.extractfile("manifest.jsonl")
            assert manifest is not None
            text = manifest.read().decode()
        files = [e.path for e in read_entries(text.splitlines()) if e.kind == "file"]
        with PvaClient(env["PVA_URL"], env["PVA_TOKEN"]) as client:
            seen["read"] = client.read(files[0])
        return json.dumps(PLAN).encode()

    fake.scenario = Scenario(agent=agent)
    spec = _spec(store, view="lazy", sidecar_url=server, manifest_inline=100, files={})
    result, status = run_and_submit(fake.client(), spec, as_["agent"])
    assert seen["members"] == ["manifest.jsonl"]
    assert seen["read"] != b""
    assert status.id == result.plan().digest()
    _finished_cleanly(fake)  # the object deleted with the run


def test_the_lazy_token_is_limited_to_the_subtree(
    store: Path, server: str, as_: dict[str, PvaClient]
) -> None:
    """The devbox's token reads its subtree only, not the rest of the runner's scope."""
    seen: dict[str, Any] = {}

    def agent(env: dict[str, str], _mounts: list[dict[str, Any]]) -> bytes:
        with PvaClient(env["PVA_URL"], env["PVA_TOKEN"]) as client:
            try:
                client.list_folder(MATTER)  # the runner's scope, above the run's subtree
            except ClientError as refused:
                seen["outside"] = refused.status
        return json.dumps(PLAN).encode()

    fake = FakeRunLoop(Scenario(agent=agent))
    spec = _spec(store, view="lazy", sidecar_url=server, subtree=f"{MATTER}/discovery")
    run_view(fake.client(), spec, as_["agent"])
    assert seen["outside"] == 403


@pytest.mark.parametrize(
    ("url", "refused"),
    [
        ("http://127.0.0.1:8000", True),
        ("http://localhost:8000", True),
        ("http://[::1]:8000", True),
        ("http://0.0.0.0:8000", True),
        ("https://pva.firm.example", False),
        ("http://10.0.0.5:8000", False),
    ],
)
def test_a_lazy_run_refuses_a_sidecar_address_the_devbox_cannot_reach(
    url: str, refused: bool, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """PVA_URL on loopback (make serve's) is where the runner reaches the sidecar, not where a devbox can.

    Refused before any devbox is made, unless --agent-url says where the devbox reaches it.
    """
    monkeypatch.setenv("PVA_URL", url)
    monkeypatch.setenv("PVA_TOKEN", "pva_not-used")
    monkeypatch.delenv("RUNLOOP_API_KEY", raising=False)  # past the check, RunLoop itself is the refusal
    command = ["runloop", "run", "--subtree", MATTER, "--command", "python agent.py"]
    assert main(command) == 2
    said = capsys.readouterr().err
    assert ("a RunLoop devbox cannot reach" in said) is refused
    assert main([*command, "--agent-url", url]) == 2
    assert "a RunLoop devbox cannot reach" not in capsys.readouterr().err
