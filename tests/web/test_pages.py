"""The approval page in process (a real app, tmp store, SQLite): headers, cookies, sessions, CSRF, paging."""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest
from fastapi.testclient import TestClient

from sidecar.app import create_app
from sidecar.db import make_engine
from sidecar.settings import Settings
from sidecar.tokens import TokenStore
from sidecar.web.render import CSP
from tests.support.apps import migrated_sqlite
from tests.support.files import write_files
from tests.support.plans import plan_doc
from tests.support.tokens import People, issue

PATIENCE = 120.0  # seconds: a bound on a hung apply worker, never on a slow one

ORIGIN = {"Origin": "http://testserver"}
DELETE_A = plan_doc({"op": "delete", "path": "m/a.pdf"}, title="T", scope=["m"])
TWO_APPROVALS = (
    '[[rules]]\nname = "two"\nops_any = ["delete"]\noutcome = "require_approvals"\napprovals = 2\n'
)


@dataclass
class Site:
    client: TestClient
    secrets: dict[str, str]
    tokens: TokenStore
    store: Path

    def settle(self, plan_id: str) -> str:
        """The plan's state once its apply (a worker's job, after the page answered) is over."""
        deadline = time.monotonic() + PATIENCE
        auth = {"Authorization": f"Bearer {next(iter(self.secrets.values()))}"}
        while True:
            shown = self.client.get(f"/v1/plans/{plan_id}", params={"wait": 10}, headers=auth).json()
            if shown["state"] != "applying" or time.monotonic() > deadline:
                return str(shown["state"])


@contextmanager
def _opened_site(
    tmp_path: Path,
    people: People,
    *,
    files: Mapping[str, bytes | None] = MappingProxyType({}),
    base_url: str = "http://testserver",
    **settings: Any,
) -> Iterator[Site]:
    """The app over a store holding m (and ``files``), a fresh SQLite database, tokens for ``people``."""
    store = write_files(tmp_path / "store", {"m": None, **files})
    url = migrated_sqlite(tmp_path, "pva.db")
    engine = make_engine(url)
    tokens = TokenStore(engine)
    secrets = issue(tokens, people)
    app = create_app(Settings(store=str(store), database_url=url, **settings))
    with TestClient(app, base_url=base_url, follow_redirects=False) as client:
        yield Site(client, secrets, tokens, store)
    engine.dispose()


@contextmanager
def _deleting_under_two_approvals(
    tmp_path: Path, people: People, **settings: Any
) -> Iterator[tuple[Site, str]]:
    """A site whose policy wants two approvals for a delete; the id of a submitted plan deleting m/a.pdf."""
    (tmp_path / "policy.toml").write_text(TWO_APPROVALS)
    policy = str(tmp_path / "policy.toml")
    with _opened_site(tmp_path, people, files={"m/a.pdf": b"a"}, policy=policy, **settings) as site:
        yield site, _submit(site, DELETE_A)


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    with _opened_site(tmp_path, {"alice": ("approver", ["m"]), "agent": ("agent", ["m"])}) as opened:
        yield opened


def _sign_in(site: Site, who: str) -> str:
    """Sign in through the form; return the session's CSRF token."""
    form = site.client.get("/sign-in")
    csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', form.text)
    assert csrf is not None
    answer = site.client.post(
        "/sign-in", data={"token": site.secrets[who], "csrf": csrf.group(1), "next": "/"}, headers=ORIGIN
    )
    assert answer.status_code == 303, answer.text
    inbox = site.client.get("/")
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', inbox.text)
    assert found is not None
    return found.group(1)


def _submit(site: Site, plan: Mapping[str, object]) -> str:
    answer = site.client.post(
        "/v1/plans", json=plan, headers={"Authorization": f"Bearer {site.secrets['agent']}"}
    )
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


