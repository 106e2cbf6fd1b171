"""Bad input at the HTTP edge, on SQLite and PostgreSQL: dates, NUL, invented methods, huge values, /healthz.

Each class of input has its one answer (docs/security.md, "Bad input"); none
is ever a 500, on either database.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.api.support import ORIGIN, Api, sign_in
from tests.support.plans import plan_doc

# -- dates: a date or time without a zone is UTC ---------------------------------------------------


@pytest.mark.parametrize(
    ("url", "param"),
    [("/v1/plans", "before"), ("/v1/audit", "since"), ("/v1/audit", "until")],
)
@pytest.mark.parametrize("value", ["2026-12-01", "2026-12-01T00:00:00", "2026-12-01 00:00"])
def test_a_date_without_a_zone_in_the_api_is_utc(api: Api, url: str, param: str, value: str) -> None:
    """A date or time without a zone in an API filter is read as UTC: 200, never a 500."""
    response = api.get(url, "admin", params={param: value})
    assert response.status_code == 200, response.text


def test_a_plan_before_a_zoneless_time_is_found_as_if_utc(api: Api) -> None:
    """``before`` without a zone filters exactly as the same time with ``Z``."""
    api.submit(api.fresh_mkdir())
    with_zone = api.get("/v1/plans", "admin", params={"before": "2030-01-01T00:00:00Z"}).json()
    without = api.get("/v1/plans", "admin", params={"before": "2030-01-01T00:00:00"}).json()
    assert without == with_zone
    assert len(without["plans"]) == 1


@pytest.mark.parametrize(
    "value", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "0001-01-01", "9999-12-31"]
)
@pytest.mark.parametrize(("url", "param"), [("/v1/plans", "before"), ("/v1/audit", "since")])
def test_a_date_at_the_edge_of_the_calendar_is_a_422_that_says_so(
    api: Api, url: str, param: str, value: str
) -> None:
    """A time too close to year 1 or 9999 to hold in UTC is a 422 naming the parameter, never a 500."""
    response = api.get(url, "admin", params={param: value})
    assert response.status_code in (200, 422), response.text
    if response.status_code == 422:
        problems = response.json()["error"]["problems"]
        assert problems[0]["location"] == f"/query/{param}"


@pytest.mark.parametrize("query", ["since=0001-01-01", "until=9999-12-31", "since=2026-13-01"])
def test_an_edge_date_in_the_audit_page_is_answered(api: Api, query: str) -> None:
    """The audit page answers any date in its search form with a page (200 or 422), never a 500."""
    sign_in(api, "auditor")
    response = api.client.get(f"/audit?{query}")
    assert response.status_code in (200, 422), response.text


def test_the_history_page_reads_a_zoneless_before_as_utc(api: Api) -> None:
    """The history page's ``before`` without a zone is UTC, as in the API."""
    sign_in(api, "auditor")
    assert api.client.get("/history?before=2026-12-01T00:00:00").status_code == 200
    assert api.client.get("/history?before=0001-01-01T00:00:00%2B01:00").status_code == 422


# -- NUL: refused at the edge, naming the field ----------------------------------------------------


def test_a_nul_in_a_plan_title_is_a_422_naming_the_title(api: Api) -> None:
    """A title holding NUL is refused with 422 at /title (PostgreSQL cannot store it), verify and submit."""
    doc = plan_doc({"op": "mkdir", "path": "matters/acme/n"}, title="bad\x00title")
    for url in ("/v1/plans/verify", "/v1/plans"):
        response = api.post(url, "agent", json=doc)
        assert response.status_code == 422, response.text
        assert [p["location"] for p in response.json()["error"]["problems"]] == ["/title"]


def test_a_nul_in_a_reason_is_a_422_naming_it(api: Api) -> None:
    """A reason holding NUL is refused with 422 naming its op."""
    doc = plan_doc({"op": "mkdir", "path": "matters/acme/n", "reason": "why\x00"})
    response = api.post("/v1/plans", "agent", json=doc)
    assert response.status_code == 422, response.text
    assert [p["location"] for p in response.json()["error"]["problems"]] == ["/ops/0/reason"]


