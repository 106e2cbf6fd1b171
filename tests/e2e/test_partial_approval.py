"""Partial approval end to end: an approver unticks ops on the plan page in Debian's Chromium."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Page, expect

from tests.e2e.conftest import Sidecar, sign_in

PAGE_PATIENCE = 60_000  # ms: a bound on a hung apply worker (the page reloads every 5 s)


def _plan(matter: str) -> dict[str, Any]:
    return {
        "pva": "plan/v1",
        "title": f"File {matter} by custodian",
        "scope": [matter],
        "ops": [
            {"op": "mkdir", "path": f"{matter}/alice", "reason": "One folder per custodian"},
            {"op": "move", "src": f"{matter}/inbox/1.pdf", "dst": f"{matter}/alice/1.pdf", "reason": "Alice"},
            {"op": "delete", "path": f"{matter}/inbox/notes.txt", "reason": "Looks like clutter"},
        ],
    }


def _seed(sidecar: Sidecar, matter: str) -> None:
    sidecar.put(f"{matter}/inbox/1.pdf", "contract")
    sidecar.put(f"{matter}/inbox/notes.txt", "notes")


def test_unticking_an_op_approves_and_applies_the_rest(page: Page, sidecar: Sidecar) -> None:
    """Op 3 unticked: the button says so, the part is approved and applied, the original is superseded."""
    matter = "matters/partial-e2e"
    _seed(sidecar, matter)
    original = sidecar.submit(_plan(matter))
    sign_in(page, sidecar, "alice")
    page.goto(f"/plans/{original}")
    page.get_by_label("approve op 3").uncheck()
    expect(page.get_by_role("button", name="Approve selected (2 of 3 ops)")).to_be_visible()
    page.get_by_label("Comment (required").fill("File it, but keep the notes.")
    page.get_by_role("button", name="Approve selected").click()
    expect(page.get_by_role("status")).to_contain_text("this is that part")
    expect(page.locator("#derived-from")).to_contain_text("alice approved")
    expect(page.locator("#derived-from")).to_contain_text("without op 3")
    expect(page.locator(".state").first).to_have_text("applied", timeout=PAGE_PATIENCE)
    assert (sidecar.store / matter / "alice/1.pdf").read_text() == "contract"
    assert (sidecar.store / matter / "inbox/notes.txt").read_text() == "notes"
    assert sidecar.state(original) == "superseded"
    page.get_by_role("link", name=f"plan {original[:12]}").first.click()
    expect(page.locator("#superseded-by")).to_contain_text("This plan was replaced by")


def test_unticking_an_op_others_need_approves_nothing_and_says_why(page: Page, sidecar: Sidecar) -> None:
    """Op 1 (the mkdir the move needs) unticked: the page says why, the plan stays pending, nothing moves."""
    matter = "matters/partial-e2e-refused"
    _seed(sidecar, matter)
    original = sidecar.submit(_plan(matter))
    sign_in(page, sidecar, "alice")
    page.goto(f"/plans/{original}")
    page.get_by_label("approve op 1").uncheck()
    page.get_by_label("Comment (required").fill("Only the move and the delete.")
    page.get_by_role("button", name="Approve selected").click()
    expect(page.get_by_role("alert")).to_contain_text("Nothing was approved")
    expect(page.get_by_role("alert")).to_contain_text("parent_not_found")
    assert sidecar.state(original) == "pending"
    assert (sidecar.store / matter / "inbox/1.pdf").exists()