def test_pages_carry_a_strict_csp_no_framing_and_no_caching(site: Site) -> None:
    """Every page, the sign-in form included, forbids inline script, framing and caching."""
    for path in ("/sign-in", "/static/app.js"):
        headers = site.client.get(path).headers
        assert "script-src 'self'" in headers["content-security-policy"]
        assert "frame-ancestors 'none'" in headers["content-security-policy"]
        assert headers["x-frame-options"] == "DENY"
        assert headers["x-content-type-options"] == "nosniff"
    assert site.client.get("/sign-in").headers["cache-control"] == "no-store"


def test_signing_in_sets_an_httponly_strict_expiring_cookie_without_the_secret(site: Site) -> None:
    """The session cookie is HttpOnly, SameSite=Strict, has a Max-Age, and never holds the token's secret."""
    form = site.client.get("/sign-in")
    csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', form.text)
    assert csrf is not None
    answer = site.client.post(
        "/sign-in", data={"token": site.secrets["alice"], "csrf": csrf.group(1)}, headers=ORIGIN
    )
    cookie = next(
        v for k, v in answer.headers.multi_items() if k == "set-cookie" and v.startswith("pva_session=")
    )
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie or "SameSite=Strict" in cookie
    assert "Max-Age=28800" in cookie
    assert site.secrets["alice"] not in cookie


def test_a_wrong_token_does_not_sign_in(site: Site) -> None:
    """An unknown token gets the form again with a 401 and no session."""
    form = site.client.get("/sign-in")
    csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', form.text)
    assert csrf is not None
    answer = site.client.post(
        "/sign-in", data={"token": "pva_" + "x" * 43, "csrf": csrf.group(1)}, headers=ORIGIN
    )
    assert answer.status_code == 401
    assert "pva_session" not in answer.headers.get("set-cookie", "")


def test_pages_send_a_stranger_to_sign_in(site: Site) -> None:
    """Without a session, a page redirects to the sign-in form and the inbox script's fragment gets 401."""
    answer = site.client.get("/plans/0123456789abcdef")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/sign-in?next=%2Fplans%2F0123456789abcdef"
    assert site.client.get("/inbox/rows", headers={"X-PVA-Fragment": "1"}).status_code == 401


def test_revoking_the_token_ends_the_session(site: Site) -> None:
    """A session whose token is revoked is signed out on its next request."""
    _sign_in(site, "alice")
    assert site.client.get("/").status_code == 200
    site.tokens.revoke("alice")
    assert site.client.get("/").status_code == 303


def test_posts_need_this_origin_and_the_session_csrf_token(site: Site) -> None:
    """A post without the session's CSRF token, or from another origin, is refused (403); nothing changes."""
    (site.store / "m" / "a.pdf").write_text("a")
    plan_id = _submit(site, DELETE_A)
    csrf = _sign_in(site, "alice")
    url = f"/plans/{plan_id}/approve"
    assert site.client.post(url, data={"comment": "ok"}, headers=ORIGIN).status_code == 403
    other = {"Origin": "http://127.0.0.1:9999"}
    assert site.client.post(url, data={"comment": "ok", "csrf": csrf}, headers=other).status_code == 403
    no_origin = site.client.post(url, data={"comment": "ok", "csrf": csrf})  # no Origin, no Referer
    assert no_origin.status_code == 403
    assert (site.store / "m" / "a.pdf").exists()
    assert site.client.post(url, data={"comment": "ok", "csrf": csrf}, headers=ORIGIN).status_code == 303
    assert site.settle(plan_id) == "applied"
    assert not (site.store / "m" / "a.pdf").exists()


def test_an_empty_comment_is_refused_and_the_plan_stays_pending(site: Site) -> None:
    """Approving needs a comment: a blank one shows the plan again with the reason, and nothing is decided."""
    (site.store / "m" / "a.pdf").write_text("a")
    plan_id = _submit(site, DELETE_A)
    csrf = _sign_in(site, "alice")
    answer = site.client.post(
        f"/plans/{plan_id}/approve", data={"comment": "  ", "csrf": csrf}, headers=ORIGIN
    )
    assert answer.status_code == 422
    assert "Write a comment first" in answer.text
    assert (site.store / "m" / "a.pdf").exists()