@pytest.mark.parametrize("verb", ["approve", "reject"])
def test_a_nul_in_a_comment_is_a_422_naming_it(api: Api, verb: str) -> None:
    """An approve or reject comment holding NUL is refused with 422 at /comment; the plan stays pending."""
    plan_id = api.plan_in("pending")
    response = api.post(f"/v1/plans/{plan_id}/{verb}", "approver", json={"comment": "ok\x00"})
    assert response.status_code == 422, response.text
    assert [p["location"] for p in response.json()["error"]["problems"]] == ["/comment"]
    assert api.show(plan_id)["state"] == "pending"


@pytest.mark.parametrize(("body", "location"), [({}, "/comment"), ("not json", ""), ([1, 2], "/")])
def test_a_bad_approval_body_is_called_a_request_body_not_a_plan(
    api: Api, body: object, location: str
) -> None:
    """A malformed approve body is 'malformed request body' at its location: the caller sent no plan."""
    plan_id = api.plan_in("pending")
    content = body if isinstance(body, str) else None
    response = api.post(
        f"/v1/plans/{plan_id}/approve", "approver", **({"content": content} if content else {"json": body})
    )
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["message"].startswith("malformed request body:"), error
    assert location in [p["location"] for p in error["problems"]]
    assert api.show(plan_id)["state"] == "pending"


def test_a_nul_in_the_approve_form_is_a_422_page(api: Api) -> None:
    """The approval page's comment holding NUL is answered with the plan page and 422; nothing is decided."""
    plan_id = api.plan_in("pending")
    csrf = sign_in(api, "approver")
    response = api.client.post(
        f"/plans/{plan_id}/approve", data={"comment": "ok\x00", "csrf": csrf}, headers=ORIGIN
    )
    assert response.status_code == 422, response.text
    assert "NUL" in response.text
    assert api.show(plan_id)["state"] == "pending"


@pytest.mark.parametrize("url", ["/?author=a%00b", "/inbox/rows?author=a%00b", "/?q=a%00b", "/?path=a%00"])
def test_a_nul_in_an_inbox_filter_is_a_422_page(api: Api, url: str) -> None:
    """An inbox filter holding NUL is answered with a 422 page, never a 500."""
    sign_in(api, "approver")
    response = api.client.get(url)
    assert response.status_code == 422
    assert "NUL" in response.text


@pytest.mark.parametrize(
    "url",
    ["/v1/plans?author=a%00", "/v1/plans?path=a%00", "/v1/audit?path=a%00", "/v1/history?path=a%00"],
)
def test_a_nul_in_an_api_filter_is_a_422(api: Api, url: str) -> None:
    """An API filter holding NUL is a 422, never a 500."""
    assert api.get(url, "admin").status_code == 422


# -- metrics: labels from closed sets --------------------------------------------------------------


def test_invented_methods_and_paths_share_one_metrics_label(api: Api) -> None:
    """Requests with invented methods or to unknown paths are counted as method and route ``other``."""
    for n in range(20):
        api.client.request(f"XYZ{n}", f"/nowhere/{n}")
    text = api.get("/metrics", "admin").text
    assert "XYZ" not in text
    assert "nowhere" not in text
    assert 'method="other",route="other",status="405"' in text or 'method="other",route="other"' in text


# -- huge values are never echoed ------------------------------------------------------------------


@pytest.mark.parametrize(
    "doc",
    [
        plan_doc({"op": "mkdir", "path": "matters/acme/n"}, title="t" * 1_000_000),
        plan_doc({"op": "mkdir", "path": "matters/acme/" + "p" * 1_000_000}),
        plan_doc({"op": "x" * 1_000_000, "path": "matters/acme/n"}),
        {"pva": "plan/v1", "title": "t", "scope": ["matters/acme"], "ops": [], "x" * 1_000_000: 1},
        plan_doc({"op": "mkdir", "path": "matters/acme/n"}) | {"scope": "s" * 1_000_000},
    ],
    ids=["title", "path", "op", "key", "scope"],
)
def test_a_refused_huge_value_is_quoted_by_a_short_prefix(api: Api, doc: dict[str, object]) -> None:
    """A 422 quotes at most a short prefix of a refused value, whatever its size."""
    response = api.post("/v1/plans", "agent", json=doc)
    assert response.status_code == 422, response.text[:500]
    assert len(response.content) < 4000


