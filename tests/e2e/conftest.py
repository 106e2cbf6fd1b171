"""A real sidecar (``pva serve`` on 127.0.0.1) and Debian's Chromium driven by Playwright, for the e2e tests.

One sidecar and one browser serve the whole session; each test gets a fresh
browser context (no cookies) and submits its own plans in its own folder.
The browser is the system's ``chromium`` (``.ci/ensure-chromium`` installs
it); nothing here downloads a browser.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright

from tests import servers
from tests.support.apps import migrated_sqlite
from tests.support.tokens import create_tokens

TOKENS = {  # name: (role, scopes)
    "alice": ("approver", ["matters"]),
    "agent-1": ("agent", ["matters"]),
    "agent-2": ("agent", ["matters"]),
    "admin": ("admin", []),
}
BOARD = "matters/board"  # plans touching it need two approvers (the policy below)
BOARD_POLICY = f"""
[[rules]]
name = "board"
paths_any = ["{BOARD}"]
outcome = "require_approvals"
approvals = 2
"""


@dataclass
class Sidecar:
    """A running sidecar: its address, its store folder, and the secrets of its tokens."""

    url: str
    store: Path
    secrets: dict[str, str]

    def api(self, who: str) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {self.secrets[who]}"})

    def submit(self, plan: dict[str, Any], who: str = "agent-1") -> str:
        with self.api(who) as client:
            response = client.post("/v1/plans", json=plan)
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    def state(self, plan_id: str) -> str:
        with self.api("admin") as client:
            return str(client.get(f"/v1/plans/{plan_id}").raise_for_status().json()["state"])

    def put(self, path: str, content: str) -> None:
        """Write a file into the store directly (the backdoor the tests use to set up and check)."""
        target = self.store / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content, encoding="utf-8")


@pytest.fixture(scope="package")
def sidecar(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sidecar]:
    home = tmp_path_factory.mktemp("sidecar")
    store = home / "projects"
    store.mkdir()
    database = migrated_sqlite(home, "pva.db")
    secrets = create_tokens(database, TOKENS)
    policy = home / "policy.toml"
    policy.write_text(BOARD_POLICY, encoding="utf-8")
    with servers.sidecar(store, database, home / "sidecar.log", cwd=home, policy=str(policy)) as url:
        yield Sidecar(url, store, secrets)


def chromium_path() -> str:
    found = shutil.which("chromium") or ("/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else None)
    if found is None:
        pytest.fail("Debian's chromium is not installed: run .ci/ensure-chromium (make services)")
    return found


@pytest.fixture(scope="package")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="package")
def browser(playwright: Playwright) -> Iterator[Browser]:
    launched = playwright.chromium.launch(executable_path=chromium_path(), headless=True)
    yield launched
    launched.close()


@pytest.fixture
def context(browser: Browser, sidecar: Sidecar) -> Iterator[BrowserContext]:
    fresh = browser.new_context(base_url=sidecar.url, viewport={"width": 1280, "height": 800})
    fresh.set_default_timeout(15_000)
    yield fresh
    fresh.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()


def sign_in(page: Page, sidecar: Sidecar, who: str) -> None:
    """Sign in through the page's own form, as a person would."""
    page.goto("/")
    page.get_by_label("Access token").fill(sidecar.secrets[who])
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{sidecar.url}/")