def test_a_ten_thousand_op_plan_is_shown_a_page_at_a_time(site: Site) -> None:
    """A plan of 10,000 ops renders 100 ops and one page of each tree per request, with links to the rest."""
    ops = [{"op": "mkdir", "path": f"m/d{index:05}"} for index in range(10_000)]
    plan_id = _submit(site, {"pva": "plan/v1", "title": "Big", "scope": ["m"], "ops": ops})
    _sign_in(site, "alice")
    first = site.client.get(f"/plans/{plan_id}")
    assert first.status_code == 200
    assert first.text.count("<tr") == 101  # the header row and 100 ops
    assert "page 1 of 100" in first.text
    later = site.client.get(f"/plans/{plan_id}?op=100&ap=34")
    assert "m/d09999" in later.text
    assert "page 100 of 100" in later.text


def test_the_pages_are_not_in_the_openapi_document(site: Site) -> None:
    """The OpenAPI document lists the API only, not the approval page's routes."""
    paths = site.client.get("/openapi.json").json()["paths"]
    assert not any(path in paths for path in ("/", "/sign-in", "/plans/{plan_id}", "/history", "/audit"))


HTTPS_ORIGIN = {"Origin": "https://testserver"}


@pytest.fixture
def behind_tls(tmp_path: Path) -> Iterator[tuple[TestClient, dict[str, str]]]:
    """The page as a TLS proxy serves it (PVA_TLS_PROXY=true, https), and the secrets of two approvers."""
    people = {name: ("approver", ["m"]) for name in ("alice", "mallory")}
    with _opened_site(tmp_path, people, base_url="https://testserver", tls_proxy=True) as site:
        yield site.client, site.secrets


def _session_cookie(client: TestClient, secret: str) -> str:
    """Sign in through the form; the Set-Cookie header of the session."""
    form = client.get("/sign-in")
    csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', form.text)
    assert csrf is not None
    answer = client.post(
        "/sign-in", data={"token": secret, "csrf": csrf.group(1), "next": "/"}, headers=HTTPS_ORIGIN
    )
    assert answer.status_code == 303, answer.text
    (header,) = [v for k, v in answer.headers.multi_items() if k == "set-cookie" and "pva_session=" in v]
    return header


def test_behind_tls_the_session_cookie_is_host_only(behind_tls: tuple[TestClient, dict[str, str]]) -> None:
    """Behind a TLS proxy the session cookie is __Host-pva_session: Secure, Path=/, no Domain."""
    client, secrets = behind_tls
    header = _session_cookie(client, secrets["alice"])
    assert header.startswith("__Host-pva_session=")
    assert "secure" in header.lower()
    assert "path=/" in header.lower()
    assert "domain" not in header.lower()
    assert client.get("/").status_code == 200


def test_behind_tls_a_tossed_plain_cookie_signs_nobody_in(
    behind_tls: tuple[TestClient, dict[str, str]],
) -> None:
    """Mallory's own valid session, tossed in as a plain pva_session cookie (another port can), is ignored."""
    client, secrets = behind_tls
    value = _session_cookie(client, secrets["mallory"]).split(";", 1)[0].split("=", 1)[1]
    client.cookies.clear()
    client.cookies.set("pva_session", value)
    assert client.get("/").status_code == 303  # to the sign-in form: nobody is signed in


def test_the_api_docs_load_nothing_from_elsewhere(site: Site) -> None:
    """/docs and its assets come from the sidecar itself, under the page's CSP, and refuse framing."""
    page = site.client.get("/docs")
    assert page.status_code == 200
    assert page.headers["content-security-policy"] == CSP
    assert page.headers["x-frame-options"] == "DENY"
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sources
    assert all(source.startswith("/docs/assets/") for source in sources), sources
    assert "<script>" not in page.text  # no inline script: the CSP would refuse it
    for source in sources:
        asset = site.client.get(source)
        assert asset.status_code == 200, source
        assert asset.headers["content-security-policy"] == CSP
    assert site.client.get("/docs/assets/index.html").status_code == 404


