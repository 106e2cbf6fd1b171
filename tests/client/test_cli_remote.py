"""The pva commands over HTTP, end to end: the CLI against uvicorn on a real socket of 127.0.0.1."""

from __future__ import annotations

import argparse
import hashlib
import json
import threading
from collections.abc import Mapping
from pathlib import Path

import pytest

from planner.cli.catalogue import FALLBACKS
from planner.cli.main import main
from planner.cli.shell import UsageError
from planner.client.http_client import PvaClient
from planner.core.parse import parse_plan
from sidecar.settings import Settings
from tests.client.conftest import BROKEN, FILE_IT, MISSING, write_plan


@pytest.fixture(autouse=True)
def no_ambient_server(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test names its server and token itself; the shell's PVA_URL and PVA_TOKEN do not leak in."""
    monkeypatch.delenv("PVA_URL", raising=False)
    monkeypatch.delenv("PVA_TOKEN", raising=False)


def pva(capsys: pytest.CaptureFixture[str], server: str, token: str, *argv: str) -> tuple[int, str, str]:
    """Run ``pva ARGV --server SERVER --token TOKEN``; the exit code, standard output and error."""
    code = main([*argv, "--server", server, "--token", token])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def submitted(server: str, token: str, document: Mapping[str, object] = FILE_IT) -> str:
    with PvaClient(server, token) as client:
        return client.submit(document).id


def test_submit_prints_where_the_plan_stands(
    server: str, tokens: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """pva submit sends the plan and says it waits for approval, exit 0; --json gives the API's body."""
    plan = write_plan(tmp_path, FILE_IT)
    code, out, _ = pva(capsys, server, tokens["agent"], "submit", plan)
    assert code == 0
    assert out.startswith("Plan 'File the inbox' (")
    assert "pending, waiting for approval (0 of 1)" in out
    code, out, _ = pva(capsys, server, tokens["agent"], "submit", plan, "--json")
    assert (code, json.loads(out)["state"]) == (0, "pending")


def test_submit_of_a_plan_with_errors_exits_one(
    server: str, tokens: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A plan the sidecar's verification rejects exits 1 and shows its diagnostics."""
    code, out, _ = pva(capsys, server, tokens["agent"], "submit", write_plan(tmp_path, MISSING))
    assert code == 1
    assert "rejected" in out
    assert "error[not_found]" in out


def test_submit_of_a_malformed_plan_exits_two_before_sending(
    server: str, tokens: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A plan that fails the schema is refused locally with every problem, exit 2."""
    code, _, err = pva(capsys, server, tokens["agent"], "submit", write_plan(tmp_path, BROKEN))
    assert code == 2
    assert "pva: malformed plan: /ops/0" in err


def test_submit_wait_times_out_with_exit_one(
    server: str, tokens: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--wait with a timeout nobody approves within exits 1, saying the plan is still pending."""
    plan = write_plan(tmp_path, FILE_IT)
    code, out, err = pva(capsys, server, tokens["agent"], "submit", plan, "--wait", "--timeout", "0.05")
    assert code == 1
    assert "pending" in out
    assert "still pending" in err


def test_submit_wait_ends_when_the_plan_is_applied(
    server: str, tokens: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--wait says what it waits for, and returns 0 once an approval made meanwhile has applied the plan."""
    plan_id = submitted(server, tokens["agent"])

    def approve_soon() -> None:
        with PvaClient(server, tokens["alice"]) as alice:
            alice.approve(plan_id, "ok")

    approver = threading.Timer(0.2, approve_soon)
    approver.start()
    try:
        code, out, err = pva(
            capsys, server, tokens["agent"], "submit", write_plan(tmp_path, FILE_IT), "--wait"
        )
    finally:
        approver.join()
    assert code == 0
    assert "applied" in out
    assert f"pva: waiting: plan {plan_id[:12]} is pending" in err  # says what it waits for


def test_timeout_needs_wait(
    server: str, tokens: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--timeout without --wait is misuse, exit 2."""
    code, _, err = pva(
        capsys, server, tokens["agent"], "submit", write_plan(tmp_path, FILE_IT), "--timeout", "1"
    )
    assert code == 2
    assert "--timeout goes with --wait" in err


def test_plans_list_and_show(server: str, tokens: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    """pva plans list filters by state; pva plans show gives the state, the policy and the ops."""
    plan_id = submitted(server, tokens["agent"])
    code, out, _ = pva(capsys, server, tokens["alice"], "plans", "list", "--state", "pending")
    assert code == 0
    assert plan_id[:12] in out
    code, out, _ = pva(capsys, server, tokens["alice"], "plans", "list", "--state", "applied", "--json")
    assert json.loads(out) == {"plans": []}
    code, out, _ = pva(capsys, server, tokens["alice"], "plans", "show", plan_id[:8])
    assert code == 0
    assert f"plan {plan_id}" in out
    assert "move    m/inbox/1.pdf -> m/alice/1.pdf" in out


def test_a_title_or_comment_holding_newlines_forges_no_line_in_list_or_show(
    server: str, tokens: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    """An agent's title and a person's comment may hold newlines: each stays on its own line, escaped."""
    forged = "2026-01-01 00:00:00   applied   ops"
    plan_id = submitted(server, tokens["agent"], {**FILE_IT, "title": f"File it\n{forged}"})
    with PvaClient(server, tokens["alice"]) as alice:
        alice.reject(plan_id, "not now\n  approval:  bob at 2026-01-01: fine")
    code, out, _ = pva(capsys, server, tokens["alice"], "plans", "list")
    assert code == 0
    assert len(out.splitlines()) == 2  # the heading and the plan
    assert "File it\\n2026-01-01 00:00:00   applied   ops" in out
    code, out, _ = pva(capsys, server, tokens["alice"], "plans", "show", plan_id)
    assert code == 0
    lines = out.splitlines()
    assert not any(line.startswith(forged) or line.strip().startswith("approval:") for line in lines)
    assert "not now\\n  approval:  bob at 2026-01-01: fine" in out


def test_approve_applies_and_reject_refuses(
    server: str, tokens: dict[str, str], settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    """pva approve -m applies the plan (exit 0); pva reject -m rejects another (exit 0)."""
    plan_id = submitted(server, tokens["agent"])
    code, out, _ = pva(capsys, server, tokens["alice"], "approve", plan_id[:8], "-m", "checked")
    assert (code, "applied" in out) == (0, True)
    assert (Path(settings.store) / "m" / "alice" / "1.pdf").exists()
    other = submitted(
        server, tokens["agent"], {**FILE_IT, "title": "Other", "ops": [{"op": "mkdir", "path": "m/b"}]}
    )
    code, out, _ = pva(capsys, server, tokens["alice"], "reject", other, "-m", "not now")
    assert code == 0
    assert "rejected by alice: not now" in out


def test_approving_your_own_plan_is_refused(
    server: str, tokens: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    """The sidecar's 403 is one line on stderr and exit 2."""
    plan_id = submitted(server, tokens["agent"])
    code, _, err = pva(capsys, server, tokens["agent"], "approve", plan_id, "-m", "mine")
    assert code == 2
    assert err.startswith("pva: ")
    assert "HTTP 403" in err


@pytest.mark.parametrize("auto_apply", [False])
def test_apply_by_id_goes_to_the_sidecar(
    server: str, tokens: dict[str, str], settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    """With a server, pva apply ID applies the approved plan there (0), and refuses a pending one (2)."""
    plan_id = submitted(server, tokens["agent"])
    code, _, err = pva(capsys, server, tokens["agent"], "apply", plan_id)
    assert (code, "HTTP 409" in err) == (2, True)
    with PvaClient(server, tokens["alice"]) as alice:
        alice.approve(plan_id, "ok")
    code, out, _ = pva(capsys, server, tokens["agent"], "apply", plan_id)
    assert (code, "applied" in out) == (0, True)
    assert not (Path(settings.store) / "m" / "notes.txt").exists()


def test_apply_with_a_server_refuses_local_options(
    server: str, tokens: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    """Options that work on the store directly are misuse with a server, exit 2."""
    code, _, err = pva(capsys, server, tokens["agent"], "apply", "0" * 64, "--dry-run", "--store", "x")
    assert code == 2
    assert "--dry-run, --store: only without a server" in err


def test_revert_by_id_submits_the_inverse(
    server: str, tokens: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """With a server, pva revert ID submits the inverse plan for approval and writes it with -o."""
    plan_id = submitted(server, tokens["agent"])
    with PvaClient(server, tokens["alice"]) as alice:
        alice.approve(plan_id, "ok")
        assert alice.wait(plan_id, timeout=120).state == "applied"  # a worker applies it
    inverse = tmp_path / "undo.json"
    code, out, _ = pva(capsys, server, tokens["agent"], "revert", plan_id, "-o", str(inverse))
    assert code == 0
    assert "Plan 'Revert: File the inbox'" in out
    assert json.loads(inverse.read_text())["title"] == "Revert: File the inbox"
    code, out, _ = pva(capsys, server, tokens["agent"], "plans", "show", digest(str(inverse)))
    assert code == 0
    assert f"revert of: {plan_id}" in out


def digest(path: str) -> str:
    return parse_plan(Path(path).read_bytes()).digest()


def test_audit_list_and_history_over_http(
    server: str, tokens: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    """With a server, pva audit list shows the sidecar's events and pva audit history a document's custody."""
    plan_id = submitted(server, tokens["agent"])
    with PvaClient(server, tokens["alice"]) as alice:
        alice.approve(plan_id, "ok")
        assert alice.wait(plan_id, timeout=120).state == "applied"  # a worker applies it
    code, out, _ = pva(capsys, server, tokens["auditor"], "audit", "list", "--plan", plan_id, "--json")
    body = json.loads(out)
    assert (code, body["version"]) == (0, "audit-events/v1")
    assert "apply" in {event["kind"] for event in body["events"]}
    code, out, _ = pva(capsys, server, tokens["auditor"], "audit", "history", "m/alice/1.pdf")
    assert code == 0
    assert "moved m/inbox/1.pdf -> m/alice/1.pdf" in out


def test_event_filters_need_a_server(capsys: pytest.CaptureFixture[str]) -> None:
    """Without a server, pva audit list refuses the filters only the sidecar's events have, exit 2."""
    assert main(["audit", "list", "--actor", "alice"]) == 2
    assert "--actor: only with a server" in capsys.readouterr().err


def test_an_unreachable_server_exits_three(
    tokens: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    """A sidecar that does not answer is exit 3, the message naming its URL."""
    code, _, err = pva(capsys, "http://127.0.0.1:9", tokens["agent"], "plans", "list")
    assert code == 3
    assert "cannot reach the sidecar at http://127.0.0.1:9" in err


def test_no_token_is_misuse(server: str, capsys: pytest.CaptureFixture[str]) -> None:
    """A server without a token is misuse, exit 2, saying where a token comes from."""
    assert main(["plans", "list", "--server", server]) == 2
    assert "PVA_TOKEN" in capsys.readouterr().err


def test_the_environment_names_the_server(
    server: str, tokens: dict[str, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """PVA_URL and PVA_TOKEN stand in for --server and --token."""
    monkeypatch.setenv("PVA_URL", server)
    monkeypatch.setenv("PVA_TOKEN", tokens["alice"])
    assert main(["plans", "list"]) == 0
    assert capsys.readouterr().out.strip() == "no plans"


def test_planner_only_apply_goes_over_http(
    server: str, tokens: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    """Without the sidecar extra, pva apply is the remote form: it needs a server and then works."""
    parser = argparse.ArgumentParser(prog="pva")
    commands = parser.add_subparsers(required=True)
    for command in FALLBACKS.values():
        command.declare(commands)
    args = parser.parse_args(["apply", "0" * 64])
    with pytest.raises(UsageError, match="no sidecar given"):
        args.run(args)
    plan_id = submitted(server, tokens["agent"])
    with PvaClient(server, tokens["alice"]) as alice:
        alice.approve(plan_id, "ok")  # applied at once (auto-apply): apply again returns it as it is
    args = parser.parse_args(["apply", plan_id, "--server", server, "--token", tokens["agent"]])
    assert args.run(args) == 0
    assert "applied" in capsys.readouterr().out


def test_plans_show_prints_reasons_and_contents_escaped(
    server: str, tokens: dict[str, str], settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    """pva plans show prints each op's reason and a numbered diff, with control characters escaped."""
    old = Path(settings.store or "", "m", "notes.txt").read_bytes()
    document = {
        "pva": "plan/v1",
        "title": "Rewrite the notes",
        "scope": ["m"],
        "ops": [
            {
                "op": "write",
                "path": "m/notes.txt",
                "content": "new notes\n" + "an escape \x1b[2J hidden in a long line of text " * 3 + "\n",
                "overwrite": True,
                "expect": {"sha256": hashlib.sha256(old).hexdigest()},
                "reason": "the notes were\rwrong",
            }
        ],
    }
    plan_id = submitted(server, tokens["agent"], document)
    code, out, _ = pva(capsys, server, tokens["alice"], "plans", "show", plan_id[:8])
    assert code == 0
    assert "        reason: the notes were\\x0dwrong" in out
    assert "        @@ -1,1 +1,2 @@" in out
    assert "            1       - old notes" in out
    assert "                  1 + new notes" in out
    assert "                  2 + an escape \\x1b[2J hidden" in out
    assert "\x1b" not in out
    assert "\r" not in out


def test_plans_show_prints_the_trees_of_a_move_into_an_existing_folder(
    server: str, tokens: dict[str, str], settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    """pva plans show prints the page's Before and After trees: a file filed into a folder that exists."""
    Path(settings.store or "", "m", "alice").mkdir()
    document = {
        "pva": "plan/v1",
        "title": "File it",
        "scope": ["m"],
        "ops": [{"op": "move", "src": "m/inbox/1.pdf", "dst": "m/alice/1.pdf"}],
    }
    plan_id = submitted(server, tokens["agent"], document)
    code, out, _ = pva(capsys, server, tokens["alice"], "plans", "show", plan_id[:8])
    assert code == 0
    before = out.split("Before (only what changes):\n", 1)[1].split("\n\n", 1)[0]
    after = out.split("After (only what changes):\n", 1)[1].split("\n\n", 1)[0]
    assert before.splitlines() == [
        "  m/",
        "    inbox/",
        "      1.pdf  [MOVES to m/alice/1.pdf]",
    ]
    assert after.splitlines() == [
        "  m/",
        "    alice/",
        "      1.pdf  [MOVED from m/inbox/1.pdf]",
    ]


def test_ls_cat_and_manifest_read_the_store_over_http(
    server: str, tokens: dict[str, str], capsysbinary: pytest.CaptureFixture[bytes], tmp_path: Path
) -> None:
    """pva ls lists a folder, pva cat prints a file (or a range, or to a file), pva manifest streams lines."""
    token = tokens["agent"]
    assert main(["ls", "m", "--depth", "2", "--server", server, "--token", token]) == 0
    listed = capsysbinary.readouterr().out.decode()
    assert "m/inbox/" in listed
    assert "m/inbox/1.pdf" in listed
    assert main(["cat", "m/inbox/1.pdf", "--server", server, "--token", token]) == 0
    assert capsysbinary.readouterr().out == b"contract"
    assert main(["cat", "m/inbox/1.pdf", "--range", "0-3", "--server", server, "--token", token]) == 0
    assert capsysbinary.readouterr().out == b"cont"
    out = tmp_path / "copy.pdf"
    assert main(["cat", "m/inbox/1.pdf", "-o", str(out), "--server", server, "--token", token]) == 0
    assert out.read_bytes() == b"contract"
    assert main(["manifest", "m", "--server", server, "--token", token]) == 0
    lines = capsysbinary.readouterr().out.decode().splitlines()
    assert json.loads(lines[0])["hashed"] is False
    assert main(["cat", "m/inbox/1.pdf", "--server", server, "--token", tokens["outsider"]]) == 2
    assert b"outside their scope" in capsysbinary.readouterr().err


def test_ls_shows_a_name_holding_a_newline_on_its_own_line_escaped(
    server: str, settings: Settings, tokens: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    """A file named to forge a listing line (a store may hold any name) is one line, its newline escaped."""
    (Path(settings.store) / "m" / "x\n        7777  m\u2215forged.pdf").write_bytes(b"x")
    assert main(["ls", "m", "--server", server, "--token", tokens["agent"]]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3  # m/inbox/, m/notes.txt and the odd one
    assert not any(line.strip().startswith("7777") for line in lines)
    assert any(line.endswith("m/x\\n        7777  m\u2215forged.pdf") for line in lines)


def test_several_ids_are_each_decided_and_a_refusal_hides_none_of_the_others(
    server: str, tokens: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    """pva reject A UNKNOWN B -m C: A and B are rejected, the unknown one is named on stderr, exit 2."""
    with PvaClient(server, tokens["agent"]) as agent:
        first, second = (agent.submit({**FILE_IT, "title": title}).id for title in ("One", "Two"))
    unknown = "f" * 64
    common = ["-m", "Not this week", "--server", server, "--token", tokens["alice"]]
    assert main(["reject", first, unknown, second, *common]) == 2
    err = capsys.readouterr().err
    assert f"pva: {unknown}:" in err
    assert first not in err
    assert second not in err
    with PvaClient(server, tokens["alice"]) as alice:
        for plan_id in (first, second):
            shown = alice.get(plan_id)
            assert (shown.state, shown.rejection and shown.rejection.comment) == ("rejected", "Not this week")
    assert main(["approve", first, second, "--without", "1", *common]) == 2  # --without names one plan
    assert "--without decides one plan" in capsys.readouterr().err


def test_plans_content_downloads_a_write_whole_or_leaves_no_file(
    server: str,
    tokens: dict[str, str],
    settings: Settings,
    capsysbinary: pytest.CaptureFixture[bytes],
    tmp_path: Path,
) -> None:
    """pva plans content prints or saves what a write puts in the store; an altered blob saves nothing."""
    log = b"custodian,document\n" + b"alice,1.pdf\n" * 200_000  # 2.4 MB: several chunks
    with PvaClient(server, tokens["agent"]) as client:
        ref = client.upload(log)
    document = {
        "pva": "plan/v1",
        "title": "A privilege log",
        "scope": ["m"],
        "ops": [
            {"op": "mkdir", "path": "m/logs"},
            {"op": "write", "path": "m/logs/privilege.csv", "content_ref": ref},
        ],
    }
    plan_id = submitted(server, tokens["agent"], document)[:8]
    assert main(["plans", "show", plan_id, "--server", server, "--token", tokens["alice"]]) == 0
    shown = capsysbinary.readouterr().out.decode()
    assert "too large to show here" in shown
    assert "        (every byte it writes: pva plans content ID 1)\n" in shown
    assert main(["plans", "content", plan_id, "1", "--server", server, "--token", tokens["alice"]]) == 0
    assert capsysbinary.readouterr().out == log
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    saved = downloads / "privilege.csv"
    assert (
        main(
            [
                "plans",
                "content",
                plan_id,
                "1",
                "-o",
                str(saved),
                "--server",
                server,
                "--token",
                tokens["alice"],
            ]
        )
        == 0
    )
    assert saved.read_bytes() == log
    assert main(["plans", "content", plan_id, "0", "--server", server, "--token", tokens["alice"]]) == 2
    assert b"op 0 is a mkdir, not a write" in capsysbinary.readouterr().err
    Path(settings.store or "", ".pva", "blobs", ref).write_bytes(log.replace(b"alice", b"mallo"))
    altered = downloads / "altered.csv"
    code = main(
        ["plans", "content", plan_id, "1", "-o", str(altered), "--server", server, "--token", tokens["alice"]]
    )
    assert code == 3
    assert not altered.exists()
    assert list(downloads.iterdir()) == [saved]  # no temporary file left either
