"""Custody reports over the real app (SQLite and PostgreSQL): what they say, offline checks, tampering.

A document is filed (moved, with an approval and its comment) then renamed
through the workflow; its report, fetched from ``GET /v1/custody`` in each
format, must name every event with its hashes, plan, people and comments, and
verify with nothing but the verifier key. Each kind of tampering (an edited
event, a dropped event, a forged checkpoint, an edited report) is found.
"""

from __future__ import annotations

import base64
import copy
import json
from pathlib import Path
from typing import Any

import pytest

from planner.cli.main import main
from sidecar.audit import checkpoints, custody, custody_formats
from sidecar.audit.chain import canonical
from sidecar.audit.checkpoints import Checkpoint
from sidecar.audit.custody_formats import check_file, read
from sidecar.audit.watch_state import SqlWatchState
from sidecar.service.watch import Watcher
from tests.api.support import SEED, Api, MakeApi, sha256
from tests.support.plans import plan_doc

KEY = checkpoints.new_signer_key("firm.example/pva")
SIGNER = checkpoints.parse_signer(KEY)
VERIFIER = SIGNER.verifier
FIRST = "matters/acme/inbox/0001.pdf"
FILED = "matters/acme/custodians/alice/0001.pdf"
RENAMED = "matters/acme/custodians/alice/0001 Email re contract.pdf"


@pytest.fixture
def filed(make_api: MakeApi) -> Api:
    """The app signing with KEY; 0001.pdf filed to alice (approved with a comment), then renamed."""
    api = make_api(checkpoint_key=KEY)
    move = plan_doc(
        {"op": "move", "src": FIRST, "dst": FILED, "reason": "From: header names Alice"}, title="File 0001"
    )
    moved = api.submit(move, "agent")["id"]
    api.decide(moved, "approve", "approver", "checked the From header")
    rename = plan_doc({"op": "rename", "path": FILED, "name": "0001 Email re contract.pdf"}, title="Name it")
    renamed = api.submit(rename, "agent")["id"]
    api.decide(renamed, "approve", "approver-2", "naming convention")
    assert api.show(renamed)["state"] == "applied"
    return api


def fetch(api: Api, fmt: str = "json", who: str = "auditor", **params: str) -> bytes:
    """The report the API sends ``who`` (a document's report on RENAMED unless told)."""
    query = {"format": fmt} | (params or {"path": RENAMED})
    response = api.get("/v1/custody", who, params=query)
    assert response.status_code == 200, response.text
    assert "attachment" in response.headers["content-disposition"]
    return response.content


def problems(document: dict[str, Any]) -> list[str]:
    return list(custody.check(document, VERIFIER).problems)


def resign(document: dict[str, Any]) -> dict[str, Any]:
    """The report signed again by the real key after a change: what only a holder of the key could do."""
    body = {key: value for key, value in document.items() if key != "signature"}
    return body | {"signature": SIGNER.signature_line(canonical(body)).removesuffix("\n")}


def test_a_report_names_every_event_of_the_document_with_hashes_plans_and_people(filed: Api) -> None:
    """The rows: each plan submitted, approved (who, when, comment), and the move and rename with hashes."""
    document = json.loads(fetch(filed))
    assert set(document["subject"]["names"]) == {RENAMED, FILED, FIRST}
    content = sha256(SEED[FIRST] or b"")
    moves = [row for row in document["rows"] if row["event"] == "apply"]
    assert [(r["action"], r["path_before"], r["path_after"]) for r in moves] == [
        ("moved", FIRST, FILED),
        ("renamed", FILED, RENAMED),
    ]
    assert all(r["before"]["sha256"] == r["after"]["sha256"] == content for r in moves)
    first = moves[0]
    assert (first["title"], first["author"], first["actor"]) == ("File 0001", "agent", "approver")
    assert [(d["approver"], d["decision"], d["comment"]) for d in first["decisions"]] == [
        ("approver", "approved", "checked the From header")
    ]
    actions = [row["action"] for row in document["rows"]]
    assert actions.count("plan submitted") == 2
    assert actions.count("plan approved") == 2


@pytest.mark.parametrize("fmt", ["json", "html", "csv"])
def test_a_report_in_every_format_verifies_offline(filed: Api, fmt: str) -> None:
    """Each format carries the signed report; the verifier key alone checks it all."""
    data = fetch(filed, fmt)
    checked = check_file(data, VERIFIER)
    assert checked.problems == ()
    assert checked.events == len(read(data)[0]["events"]) > 0
    assert checked.rows >= 6


def test_bidi_controls_in_an_html_report_are_shown_as_codes_and_it_still_verifies(make_api: MakeApi) -> None:
    """A title ending RLO "fdp.exe" would read "exe.pdf": the page shows the code; old pages check."""
    api = make_api(checkpoint_key=KEY)
    move = plan_doc({"op": "move", "src": FIRST, "dst": FILED}, title="File \u202efdp.exe")
    api.decide(api.submit(move, "agent")["id"], "approve", "approver", "fine \u2066by me\u2069")
    data = fetch(api, "html", path=FILED)
    page = data.decode()
    assert "File \\u202efdp.exe" in page
    assert "fine \\u2066by me\\u2069" in page
    assert not any(chr(code) in page for code in (*range(0x202A, 0x202F), *range(0x2066, 0x206A)))
    assert check_file(data, VERIFIER).problems == ()
    document = read(data)[0]
    assert any(row["title"] == "File \u202efdp.exe" for row in document["rows"])  # the report's own text
    before = custody_formats._page(document).encode()  # as pva rendered it until 2026-12-05
    assert "\u202e" in before.decode()
    assert check_file(before, VERIFIER).problems == ()