def _offered(site: Site, plan_id: str) -> set[str]:
    """The actions the plan page offers: the forms' targets, approve and reject as buttons."""
    text = site.client.get(f"/plans/{plan_id}").text
    offered = set(re.findall(rf'action="/plans/{plan_id}/(approve|reject|apply|revert)"', text))
    offered |= set(re.findall(rf'formaction="/plans/{plan_id}/(reject)"', text))
    if 'class="approve"' not in text:
        offered.discard("approve")  # the decision form posts to approve only through its Approve button
    return offered


def _allowed(site: Site, plan_id: str, who: str) -> set[str]:
    body = site.client.get(f"/v1/plans/{plan_id}", headers={"Authorization": f"Bearer {site.secrets[who]}"})
    return set(body.json()["actions"]) if body.status_code == 200 else set()  # 404: a plan it may not see


def test_the_page_offers_exactly_the_actions_the_workflow_allows(tmp_path: Path) -> None:
    """At each step of a two-approval plan, for each person, the page's buttons are the API's actions."""
    roles = {"alice": "approver", "bob": "approver", "agent": "agent", "other": "agent"}
    people = {name: (role, ["m"]) for name, role in roles.items()}
    with _deleting_under_two_approvals(tmp_path, people, auto_apply=False) as (site, plan_id):
        client, store = site.client, site.store
        steps = [("alice", "approve"), ("bob", "approve"), ("agent", "apply"), ("alice", "revert")]
        for actor, verb in [(None, None), *steps]:
            if actor is not None:
                csrf = _sign_in(site, actor)
                data = {"csrf": csrf, "comment": "ok"}
                assert client.post(f"/plans/{plan_id}/{verb}", data=data, headers=ORIGIN).status_code == 303
                site.settle(plan_id)
            for who in roles:
                _sign_in(site, who)
                assert _offered(site, plan_id) == _allowed(site, plan_id, who), (actor, verb, who)
        assert not (store / "m" / "a.pdf").exists()
        client.cookies.clear()
        _sign_in(site, "alice")
        assert "undone by" in client.get(f"/plans/{plan_id}").text  # the revert exists now


def test_the_page_links_only_to_plans_that_exist(site: Site) -> None:
    """An applied plan does not link to the plan that would undo it until a revert submits that plan."""
    (site.store / "m" / "a.pdf").write_text("a")
    plan_id = _submit(site, DELETE_A)
    csrf = _sign_in(site, "alice")
    site.client.post(f"/plans/{plan_id}/approve", data={"comment": "ok", "csrf": csrf}, headers=ORIGIN)
    page = site.client.get(f"/plans/{plan_id}").text
    assert "undone by" not in page
    for linked in re.findall(r'href="(/plans/[0-9a-f]+)"', page):
        assert site.client.get(linked).status_code == 200, linked


def test_a_second_approval_by_the_same_person_is_refused_on_the_page(tmp_path: Path) -> None:
    """An approver who approved is told so, offered no second Approve, and a replayed form gets a 409 page."""
    people = {"alice": ("approver", ["m"]), "agent": ("agent", ["m"])}
    with _deleting_under_two_approvals(tmp_path, people) as (site, plan_id):
        client = site.client
        csrf = _sign_in(site, "alice")
        form = {"comment": "ok", "csrf": csrf}
        assert client.post(f"/plans/{plan_id}/approve", data=form, headers=ORIGIN).status_code == 303
        page = client.get(f"/plans/{plan_id}").text
        assert "You approved this plan" in page
        assert 'class="approve"' not in page
        again = client.post(f"/plans/{plan_id}/approve", data=form, headers=ORIGIN)
        assert again.status_code == 409
        assert "you already approved this plan" in again.text


