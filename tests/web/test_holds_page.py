"""The holds page and the plan page's hold notice, in process (a real app, tmp store, SQLite)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.plans import plan_doc
from tests.web.test_pages import ORIGIN, Site, _opened_site, _sign_in, _submit

PEOPLE = {
    "counsel": ("counsel", ["m"]),
    "alice": ("approver", ["m"]),
    "agent": ("agent", ["m"]),
    "outsider": ("approver", ["other"]),
}
RENAME = plan_doc({"op": "rename", "path": "m/inbox/a.pdf", "name": "b.pdf"}, title="Rename a", scope=["m"])


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    files = {"m/inbox/a.pdf": b"a", "other/x.txt": b"x"}
    with _opened_site(tmp_path, PEOPLE, files=files) as opened:
        yield opened


def _place(site: Site, csrf: str, paths: str) -> int:
    data = {"csrf": csrf, "paths": paths, "matter": "CANARY-MATTER", "reason": "litigation"}
    return site.client.post("/holds", data=data, headers=ORIGIN).status_code


def test_counsel_places_and_releases_a_hold_on_the_page(site: Site) -> None:
    """Counsel's form places a hold (listed with its matter) and releases it; a bad path is an error."""
    csrf = _sign_in(site, "counsel")
    assert _place(site, csrf, "m/nothing") == 422
    assert _place(site, csrf, "m/inbox\n") == 303
    page = site.client.get("/holds").text
    assert "CANARY-MATTER" in page
    hold_id = re.search(r"hold_[0-9a-f]{12}", page)
    assert hold_id is not None
    data = {"csrf": csrf, "reason": "settled"}
    answer = site.client.post(f"/holds/{hold_id.group(0)}/release", data=data, headers=ORIGIN)
    assert answer.status_code == 303
    assert "released" in site.client.get("/holds?done=release").text


def test_the_plan_page_says_a_hold_blocks_the_plan(site: Site) -> None:
    """A pending plan that a hold placed after submit blocks says so to its approver, naming the hold."""
    plan_id = _submit(site, RENAME)
    assert _place(site, _sign_in(site, "counsel"), "m/inbox") == 303
    _sign_in(site, "alice")
    page = site.client.get(f"/plans/{plan_id}").text
    assert 'id="on-hold"' in page
    assert "A legal hold blocks this plan" in page


def test_only_counsel_sees_the_forms_and_outsiders_see_nothing(site: Site) -> None:
    """An approver sees the hold without forms; one scoped elsewhere sees none of it; posting is refused."""
    assert _place(site, _sign_in(site, "counsel"), "m/inbox") == 303
    alice = _sign_in(site, "alice")
    page = site.client.get("/holds").text
    assert "CANARY-MATTER" in page
    assert "Place a hold" not in page
    assert _place(site, alice, "m/inbox") == 422
    _sign_in(site, "outsider")
    page = site.client.get("/holds").text
    assert "CANARY-MATTER" not in page
    assert "No legal hold touches your scope" in page
