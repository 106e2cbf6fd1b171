"""The approval page in process (a real app, tmp store, SQLite): headers, cookies, sessions, CSRF, paging."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from sidecar.api.app import create_app
from sidecar.db import make_engine, upgrade
from sidecar.settings import Settings
from sidecar.tokens import TokenStore
from sidecar.web.render import CSP

ORIGIN = {"Origin": "http://testserver"}


@dataclass
class Site:
    client: TestClient
    secrets: dict[str, str]
    tokens: TokenStore
    store: Path


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    store = tmp_path / "store"
    (store / "m").mkdir(parents=True)
    url = f"sqlite:///{tmp_path / 'pva.db'}"
    upgrade(url)
    engine = make_engine(url)
    tokens = TokenStore(engine)
    roles = {"alice": ("approver", ["m"]), "agent": ("agent", ["m"])}
    secrets = {name: tokens.create(role, name, scopes)[1] for name, (role, scopes) in roles.items()}
    app = create_app(Settings(store=str(store), database_url=url))
    with TestClient(app, base_url="http://testserver", follow_redirects=False) as client:
        yield Site(client, secrets, tokens, store)
    engine.dispose()


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


def _submit(site: Site, plan: dict[str, object]) -> str:
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
    plan_id = _submit(
        site, {"pva": "plan/v1", "title": "T", "scope": ["m"], "ops": [{"op": "delete", "path": "m/a.pdf"}]}
    )
    csrf = _sign_in(site, "alice")
    url = f"/plans/{plan_id}/approve"
    assert site.client.post(url, data={"comment": "ok"}, headers=ORIGIN).status_code == 403
    other = {"Origin": "http://127.0.0.1:9999"}
    assert site.client.post(url, data={"comment": "ok", "csrf": csrf}, headers=other).status_code == 403
    no_origin = site.client.post(url, data={"comment": "ok", "csrf": csrf})  # no Origin, no Referer
    assert no_origin.status_code == 403
    assert (site.store / "m" / "a.pdf").exists()
    assert site.client.post(url, data={"comment": "ok", "csrf": csrf}, headers=ORIGIN).status_code == 303
    assert not (site.store / "m" / "a.pdf").exists()


def test_an_empty_comment_is_refused_and_the_plan_stays_pending(site: Site) -> None:
    """Approving needs a comment: a blank one shows the plan again with the reason, and nothing is decided."""
    (site.store / "m" / "a.pdf").write_text("a")
    plan_id = _submit(
        site, {"pva": "plan/v1", "title": "T", "scope": ["m"], "ops": [{"op": "delete", "path": "m/a.pdf"}]}
    )
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
    store = tmp_path / "store"
    (store / "m").mkdir(parents=True)
    url = f"sqlite:///{tmp_path / 'pva.db'}"
    upgrade(url)
    engine = make_engine(url)
    tokens = TokenStore(engine)
    secrets = {name: tokens.create("approver", name, ["m"])[1] for name in ("alice", "mallory")}
    app = create_app(Settings(store=str(store), database_url=url, tls_proxy=True))
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as client:
        yield client, secrets
    engine.dispose()


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