def _write_plan(store: Path) -> dict[str, object]:
    old = (store / "m" / "index.csv").read_bytes()
    return {
        "pva": "plan/v1",
        "title": "Update the index",
        "scope": ["m"],
        "ops": [
            {
                "op": "write",
                "path": "m/index.csv",
                "content": "file,custodian\n0001.pdf,alice\n0002.pdf,carol\n",
                "overwrite": True,
                "expect": {"sha256": hashlib.sha256(old).hexdigest()},
                "reason": "0002 is Carol's",
            },
            {"op": "write", "path": "m/memo.html", "content": "<script>alert(1)</script>\n<b>bold</b>\n"},
            {"op": "write", "path": "m/scan.pdf", "content": "JVBERi0xLjQKAAEC", "encoding": "base64"},
        ],
    }


def _rows(text: str, index: int) -> list[tuple[str, str, str, str]]:
    """The diff rows of op ``index``'s content section: (kind, old number, new number, text)."""
    section = text.split(f'id="content-{index}"', 1)[1].split("</section>", 1)[0]
    found = re.findall(
        r'<tr class="diff-(\w+)"><td class="ln">(\d*)</td><td class="ln">(\d*)</td>.*?<code>(.*?)</code>',
        section,
    )
    return [(kind, old, new, html_text) for kind, old, new, html_text in found]


def test_bidi_controls_in_a_title_or_content_are_shown_as_codes_not_obeyed(site: Site) -> None:
    """An RLO in a title ("Tidy RLO fdp.exe" reads "Tidy exe.pdf") or a line of content shows as its code."""
    plan = {
        "pva": "plan/v1",
        "title": "Tidy \u202efdp.exe",
        "scope": ["m"],
        "ops": [{"op": "write", "path": "m/memo.txt", "content": "pay \u2066bob\u2069 \u202a100\u202c\n"}],
    }
    plan_id = _submit(site, plan)
    _sign_in(site, "alice")
    for page in ("/", f"/plans/{plan_id}"):
        text = site.client.get(page).text
        assert "Tidy \\u202efdp.exe" in text
        assert not any(chr(code) in text for code in (*range(0x202A, 0x202F), *range(0x2066, 0x206A)))
    assert "pay \\u2066bob\\u2069 \\u202a100\\u202c" in site.client.get(f"/plans/{plan_id}").text


def test_a_write_shows_its_diff_a_new_file_its_lines_and_a_binary_its_facts(site: Site) -> None:
    """An overwrite shows a numbered diff against the old file; a new file its lines; binary its facts."""
    (site.store / "m" / "index.csv").write_text("file,custodian\n0001.pdf,alice\n0002.pdf,bob\n")
    plan_id = _submit(site, _write_plan(site.store))
    _sign_in(site, "alice")
    text = site.client.get(f"/plans/{plan_id}").text
    assert _rows(text, 0) == [
        ("context", "1", "1", "file,custodian"),
        ("context", "2", "2", "0001.pdf,alice"),
        ("removed", "3", "", "0002.pdf,bob"),
        ("added", "", "3", "0002.pdf,carol"),
    ]
    assert _rows(text, 1) == [
        ("added", "", "1", "&lt;script&gt;alert(1)&lt;/script&gt;"),
        ("added", "", "2", "&lt;b&gt;bold&lt;/b&gt;"),
    ]
    assert "<script>alert(1)" not in text
    scan = text.split('id="content-2"', 1)[1].split("</section>", 1)[0]
    assert "PDF document" in scan
    assert hashlib.sha256(b"%PDF-1.4\n\x00\x01\x02").hexdigest() in scan


