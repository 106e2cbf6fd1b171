"""The approval page end to end: Debian's Chromium against a real sidecar on 127.0.0.1."""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, Dialog, Locator, Page, expect

from tests.e2e.conftest import BOARD, Sidecar, sign_in

# The screenshots: docs/img is refreshed by `make screenshots`; a plain test run keeps the docs clean.
IMAGES = Path(os.environ.get("PVA_SCREENSHOTS") or Path(tempfile.gettempdir()) / "pva-screenshots")
SMITH = "matters/smith-v-jones"

PAGE_PATIENCE = 60_000  # ms: a bound on a hung apply worker (the page reloads every 5 s)


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _filing_plan() -> dict[str, Any]:
    inbox, alice = f"{SMITH}/inbox", f"{SMITH}/custodians/alice"
    return {
        "pva": "plan/v1",
        "title": "File Smith v. Jones inbox by custodian",
        "scope": [SMITH],
        "ops": [
            {"op": "mkdir", "path": alice, "parents": True, "reason": "One folder per custodian"},
            {
                "op": "move",
                "src": f"{inbox}/0001.pdf",
                "dst": f"{alice}/0001.pdf",
                "expect": {"sha256": _sha("email one")},
                "reason": "From: header names Alice",
            },
            {
                "op": "rename",
                "path": f"{alice}/0001.pdf",
                "name": "0001 Email re contract.pdf",
                "reason": "Naming convention: number, type, subject",
            },
            {
                "op": "write",
                "path": f"{SMITH}/index.csv",
                "content": "file,custodian\n0001 Email re contract.pdf,alice\n",
                "overwrite": True,
                "expect": {"sha256": _sha("file,custodian\n")},
                "reason": "Index lists the filed document",
            },
            {"op": "delete", "path": f"{inbox}/Thumbs.db", "reason": "Windows thumbnail cache, not evidence"},
        ],
    }


def _seed_smith(sidecar: Sidecar) -> None:
    sidecar.put(f"{SMITH}/inbox/0001.pdf", "email one")
    sidecar.put(f"{SMITH}/inbox/0002.pdf", "email two")
    sidecar.put(f"{SMITH}/inbox/Thumbs.db", "thumbs")
    sidecar.put(f"{SMITH}/index.csv", "file,custodian\n")
    sidecar.put(f"{SMITH}/drafts/old-1.docx", "draft one")
    sidecar.put(f"{SMITH}/drafts/old-2.docx", "draft two")


def _cleanup_plan() -> dict[str, Any]:
    return {
        "pva": "plan/v1",
        "title": "Remove superseded drafts",
        "scope": [f"{SMITH}/drafts"],
        "ops": [
            {"op": "delete", "path": f"{SMITH}/drafts/old-1.docx", "reason": "Superseded by v3"},
            {"op": "delete", "path": f"{SMITH}/drafts/old-2.docx", "reason": "Superseded by v3"},
        ],
    }


def _move_plan(folder: str, title: str) -> dict[str, Any]:
    return {
        "pva": "plan/v1",
        "title": title,
        "scope": [folder],
        "ops": [
            {"op": "mkdir", "path": f"{folder}/filed"},
            {"op": "move", "src": f"{folder}/a.pdf", "dst": f"{folder}/filed/a.pdf", "reason": "File it"},
        ],
    }