def test_a_huge_duplicate_key_is_quoted_by_a_short_prefix(api: Api) -> None:
    """A duplicate key of a million characters is refused quoting only its start."""
    key = "k" * 1_000_000
    body = f'{{"{key}": 1, "{key}": 2}}'
    response = api.client.post(
        "/v1/plans", content=body, headers=api.auth("agent") | {"Content-Type": "application/json"}
    )
    assert response.status_code == 422
    assert len(response.content) < 4000


def test_a_refused_comment_is_not_echoed(api: Api) -> None:
    """A comment over its limit is refused without quoting it back."""
    plan_id = api.plan_in("pending")
    response = api.post(f"/v1/plans/{plan_id}/approve", "approver", json={"comment": "c" * 1_000_000})
    assert response.status_code == 422
    assert len(response.content) < 4000


# -- /healthz --------------------------------------------------------------------------------------


def test_healthz_names_the_store_only_to_admins(api: Api) -> None:
    """/healthz answers anyone, but only an admin's request learns where the store is."""
    anyone = api.client.get("/healthz")
    assert anyone.status_code == 200
    assert str(api.root) not in anyone.text
    assert anyone.json()["store"] is None
    for who in ("agent", "auditor", "approver"):
        assert str(api.root) not in api.get("/healthz", who).text
    assert str(api.root) in api.get("/healthz", "admin").json()["store"]


def test_healthz_with_a_wrong_token_is_401(api: Api) -> None:
    """A token sent to /healthz is checked as on any route: a wrong one is 401 (guesses are rate-limited)."""
    response = api.client.get("/healthz", headers={"Authorization": "Bearer pva_nonsense"})
    assert response.status_code == 401


# -- the sign-in form is rate-limited --------------------------------------------------------------


def test_wrong_tokens_on_the_sign_in_form_are_rate_limited(make_api: Any) -> None:
    """Failed sign-ins share the per-address bucket of failed API tokens: past the burst, 429."""
    api = make_api(rate_limit=1, rate_burst=3)
    form = api.client.get("/sign-in")
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', form.text)
    assert found is not None
    answers = [
        api.client.post(
            "/sign-in", data={"token": f"pva_wrong{n}", "csrf": found.group(1)}, headers=ORIGIN
        ).status_code
        for n in range(5)
    ]
    assert answers == [401, 401, 401, 429, 429]
    assert api.client.post("/sign-in", data={"token": "x", "csrf": found.group(1)}, headers=ORIGIN).headers[
        "retry-after"
    ]


# -- what SQLite and PostgreSQL could disagree on ----------------------------------------------------


def test_filters_match_exactly_on_both_databases(api: Api) -> None:
    """An author or path filter matches byte for byte: another case finds nothing, on either database."""
    api.submit(api.fresh_mkdir())
    assert len(api.get("/v1/plans", "admin", params={"author": "agent"}).json()["plans"]) == 1
    for params in ({"author": "AGENT"}, {"author": "agent "}, {"path": "MATTERS/acme"}):
        assert api.get("/v1/plans", "admin", params=params).json()["plans"] == [], params


def test_times_come_back_in_utc_on_both_databases(api: Api) -> None:
    """A plan's times come back with a UTC offset whatever the database stores, and page as UTC."""
    submitted = api.submit(api.fresh_mkdir())["submitted"]
    assert submitted.endswith(("Z", "+00:00"))
    later = api.get("/v1/plans", "admin", params={"before": "2999-01-01T01:00:00+01:00"}).json()
    assert [plan["submitted"] for plan in later["plans"]] == [submitted]