def test_the_replaced_version_shown_is_the_one_verified_never_a_later_one(site: Site) -> None:
    """A file changed after submit is never shown as the old version; after the apply, the trash copy is."""
    (site.store / "m" / "index.csv").write_text("file,custodian\n0001.pdf,alice\n0002.pdf,bob\n")
    plan_id = _submit(site, _write_plan(site.store))
    (site.store / "m" / "index.csv").write_text("someone else's edit\n")
    csrf = _sign_in(site, "alice")
    text = site.client.get(f"/plans/{plan_id}").text
    assert "someone else" not in text
    assert "no longer in the store" in text
    (site.store / "m" / "index.csv").write_text("file,custodian\n0001.pdf,alice\n0002.pdf,bob\n")
    site.client.post(f"/plans/{plan_id}/approve", data={"comment": "ok", "csrf": csrf}, headers=ORIGIN)
    assert site.settle(plan_id) == "applied"
    assert (site.store / "m" / "index.csv").read_text().endswith("carol\n")
    assert ("removed", "3", "", "0002.pdf,bob") in _rows(site.client.get(f"/plans/{plan_id}").text, 0)


def test_a_long_new_file_is_paged_on_the_server(site: Site) -> None:
    """A new file of 450 lines shows 200 a page, with a link to the next page of that op's lines."""
    content = "".join(f"line {n}\n" for n in range(1, 451))
    plan = {
        "pva": "plan/v1",
        "title": "Long",
        "scope": ["m"],
        "ops": [{"op": "write", "path": "m/long.txt", "content": content}],
    }
    plan_id = _submit(site, plan)
    _sign_in(site, "alice")
    first = site.client.get(f"/plans/{plan_id}").text
    assert len(_rows(first, 0)) == 200
    assert "lines 1\N{EN DASH}200 of 450" in first
    third = site.client.get(f"/plans/{plan_id}?d=0&dp=3").text
    assert _rows(third, 0)[0] == ("added", "", "401", "line 401")
    assert len(_rows(third, 0)) == 50


def test_a_content_ref_write_shows_the_referenced_blob(site: Site) -> None:
    """The revert of an overwrite writes the trashed original by content_ref: its page diffs that blob."""
    (site.store / "m" / "index.csv").write_text("file,custodian\n0001.pdf,alice\n0002.pdf,bob\n")
    plan_id = _submit(site, _write_plan(site.store))
    csrf = _sign_in(site, "alice")
    site.client.post(f"/plans/{plan_id}/approve", data={"comment": "ok", "csrf": csrf}, headers=ORIGIN)
    assert site.settle(plan_id) == "applied"
    reverted = site.client.post(f"/plans/{plan_id}/revert", data={"csrf": csrf}, headers=ORIGIN)
    assert reverted.status_code == 303
    inverse = reverted.headers["location"].split("?")[0]
    document = site.client.get(
        f"/v1/plans/{inverse.rsplit('/', 1)[1]}", headers={"Authorization": f"Bearer {site.secrets['alice']}"}
    ).json()
    index = next(i for i, op in enumerate(document["plan"]["ops"]) if op.get("path") == "m/index.csv")
    assert "content_ref" in document["plan"]["ops"][index]
    rows = _rows(site.client.get(inverse).text, index)
    assert ("removed", "3", "", "0002.pdf,carol") in rows
    assert ("added", "", "3", "0002.pdf,bob") in rows


def test_a_failed_revert_of_an_altered_trash_copy_shows_its_incident_on_the_page(site: Site) -> None:
    """The plan page of a revert refused because its trash copy was altered names the incident."""
    (site.store / "m" / "a.pdf").write_text("original")
    plan_id = _submit(site, DELETE_A)
    csrf = _sign_in(site, "alice")
    site.client.post(f"/plans/{plan_id}/approve", data={"comment": "ok", "csrf": csrf}, headers=ORIGIN)
    assert site.settle(plan_id) == "applied"
    (copy,) = (site.store / ".pva" / "trash").rglob("a.pdf")
    copy.write_text("forged")
    agent = _sign_in(site, "agent")  # the agent asks for the revert, so that alice may approve it
    reverted = site.client.post(f"/plans/{plan_id}/revert", data={"csrf": agent}, headers=ORIGIN)
    inverse = reverted.headers["location"].split("?")[0]
    csrf = _sign_in(site, "alice")
    site.client.post(f"{inverse}/approve", data={"comment": "restore", "csrf": csrf}, headers=ORIGIN)
    assert site.settle(inverse.rsplit("/", 1)[1]) == "failed"
    page = site.client.get(inverse).text
    assert "<dt>Incidents</dt>" in page
    assert "was altered" in page.split("<dt>Incidents</dt>", 1)[1]
    assert not (site.store / "m" / "a.pdf").exists()