def _dismissed_dialogs(page: Page) -> list[str]:
    """Dismiss every dialog the page opens; the list of their messages (a script that ran would open one)."""
    dialogs: list[str] = []

    def dismiss(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", dismiss)
    return dialogs


def _row(page: Page, plan_id: str) -> Locator:
    return page.locator(f'tr[data-plan="{plan_id}"]')


def test_approver_signs_in_sees_pending_plans_approves_one_and_it_is_applied(
    page: Page, sidecar: Sidecar
) -> None:
    """An approver sees pending plans (new ones without a reload), approves one, and the store changes.

    History, the audit's chain of custody and revert then follow the applied plan.
    """
    _seed_smith(sidecar)
    filing = sidecar.submit(_filing_plan())
    cleanup = sidecar.submit(_cleanup_plan())

    sign_in(page, sidecar, "alice")
    page.goto(f"/?path={SMITH}")
    expect(_row(page, filing)).to_contain_text("File Smith v. Jones inbox by custodian")
    expect(_row(page, filing)).to_contain_text("deletes 1 path")
    expect(_row(page, filing)).to_contain_text("overwrites 1 file")
    expect(_row(page, cleanup)).to_contain_text("agent-1")

    sidecar.put(f"{SMITH}/exhibits/a.pdf", "exhibit")
    arriving = sidecar.submit(_move_plan(f"{SMITH}/exhibits", "File exhibit A"))
    expect(_row(page, arriving)).to_contain_text("File exhibit A", timeout=30_000)  # polled, no reload
    expect(page.get_by_role("status")).to_contain_text("1 new plan")
    IMAGES.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(IMAGES / "inbox.png"))

    page.get_by_role("link", name="File Smith v. Jones inbox by custodian").click()
    expect(page.locator("h1")).to_have_text("File Smith v. Jones inbox by custodian")
    before = page.get_by_role("region", name="Before")
    after = page.get_by_role("region", name="After")
    expect(before.locator("li", has_text="0001.pdf")).to_contain_text("MOVES")
    expect(after.locator("li", has_text="0001 Email re contract.pdf")).to_contain_text("MOVED")
    expect(before.locator("li", has_text="Thumbs.db")).to_contain_text("TO TRASH")
    expect(before.locator("li", has_text="index.csv")).to_contain_text("REPLACED")
    expect(after.locator("li", has_text="alice/")).to_contain_text("NEW")
    expect(page.locator("table.ops")).to_contain_text("From: header names Alice")
    expect(page.locator("table.ops")).to_contain_text(f"{SMITH}/inbox/0001.pdf has sha256")
    page.screenshot(path=str(IMAGES / "plan.png"), full_page=True)

    page.get_by_label("Comment").fill("Checked against the custodian list.")
    page.get_by_role("button", name="Approve and apply").click()
    # A worker applies it after the page answered: the page shows 'applying' and reloads itself.
    expect(page.locator(".state").first).to_have_text("applied", timeout=PAGE_PATIENCE)
    expect(page.get_by_role("status")).to_contain_text("You approved this plan")
    assert (sidecar.store / SMITH / "custodians/alice/0001 Email re contract.pdf").read_text() == "email one"
    assert not (sidecar.store / SMITH / "inbox/0001.pdf").exists()
    assert sidecar.state(filing) == "applied"

    page.get_by_role("link", name="History").click()
    expect(_row(page, filing)).to_contain_text("approved by alice")
    page.get_by_role("link", name="Audit").click()
    page.get_by_label("Document or folder path").fill(f"{SMITH}/custodians/alice/0001 Email re contract.pdf")
    page.get_by_role("button", name="Search").click()
    custody = page.locator("table.custody")
    expect(custody).to_contain_text(f"{SMITH}/inbox/0001.pdf")
    expect(custody).to_contain_text("alice")
    expect(custody).to_contain_text("File Smith v. Jones inbox by custodian")

    page.get_by_role("link", name="History").click()
    page.get_by_role("button", name="Revert File Smith v. Jones inbox by custodian").click()
    expect(page.get_by_role("status")).to_contain_text("undoes the one you reverted")
    expect(page.locator(".state").first).to_have_text("pending")