def test_a_report_does_not_verify_under_another_key(filed: Api) -> None:
    """Another firm's verifier key (or a new key of the same name) does not accept the report."""
    other = checkpoints.parse_signer(checkpoints.new_signer_key("firm.example/pva")).verifier
    found = check_file(fetch(filed), other).problems
    assert any("signature" in problem for problem in found)
    assert any(problem.startswith("checkpoint:") for problem in found)


def test_an_edited_event_is_found(filed: Api) -> None:
    """An approval comment edited in a report fails its event's hash, even when the report is signed again."""
    document = json.loads(fetch(filed))
    edited = copy.deepcopy(document)
    index = next(i for i, e in enumerate(edited["events"]) if e["kind"] == "approval")
    edited["events"][index]["payload"] = edited["events"][index]["payload"].replace("checked", "skipped")
    seq = edited["events"][index]["seq"]
    assert any("signature" in p for p in problems(edited))
    assert f"event seq {seq}: its content does not match its hash (the event was edited)" in problems(
        resign(edited)
    )


def test_an_edited_event_with_its_hash_recomputed_fails_its_inclusion_proof(filed: Api) -> None:
    """An event rewritten with a matching hash is not the event the signed checkpoint holds."""
    document = json.loads(fetch(filed))
    edited = copy.deepcopy(document)
    event = next(e for e in edited["events"] if e["kind"] == "approval")
    event["payload"] = event["payload"].replace("checked", "skipped")
    link = custody.events_of({"events": [event]})[0]
    event["hash"] = link.computed_hash()
    found = problems(resign(edited))
    assert any(p.startswith(f"event seq {event['seq']}: its inclusion proof") for p in found), found


def test_a_dropped_event_is_found(filed: Api) -> None:
    """An event taken out breaks the signature; an approval taken out and re-signed breaks the rows."""
    document = json.loads(fetch(filed))
    dropped = copy.deepcopy(document)
    index = next(i for i, e in enumerate(dropped["events"]) if e["kind"] == "approval")
    del dropped["events"][index]
    assert any("signature" in p for p in problems(dropped))
    assert any("does not say what its event says" in p for p in problems(resign(dropped)))


def test_a_forged_checkpoint_is_found(filed: Api) -> None:
    """A checkpoint signed by a key of the same name but not the firm's is refused, and the proofs with it."""
    document = json.loads(fetch(filed))
    forger = checkpoints.parse_signer(checkpoints.new_signer_key(VERIFIER.name))
    head = checkpoints.parse_body(document["checkpoint"].split("\n\n")[0] + "\n")
    forged = copy.deepcopy(document)
    fake_root = Checkpoint(head.origin, head.size, b"\x07" * 32)
    forged["checkpoint"] = checkpoints.sign(fake_root, forger)
    found = problems(resign(forged))
    assert any(p.startswith("checkpoint: the checkpoint carries no signature") for p in found), found
    edited = copy.deepcopy(document)
    edited["checkpoint"] = document["checkpoint"].replace(
        base64.b64encode(head.root).decode(), base64.b64encode(b"\x07" * 32).decode()
    )
    assert any("does not verify: the checkpoint was edited or forged" in p for p in problems(resign(edited)))


@pytest.mark.parametrize("fmt", ["json", "html", "csv"])
def test_an_edited_report_is_found(filed: Api, fmt: str) -> None:
    """A comment changed where people read it (a JSON row, the page, a CSV cell) fails the check."""
    data = fetch(filed, fmt).decode("utf-8")
    assert data.count("checked the From header") >= 1
    if fmt == "json":
        document = json.loads(data)
        row = next(r for r in document["rows"] if r["note"] == "checked the From header")
        row["note"] = "no comment"
        edited = json.dumps(document)
        found = check_file(edited.encode(), VERIFIER).problems
        assert any("does not say what its event says" in p for p in problems(resign(document)))
    else:
        cut = data.index("checked the From header")  # the visible part comes before the embedded report
        edited = data[:cut] + "no comment" + data[cut + len("checked the From header") :]
        found = check_file(edited.encode(), VERIFIER).problems
        assert found == (
            f"the {fmt.upper()} file is not the rendering of the report it carries: it was edited",
        )
    assert found