def test_a_batch_decision_decides_each_ticked_plan_on_its_own_and_lists_a_refusal_beside_the_rest(
    tmp_path: Path,
) -> None:
    """Three plans ticked, one of them the approver's own: two are approved, one is refused with why."""
    people: People = {"alice": ("approver", ["m"]), "agent": ("agent", ["m"])}
    files = {"m/a.pdf": b"a", "m/b.pdf": b"b", "m/c.pdf": b"c"}
    with _opened_site(tmp_path, people, files=files) as site:
        theirs = [
            _submit(site, plan_doc({"op": "delete", "path": f"m/{n}.pdf"}, title=n, scope=["m"]))
            for n in "ab"
        ]
        own = site.client.post(
            "/v1/plans",
            json=plan_doc({"op": "delete", "path": "m/c.pdf"}, title="mine", scope=["m"]),
            headers={"Authorization": f"Bearer {site.secrets['alice']}"},
        ).json()["id"]
        csrf = _sign_in(site, "alice")
        inbox = site.client.get("/").text
        assert all(f'name="plan" value="{digest}"' in inbox for digest in (*theirs, own))
        ticked = [own, *theirs]  # the refused one first
        form = {"csrf": csrf, "decision": "approve", "comment": "Filed as agreed", "plan": ticked}
        answer = site.client.post("/inbox/decide", data=form, headers=ORIGIN)
        assert answer.status_code == 200, answer.text
        results = answer.text.split('id="results-title"')[1].split("</section>")[0]
        assert results.count("<strong>refused</strong>") == 1
        assert results.count("now <strong>") == 2
        assert "alice submitted this plan and cannot approve it" in results
        for digest in theirs:
            assert site.settle(digest) == "applied"
            shown = site.client.get(
                f"/v1/plans/{digest}", headers={"Authorization": f"Bearer {site.secrets['alice']}"}
            ).json()
            assert [a["comment"] for a in shown["approvals"]] == ["Filed as agreed"]
        assert not (site.store / "m" / "a.pdf").exists()
        assert not (site.store / "m" / "b.pdf").exists()
        assert (site.store / "m" / "c.pdf").exists()


def test_a_batch_decision_needs_a_comment_the_csrf_token_and_a_ticked_plan(site: Site) -> None:
    """Nothing is decided without a comment, without the session's token, or with nothing ticked."""
    (site.store / "m" / "a.pdf").write_text("a")
    plan_id = _submit(site, DELETE_A)
    csrf = _sign_in(site, "alice")
    tries: list[tuple[dict[str, Any], int]] = [
        ({"csrf": csrf, "decision": "reject", "comment": " ", "plan": [plan_id]}, 422),
        ({"decision": "reject", "comment": "no", "plan": [plan_id]}, 403),
        ({"csrf": csrf, "decision": "reject", "comment": "no"}, 422),
    ]
    for form, status in tries:
        assert site.client.post("/inbox/decide", data=form, headers=ORIGIN).status_code == status
    auth = {"Authorization": f"Bearer {site.secrets['alice']}"}
    assert site.client.get(f"/v1/plans/{plan_id}", headers=auth).json()["state"] == "pending"


def test_the_inbox_offers_no_boxes_to_people_who_do_not_decide_plans(site: Site) -> None:
    (site.store / "m" / "a.pdf").write_text("a")
    plan_id = _submit(site, DELETE_A)
    _sign_in(site, "agent")
    inbox = site.client.get("/").text
    assert plan_id in inbox
    assert 'name="plan"' not in inbox
    assert 'id="batch"' not in inbox