def test_approver_rejects_a_plan_with_a_comment_and_nothing_changes(page: Page, sidecar: Sidecar) -> None:
    """Rejecting with a comment leaves the plan rejected, the comment shown, and the store untouched."""
    folder = "matters/reject-me"
    sidecar.put(f"{folder}/a.pdf", "keep me")
    plan_id = sidecar.submit(_move_plan(folder, "Move a.pdf somewhere odd"))

    sign_in(page, sidecar, "alice")
    page.goto(f"/plans/{plan_id}")
    page.get_by_label("Comment").fill("Wrong custodian; leave it.")
    page.get_by_role("button", name="Reject").click()
    expect(page.locator(".state").first).to_have_text("rejected")
    expect(page.locator(".facts")).to_contain_text("Rejected by alice")
    expect(page.locator(".facts")).to_contain_text("Wrong custodian; leave it.")
    assert sidecar.state(plan_id) == "rejected"
    assert (sidecar.store / folder / "a.pdf").read_text() == "keep me"


@dataclass
class EvilSite:
    """Another origin on this host (the same site, another port), serving the pages a test puts."""

    url: str
    pages: dict[str, bytes]


@pytest.fixture
def evil_site() -> Iterator[EvilSite]:
    pages: dict[str, bytes] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = pages.get(self.path, b"not here")
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield EvilSite(f"http://127.0.0.1:{server.server_address[1]}", pages)
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_a_forged_cross_site_form_post_does_not_approve(
    page: Page, sidecar: Sidecar, evil_site: EvilSite
) -> None:
    """Another origin's form post of an approval, with the approver's cookie, is refused; nothing changes."""
    folder = "matters/forgery"
    sidecar.put(f"{folder}/a.pdf", "evidence")
    plan_id = sidecar.submit(_move_plan(folder, "A plan an attacker wants approved"))
    sign_in(page, sidecar, "alice")

    forged = (
        f'<form method="post" action="{sidecar.url}/plans/{plan_id}/approve">'
        '<input name="comment" value="looks fine"><input name="csrf" value="guessed">'
        '<button type="submit">Win a prize</button></form>'
    )
    evil_site.pages["/win"] = forged.encode()
    page.goto(f"{evil_site.url}/win")
    with page.expect_response(f"{sidecar.url}/plans/{plan_id}/approve") as answer:
        page.get_by_role("button", name="Win a prize").click()
    assert answer.value.status == 403
    expect(page.get_by_role("alert")).to_contain_text("not sent from this sidecar")
    assert sidecar.state(plan_id) == "pending"
    assert (sidecar.store / folder / "a.pdf").exists()


def test_an_agent_token_cannot_approve(context: BrowserContext, page: Page, sidecar: Sidecar) -> None:
    """A signed-in agent gets no approve button, and an approve post from its own session is refused."""
    folder = "matters/agents"
    sidecar.put(f"{folder}/a.pdf", "evidence")
    plan_id = sidecar.submit(_move_plan(folder, "An agent's own plan"), who="agent-1")

    sign_in(page, sidecar, "agent-1")
    page.goto(f"/plans/{plan_id}")
    expect(page.locator(".decide")).to_contain_text("You submitted this plan")
    expect(page.get_by_role("button", name="Approve and apply")).to_have_count(0)
    csrf = page.locator('form.signout input[name="csrf"]').get_attribute("value")
    answer = context.request.post(
        f"/plans/{plan_id}/approve",
        form={"comment": "self-approval", "csrf": csrf or ""},
        headers={"Origin": sidecar.url},
    )
    assert answer.status == 403
    assert "cannot approve it" in answer.text()
    assert sidecar.state(plan_id) == "pending"

    context.clear_cookies()
    sign_in(page, sidecar, "agent-2")
    csrf = page.locator('form.signout input[name="csrf"]').get_attribute("value")
    answer = context.request.post(
        f"/plans/{plan_id}/approve",
        form={"comment": "ok", "csrf": csrf or ""},
        headers={"Origin": sidecar.url},
    )
    assert answer.status == 404  # another agent does not even learn that the plan exists
    assert sidecar.state(plan_id) == "pending"