def test_a_matter_report_holds_every_document_of_the_matter_and_a_time_window_narrows_it(filed: Api) -> None:
    """A matter's report holds both plans; one to a time before the rename holds only the first."""
    whole = json.loads(fetch(filed, matter="matters/acme"))
    titles = {row["title"] for row in whole["rows"] if row["event"] == "apply"}
    assert titles == {"File 0001", "Name it"}
    rename = next(r for r in whole["rows"] if r["event"] == "apply" and r["title"] == "Name it")
    early = json.loads(fetch(filed, matter="matters/acme", to=rename["time"]))
    assert {row["title"] for row in early["rows"] if row["event"] == "apply"} == {"File 0001"}
    assert custody.check(early, VERIFIER).ok


def test_a_window_from_the_first_day_of_the_calendar_holds_everything_and_verifies(filed: Api) -> None:
    """from=0001-01-01 is a window like any other: the report's times keep four-digit years and verify."""
    report = json.loads(fetch(filed, path=RENAMED, **{"from": "0001-01-01"}))
    assert report["rows"] == json.loads(fetch(filed))["rows"]
    assert custody.check(report, VERIFIER).ok


def test_reports_are_for_the_audits_readers_in_their_scope(filed: Api) -> None:
    """An agent is refused; a reader scoped elsewhere is refused; no key to sign with is a 503."""
    assert filed.get("/v1/custody", "agent", params={"path": RENAMED}).status_code == 403
    assert filed.get("/v1/custody", "auditor-other", params={"path": RENAMED}).status_code == 403
    both = filed.get("/v1/custody", "auditor", params={"path": RENAMED, "matter": "matters/acme"})
    assert both.status_code == 422


def test_without_a_key_reports_are_unavailable(make_api: MakeApi) -> None:
    """With no PVA_CHECKPOINT_KEY there is nothing to sign with: 503 signing_unavailable, saying so."""
    api = make_api()
    response = api.get("/v1/custody", "auditor", params={"path": FIRST})
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "signing_unavailable"
    assert "PVA_CHECKPOINT_KEY" in response.json()["error"]["message"]


def test_the_audit_page_offers_the_report_and_sends_it_to_the_signed_in_person(filed: Api) -> None:
    """The audit page's custody section links to the report; the link sends a signed, verifying page."""
    csrf_page = filed.client.get("/sign-in")
    csrf = csrf_page.text.split('name="csrf" value="')[1].split('"')[0]
    data = {"token": filed.secrets["auditor"], "csrf": csrf, "next": "/"}
    headers = {"Origin": "http://testserver"}
    assert (
        filed.client.post("/sign-in", data=data, headers=headers, follow_redirects=False).status_code == 303
    )
    page = filed.client.get("/audit", params={"path": RENAMED})
    assert "/custody?path=" in page.text
    report = filed.client.get("/custody", params={"path": RENAMED, "format": "html"})
    assert report.status_code == 200
    assert check_file(report.content, VERIFIER).ok


def test_pva_custody_report_and_verify(
    filed: Api, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``pva custody report`` writes a signed report from the database; ``verify``: 0, or 1 once edited."""
    monkeypatch.delenv("PVA_SETTINGS_FILE", raising=False)
    monkeypatch.setenv("PVA_CHECKPOINT_KEY", KEY)
    monkeypatch.setenv("PVA_CHECKPOINT_DIR", str(tmp_path / "checkpoints"))
    out = tmp_path / "report.html"
    url = filed.settings.database_url
    assert main(["custody", "report", RENAMED, "--db", url, "--format", "html", "-o", str(out)]) == 0
    assert list((tmp_path / "checkpoints").glob("*.checkpoint"))  # the report's checkpoint is published
    assert main(["custody", "verify", str(out), "--key", str(VERIFIER)]) == 0
    assert "the report holds" in capsys.readouterr().out
    page = out.read_text(encoding="utf-8")
    out.write_text(page.replace("naming convention", "no convention", 1), "utf-8")  # the visible part
    assert main(["custody", "verify", str(out), "--key", str(VERIFIER), "--json"]) == 1
    body = json.loads(capsys.readouterr().out)
    assert body["ok"] is False
    assert body["problems"] == ["the HTML file is not the rendering of the report it carries: it was edited"]


def test_changes_made_outside_pva_are_in_the_report_and_behind_the_wall(filed: Api) -> None:
    """An edit behind pva's back is a verified row with both hashes; another matter's reader sees none."""
    watch = Watcher(filed.services.backend, SqlWatchState(filed.services.audit.engine), clock=filed.clock)
    watch.scan()
    (filed.root / RENAMED).write_bytes(b"%PDF altered")
    (filed.root / "matters/other/readme.txt").write_bytes(b"other, altered")
    assert len(watch.scan()) == 2
    document = json.loads(fetch(filed))
    outside = [row for row in document["rows"] if row["event"] == "outside_change"]
    assert [(r["action"], r["path_before"], r["path_after"]) for r in outside] == [
        ("edited outside pva", RENAMED, RENAMED)
    ]
    assert outside[0]["before"]["sha256"] == sha256(SEED[FIRST] or b"")
    assert outside[0]["after"]["sha256"] == sha256(b"%PDF altered")
    assert custody.check(document, VERIFIER).ok
    other = json.loads(fetch(filed, who="auditor-other", matter="matters/other"))
    assert [row["path_after"] for row in other["rows"]] == ["matters/other/readme.txt"]
    assert RENAMED not in json.dumps(other)
