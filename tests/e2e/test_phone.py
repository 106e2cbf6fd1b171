"""The inbox and a plan's page on a phone: 390 px wide, every action reachable, nothing cut off.

Checked in Debian's Chromium at 390 x 844 CSS pixels: the page is no wider
than the screen (no sideways scrolling), every button lies inside the
screen's width once scrolled to, and no button's or heading's word is split
across lines. The plan has the long, space-free paths of real matters. The
approver then decides the plan from the phone, and the link a mail carries
opens the plan's page after signing in. With ``PVA_SCREENSHOTS`` set
(``make screenshots``) the two pages go to docs/img.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.e2e.conftest import Sidecar, sign_in

IMAGES = Path(os.environ.get("PVA_SCREENSHOTS") or Path(tempfile.gettempdir()) / "pva-screenshots")
WIDTH = 390
PAGE_PATIENCE = 60_000  # ms: a bound on a hung apply, never on a slow one
MATTER = "matters/phone/Smith-v-Jones-Holdings-International-2026-CV-004211"
LONG = "Deposition_Transcript_of_Dr_Alexandra_Konstantinopoulou_Volume_III_Exhibits_A-Z_FINAL.pdf"

# For each element: is it inside the screen's width, and is its text on one line per word?
_MEASURE = """(selector) => Array.from(document.querySelectorAll(selector))
  .filter((el) => el.offsetParent !== null)
  .map((el) => {
    const box = el.getBoundingClientRect();
    const words = [];
    const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const text = node.textContent;
      for (const match of text.matchAll(/\\S+/g)) {
        const range = document.createRange();
        range.setStart(node, match.index);
        range.setEnd(node, match.index + match[0].length);
        const lines = new Set(Array.from(range.getClientRects(), (r) => Math.round(r.top)));
        if (lines.size > 1) words.push(match[0]);
      }
    }
    return { text: el.textContent.trim().slice(0, 60), left: box.left, right: box.right, split: words };
  })"""


@pytest.fixture
def phone(browser: Browser, sidecar: Sidecar) -> Iterator[BrowserContext]:
    fresh = browser.new_context(
        base_url=sidecar.url, viewport={"width": WIDTH, "height": 844}, device_scale_factor=2, has_touch=True
    )
    fresh.set_default_timeout(15_000)
    yield fresh
    fresh.close()


def _fits(page: Page, what: str) -> None:
    """Nothing wider than the screen; every button and heading inside it, with no word split."""
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= WIDTH, f"{what}: the page is {width} px wide, wider than the {WIDTH} px screen"
    for found in page.evaluate(_MEASURE, "button, h1, h2, nav a, label"):
        assert found["left"] >= 0, f"{what}: {found['text']!r} starts off the screen"
        assert found["right"] <= WIDTH + 0.5, f"{what}: {found['text']!r} is cut off at the right"
        assert not found["split"], f"{what}: {found['text']!r} splits the words {found['split']}"


def _plan(sidecar: Sidecar) -> str:
    sidecar.put(f"{MATTER}/inbox/{LONG}", "transcript")
    sidecar.put(f"{MATTER}/inbox/Thumbs.db", "cache")
    return sidecar.submit(
        {
            "pva": "plan/v1",
            "title": "File the deposition transcripts of Smith v. Jones Holdings International by witness",
            "scope": [MATTER],
            "ops": [
                {"op": "mkdir", "path": f"{MATTER}/depositions/Konstantinopoulou", "parents": True},
                {
                    "op": "move",
                    "src": f"{MATTER}/inbox/{LONG}",
                    "dst": f"{MATTER}/depositions/Konstantinopoulou/{LONG}",
                    "reason": "The transcript's cover page names the witness Dr Konstantinopoulou",
                },
                {"op": "delete", "path": f"{MATTER}/inbox/Thumbs.db", "reason": "A thumbnail cache"},
                {"op": "write", "path": f"{MATTER}/depositions/index.csv", "content": f"file\n{LONG}\n"},
            ],
        }
    )


def test_an_approver_decides_a_plan_with_long_paths_on_a_390_px_phone(
    phone: BrowserContext, browser: Browser, sidecar: Sidecar
) -> None:
    plan_id = _plan(sidecar)
    page = phone.new_page()
    sign_in(page, sidecar, "alice")
    page.goto(f"/?path={MATTER}")
    expect(page.locator(f'tr[data-plan="{plan_id}"]')).to_be_visible()
    _fits(page, "inbox")
    IMAGES.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(IMAGES / "inbox-390.png"))

    # The mail's link, opened signed out on the phone: sign in, and the plan's page opens.
    linked = browser.new_context(base_url=sidecar.url, viewport={"width": WIDTH, "height": 844})
    try:
        fresh = linked.new_page()
        fresh.goto(f"/plans/{plan_id}")
        _fits(fresh, "sign-in page")
        fresh.get_by_label("Access token").fill(sidecar.secrets["alice"])
        fresh.get_by_role("button", name="Sign in").click()
        fresh.wait_for_url(f"{sidecar.url}/plans/{plan_id}")
        expect(fresh.locator("h1")).to_contain_text("deposition transcripts")
    finally:
        linked.close()

    page.get_by_role("link", name="File the deposition transcripts").click()
    expect(page.locator("h1")).to_contain_text("deposition transcripts")
    _fits(page, "plan page")
    page.screenshot(path=str(IMAGES / "plan-390.png"))
    for name in ("Approve", "Reject", "Request changes"):
        button = page.get_by_role("button", name=name, exact=False).first
        button.scroll_into_view_if_needed()
        expect(button).to_be_in_viewport()
    page.get_by_label("Comment (required").fill("Checked on the phone.")
    page.get_by_role("button", name="Approve").first.click()
    expect(page.locator(".state").first).to_have_text("applied", timeout=PAGE_PATIENCE)
    assert (sidecar.store / MATTER / "depositions/Konstantinopoulou" / LONG).read_text() == "transcript"