HOSTILE = "<script>window.__pwned='title'</script><img src=x onerror=\"window.__pwned='img'\">"


def test_html_and_script_in_a_plan_show_as_text_and_never_run(page: Page, sidecar: Sidecar) -> None:
    """HTML and script in a plan's title, reasons and file names show as text and never run."""
    folder = "matters/hostile"
    names = [
        "a' onmouseover='window.__pwned=1' x='.pdf",
        "&lt;img src=x onerror=window.__pwned=2&gt; & co.pdf",
    ]
    for name in names:
        sidecar.put(f"{folder}/{name}", "x")
    plan: dict[str, Any] = {
        "pva": "plan/v1",
        "title": HOSTILE,
        "scope": [folder],
        "ops": [
            {"op": "move", "src": f"{folder}/{name}", "dst": f"{folder}/filed/{name}", "reason": HOSTILE}
            for name in names
        ],
    }
    plan["ops"].insert(0, {"op": "mkdir", "path": f"{folder}/filed", "reason": '"><svg onload=alert(1)>'})
    plan_id = sidecar.submit(plan)
    assert sidecar.state(plan_id) == "pending"
    dialogs = _dismissed_dialogs(page)

    sign_in(page, sidecar, "alice")
    page.goto(f"/?path={folder}")
    expect(_row(page, plan_id).locator("td.title a")).to_have_text(HOSTILE)
    page.get_by_role("link", name=HOSTILE).click()
    expect(page.locator("h1#plan-title")).to_have_text(HOSTILE)
    expect(page.locator("table.ops")).to_contain_text('"><svg onload=alert(1)>')
    for name in names:
        expect(page.get_by_role("region", name="After").get_by_text(name, exact=True)).to_be_visible()
        page.get_by_role("region", name="Before").get_by_text(name, exact=True).hover()
    assert page.evaluate("() => window.__pwned") is None
    assert page.locator("main img, main svg, main script").count() == 0
    assert page.evaluate("() => document.scripts.length") == 1  # the page's own /static/app.js
    assert dialogs == []


def test_the_api_docs_render_offline_under_the_csp(page: Page, sidecar: Sidecar) -> None:
    """/docs renders every operation from the sidecar's own files: no other host asked, no CSP refusal."""
    elsewhere: list[str] = []
    complaints: list[str] = []
    page.on(
        "request",
        lambda request: None if request.url.startswith(sidecar.url) else elsewhere.append(request.url),
    )
    page.on("console", lambda message: complaints.append(message.text) if message.type == "error" else None)
    page.goto("/docs")
    page.locator(".opblock").first.wait_for()
    assert page.locator(".opblock").count() >= 10
    assert (elsewhere, complaints) == ([], [])


def test_a_second_approval_by_the_same_person_is_refused(
    context: BrowserContext, page: Page, sidecar: Sidecar
) -> None:
    """Once approved, no second Approve is offered, and one sent from an older tab is refused."""
    sidecar.put(f"{BOARD}/minutes-draft.txt", "draft minutes")
    plan_id = sidecar.submit(
        {
            "pva": "plan/v1",
            "title": "Remove the draft minutes",
            "scope": [BOARD],
            "ops": [{"op": "delete", "path": f"{BOARD}/minutes-draft.txt", "reason": "final minutes filed"}],
        }
    )
    sign_in(page, sidecar, "alice")
    older = context.new_page()
    older.goto(f"/plans/{plan_id}")  # a second tab, opened before the approval
    page.goto(f"/plans/{plan_id}")
    page.get_by_label("Comment").fill("the final minutes are filed")
    page.get_by_role("button", name="Approve").click()
    expect(page.locator("#already-approved")).to_contain_text("You approved this plan")
    expect(page.get_by_role("button", name="Approve")).to_have_count(0)
    older.get_by_label("Comment").fill("approving once more")
    older.get_by_role("button", name="Approve").click()
    expect(older.get_by_text("you already approved this plan")).to_be_visible()
    assert sidecar.state(plan_id) == "pending"
    assert (sidecar.store / BOARD / "minutes-draft.txt").exists()


def test_an_overwrite_shows_its_diff_and_a_new_file_its_lines_as_text(page: Page, sidecar: Sidecar) -> None:
    """The approver reads a numbered diff of a rewritten index, a new memo's lines, HTML in them as text."""
    folder = "matters/content-review"
    sidecar.put(f"{folder}/index.csv", "file,custodian\n0001.pdf,alice\n0002.pdf,bob\n")
    plan_id = sidecar.submit(
        {
            "pva": "plan/v1",
            "title": "Correct the index and add a memo",
            "scope": [folder],
            "ops": [
                {
                    "op": "write",
                    "path": f"{folder}/index.csv",
                    "content": "file,custodian\n0001.pdf,alice\n0002.pdf,carol\n",
                    "overwrite": True,
                    "expect": {"sha256": _sha("file,custodian\n0001.pdf,alice\n0002.pdf,bob\n")},
                    "reason": "0002 came from Carol's mailbox",
                },
                {
                    "op": "write",
                    "path": f"{folder}/memo.html",
                    "content": f"<h1>Memo</h1>\n{HOSTILE}\n<img src=x onerror=window.__pwned=3>\n",
                    "reason": "summary for the partner",
                },
            ],
        }
    )
    dialogs = _dismissed_dialogs(page)
    sign_in(page, sidecar, "alice")
    page.goto(f"/plans/{plan_id}")
    index = page.locator("#content-0")
    expect(index).to_contain_text("Replaces")
    expect(index.locator("tr.diff-removed td.text")).to_have_text(["0002.pdf,bob"])
    expect(index.locator("tr.diff-removed td.ln").first).to_have_text("3")  # its line in the old file
    expect(index.locator("tr.diff-added td.text")).to_have_text(["0002.pdf,carol"])
    expect(index.locator("tr.diff-added td.ln").nth(1)).to_have_text("3")  # its line in the new file
    expect(index.locator("tr.diff-context").first).to_contain_text("file,custodian")
    memo = page.locator("#content-1")
    expect(memo).to_contain_text("New file")
    expect(memo.locator("tr.diff-added td.text")).to_have_text(
        ["<h1>Memo</h1>", HOSTILE, "<img src=x onerror=window.__pwned=3>"]
    )
    assert page.locator("main img, main h1").count() == 1  # the plan's title; no h1 or img from the memo
    assert page.evaluate("() => window.__pwned") is None
    assert dialogs == []
    page.screenshot(path=str(IMAGES / "plan-content.png"), full_page=True)


def test_a_write_too_large_to_show_is_downloaded_whole(page: Page, sidecar: Sidecar) -> None:
    """A 300 KB log shows only its facts; the approver downloads every byte of it, and nothing runs."""
    folder = "matters/content-download"
    log = "custodian,document\n" + "alice,<script>window.__pwned=4</script>\n" * 7_500
    plan_id = sidecar.submit(
        {
            "pva": "plan/v1",
            "title": "A privilege log",
            "scope": [folder],
            "ops": [
                {"op": "mkdir", "path": folder},
                {"op": "write", "path": f"{folder}/privilege-log.html", "content": log},
            ],
        }
    )
    sign_in(page, sidecar, "alice")
    page.goto(f"/plans/{plan_id}")
    shown = page.locator("#content-1")
    expect(shown).to_contain_text("too large to show here")
    with page.expect_download() as started:
        shown.get_by_role("link", name="Download the new content").click()
    download = started.value
    assert download.suggested_filename == "privilege-log.html"
    assert Path(download.path()).read_bytes() == log.encode()
    assert page.url.endswith(f"/plans/{plan_id}")  # saved, not opened
    assert page.evaluate("() => window.__pwned") is None
