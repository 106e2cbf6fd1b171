"""Every endpoint and page form, fuzzed with hostile values: no input makes a 5xx.

Hypothesis sends odd values in every query parameter, path parameter, form
field and JSON string it can reach: dates without a zone or at the edges of
the calendar, NUL and other controls, lone surrogates (percent-encoded as the
invalid UTF-8 they would be), huge and negative numbers, long and empty
strings. The API is called with an admin token, the pages with an admin's
signed-in session and a valid CSRF token. Any answer of 500 or more fails.
A few examples per route in ``make test``; many under ``HYPOTHESIS_PROFILE=deep``
(``make test-deep``).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sidecar.app import create_app
from sidecar.audit.checkpoints import new_signer_key
from sidecar.settings import Settings
from tests.api.support import Api, Opener, Response
from tests.support.plans import plan_doc

DEEP = os.environ.get("HYPOTHESIS_PROFILE") == "deep"
EXAMPLES = 300 if DEEP else 6
ORIGIN = {"Origin": "http://testserver"}
FILE = "matters/acme/inbox/0001.pdf"
PLAN_QUERY = ("state", "author", "path", "before", "before_id", "limit")
NO_WEBHOOK = "whk_000000000000"


@dataclass(frozen=True)
class Route:
    """One endpoint or page: method, path template, the query parameters it reads, what its body is."""

    method: str
    path: str
    query: tuple[str, ...] = ()
    body: str | None = (
        None  # "plan", "comment", "webhook", "hold", "reason" (JSON), "form" (a page form), "sign-in"
    )
    page: bool = False

    @property
    def id(self) -> str:
        return f"{self.method} {self.path}"


ROUTES = [
    Route("POST", "/v1/plans/verify", body="plan"),
    Route("POST", "/v1/plans", body="plan"),
    Route("GET", "/v1/plans", PLAN_QUERY),
    Route("GET", "/v1/plans/{plan_id}"),
    Route("GET", "/v1/plans/{plan_id}/writes/{index}"),
    Route("POST", "/v1/plans/{plan_id}/approve", body="comment"),
    Route("POST", "/v1/plans/{plan_id}/reject", body="comment"),
    Route("POST", "/v1/plans/{plan_id}/request-changes", body="comment"),
    Route("POST", "/v1/plans/{plan_id}/override", body="comment"),
    Route("POST", "/v1/plans/{plan_id}/apply"),
    Route("POST", "/v1/plans/{plan_id}/revert"),
    Route("POST", "/v1/holds", body="hold"),
    Route("GET", "/v1/holds", ("released",)),
    Route("GET", "/v1/holds/{hold_id}"),
    Route("POST", "/v1/holds/{hold_id}/release", body="reason"),
    Route("GET", "/v1/audit", ("path", "plan", "actor", "since", "until", "after", "limit")),
    Route("GET", "/v1/history", ("path",)),
    Route("GET", "/v1/custody", ("path", "matter", "from", "to", "format")),
    Route("GET", "/v1/snapshot", ("prefix",)),
    Route("GET", "/v1/tree", ("path", "depth", "after", "limit")),
    Route("GET", "/v1/manifest", ("path", "hash")),
    Route("GET", "/v1/files/{path}"),
    Route("POST", "/v1/blobs", ("sha256",)),
    Route("POST", "/v1/tokens/sandbox"),
    Route("POST", "/v1/tokens/{token_id}/revoke"),
    Route("GET", "/healthz"),
    Route("GET", "/metrics"),
    Route("POST", "/v1/webhooks", body="webhook"),
    Route("GET", "/v1/webhooks"),
    Route("GET", "/v1/webhooks/deliveries", ("webhook", "status", "limit")),
    Route("DELETE", "/v1/webhooks/{webhook_id}"),
    Route("GET", "/", ("state", "q", "author", "path"), page=True),
    Route("GET", "/inbox/rows", ("state", "q", "author", "path"), page=True),
    Route("GET", "/plans/{plan_id}", ("op", "bp", "ap", "changed", "done"), page=True),
    Route("GET", "/plans/{plan_id}/writes/{index}", page=True),
    Route("POST", "/plans/{plan_id}/approve", body="form", page=True),
    Route("POST", "/inbox/decide", body="form", page=True),
    Route("POST", "/plans/{plan_id}/reject", body="form", page=True),
    Route("POST", "/plans/{plan_id}/apply", body="form", page=True),
    Route("POST", "/plans/{plan_id}/revert", body="form", page=True),
    Route("GET", "/history", ("state", "q", "before"), page=True),
    Route("GET", "/audit", ("path", "plan", "actor", "since", "until", "after"), page=True),
    Route("GET", "/custody", ("path", "matter", "format"), page=True),
    Route("GET", "/holds", ("done",), page=True),
    Route("POST", "/holds", body="form", page=True),
    Route("POST", "/holds/{hold_id}/release", body="form", page=True),
    Route("GET", "/sign-in", ("next",), page=True),
    Route("POST", "/sign-in", body="sign-in", page=True),
]

DATES = st.sampled_from(
    [
        "2026-12-01",
        "2026-12-01T00:00:00",
        "2026-12-01T00:00:00Z",
        "0001-01-01T00:00:00+01:00",
        "0001-01-01",
        "9999-12-31",
        "9999-12-31T23:59:59-01:00",
        "2026-02-30",
        "2026-13-01T25:61:61Z",
        "1970-01-01T00:00:00+14:00",
        "-2026-01-01",
        "2026-12-01T00:00:00.9999999999Z",
        "now",
    ]
)
NUMBERS = st.one_of(
    st.sampled_from([0, -1, 1, 2**31, 2**62, 2**63, 2**64, -(2**63), 10**30, -(10**30)]),
    st.integers(),
).map(str)
ODD_TEXT = st.one_of(
    st.sampled_from(
        ["", "\x00", "a\x00b", "\ud800", "x\udfff", "\x1b[2J", "\r\n", "..", "/", "%00", " ", "*"]
    ),
    st.text(max_size=40),
    st.text(alphabet=st.characters(codec=None), max_size=20),
    st.just("x" * 5000),
)
VALUES = st.one_of(DATES, NUMBERS, ODD_TEXT)


def _encoded(value: str) -> str:
    """Percent-encoded as a browser would send it; a lone surrogate becomes the invalid UTF-8 it would be."""
    return quote(value.encode("utf-8", "surrogatepass"), safe="")


def _url(path: str, query: dict[str, str]) -> str:
    if not query:
        return path
    return path + "?" + "&".join(f"{name}={_encoded(value)}" for name, value in query.items())


@dataclass
class Fuzzed:
    """The app, a signed-in admin page session with its CSRF token, and plan ids to aim at."""

    api: Api
    csrf: str
    plan_ids: list[str]
    hold_ids: list[str]


@pytest.fixture(scope="module")
def fuzzed(opener: Opener) -> Fuzzed:
    api = opener.open(auto_apply=False, checkpoint_key=new_signer_key("firm.example/pva"))
    client = api.client
    form = client.get("/sign-in")
    csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', form.text)
    assert csrf is not None
    signed = client.post(
        "/sign-in",
        data={"token": api.secrets["admin"], "csrf": csrf.group(1), "next": "/"},
        headers=ORIGIN,
        follow_redirects=False,
    )
    assert signed.status_code == 303, signed.text
    inbox = client.get("/")
    page_csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', inbox.text)
    assert page_csrf is not None
    ids = [api.plan_in(state) for state in ("pending", "approved", "applied")]
    body = {"paths": ["matters/acme/templates"], "matter": "fuzz", "reason": "fuzz"}
    hold = api.post("/v1/holds", "admin", json=body).json()["id"]
    return Fuzzed(api, page_csrf.group(1), ids, [hold])


def _plan_id(fuzzed: Fuzzed) -> st.SearchStrategy[str]:
    known = st.sampled_from(fuzzed.plan_ids)
    return st.one_of(known, known.map(lambda full: full[:8]), ODD_TEXT, NUMBERS)


def _request(fuzzed: Fuzzed, route: Route, data: st.DataObject) -> Response:  # noqa: C901  # a case a parameter
    path = route.path
    if "{plan_id}" in path:
        path = path.replace("{plan_id}", _encoded(data.draw(_plan_id(fuzzed), label="plan_id")))
    if "{index}" in path:
        index = st.one_of(st.integers(-1, 4).map(str), ODD_TEXT, NUMBERS)
        path = path.replace("{index}", _encoded(data.draw(index, label="index")) or "0")
    if "{webhook_id}" in path:
        hook = data.draw(st.one_of(st.just(NO_WEBHOOK), ODD_TEXT), label="webhook_id")
        path = path.replace("{webhook_id}", _encoded(hook))
    if "{path}" in path:
        path = path.replace("{path}", _encoded(data.draw(st.one_of(ODD_TEXT, st.just(FILE)), label="path")))
    if "{token_id}" in path:
        path = path.replace("{token_id}", _encoded(data.draw(ODD_TEXT, label="token_id")) or "x")
    if "{hold_id}" in path:
        hold_id = st.one_of(st.sampled_from(fuzzed.hold_ids), ODD_TEXT, NUMBERS)
        path = path.replace("{hold_id}", _encoded(data.draw(hold_id, label="hold_id")))
    chosen = (
        data.draw(st.lists(st.sampled_from(route.query), unique=True), label="params") if route.query else []
    )
    query = {name: data.draw(VALUES, label=name) for name in chosen}
    url = _url(path, query)
    client = fuzzed.api.client
    headers = {} if route.page else fuzzed.api.auth("admin")
    if route.method in ("GET", "DELETE"):
        return client.request(route.method, url, headers=headers, follow_redirects=False)
    if route.body == "webhook":
        drawn = data.draw(st.one_of(ODD_TEXT, st.just("https://hooks.example/h")), label="url")
        return _post_json(fuzzed, url, {"url": drawn, "scopes": [data.draw(ODD_TEXT, label="scope")]})
    if route.body == "plan":
        doc = plan_doc(
            {
                "op": "mkdir",
                "path": data.draw(st.one_of(ODD_TEXT, st.just("matters/acme/new")), label="op path"),
            },
            title=data.draw(ODD_TEXT, label="title"),
        )
        return _post_json(fuzzed, url, doc)
    if route.body in ("comment", "reason", "hold"):
        text = data.draw(ODD_TEXT, label=route.body)
        path = data.draw(st.one_of(ODD_TEXT, st.just("matters/acme/inbox")), label="held path")
        return _post_json(fuzzed, url, _json_body(route.body, text, path))
    if route.body in ("form", "sign-in"):
        fields = {
            "csrf": data.draw(st.one_of(st.just(fuzzed.csrf), ODD_TEXT), label="csrf"),
            "comment": data.draw(ODD_TEXT, label="comment"),
            "token": data.draw(ODD_TEXT, label="token"),
            "next": data.draw(ODD_TEXT, label="next"),
            "paths": data.draw(ODD_TEXT, label="paths"),
            "matter": data.draw(ODD_TEXT, label="matter"),
            "reason": data.draw(ODD_TEXT, label="reason"),
        }
        body = "&".join(f"{name}={_encoded(value)}" for name, value in fields.items())
        form = {"Content-Type": "application/x-www-form-urlencoded", **ORIGIN}
        return client.post(url, content=body.encode(), headers=form, follow_redirects=False)
    return client.post(url, headers=headers, follow_redirects=False)


def _json_body(kind: str, text: str, path: str) -> dict[str, Any]:
    """A JSON body of ``kind`` holding ``text`` (a comment, a release's reason, a hold on ``path``)."""
    if kind == "hold":
        return {"paths": [path], "matter": text, "reason": text}
    return {kind: text}


def _post_json(fuzzed: Fuzzed, url: str, body: dict[str, Any]) -> Response:
    encoded = json.dumps(body).encode()  # ensure_ascii: a lone surrogate travels as its \\u escape
    headers = {"Content-Type": "application/json", **fuzzed.api.auth("admin")}
    return fuzzed.api.client.post(url, content=encoded, headers=headers, follow_redirects=False)


@pytest.mark.parametrize("route", ROUTES, ids=lambda route: route.id)
@settings(max_examples=EXAMPLES, derandomize=not DEEP, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_no_hostile_value_makes_a_server_error(fuzzed: Fuzzed, route: Route, data: st.DataObject) -> None:
    """Whatever odd value any parameter, field or body holds, the answer is below 500."""
    response = _request(fuzzed, route, data)
    assert response.status_code < 500, f"{route.id}: {response.status_code} {response.text[:300]}"


# Every make test run sends each of these to every parameter and field, besides the random examples.
CORPUS = (
    "2026-12-01",
    "0001-01-01T00:00:00+01:00",
    "9999-12-31",
    "\x00",
    "\ud800",
    "-1",
    str(2**64),
    "x" * 5000,
)


@pytest.mark.parametrize("route", ROUTES, ids=lambda route: route.id)
def test_no_value_of_the_corpus_makes_a_server_error(fuzzed: Fuzzed, route: Route) -> None:
    """Each value of the corpus, in each parameter and field of the route in turn, is answered below 500."""
    failures = []
    slots = [
        *route.query,
        *(["plan_id"] if "{plan_id}" in route.path else []),
        *(["file"] if "{path}" in route.path else []),
        *(["token_id"] if "{token_id}" in route.path else []),
        *(["hold_id"] if "{hold_id}" in route.path else []),
        *([route.body] if route.body else []),
    ]
    for slot in slots:
        for value in CORPUS:
            response = _corpus_request(fuzzed, route, slot, value)
            if response.status_code >= 500:
                failures.append(f"{slot}={value[:30]!r}: {response.status_code}")
    assert failures == [], f"{route.id}: {failures}"


def _corpus_request(fuzzed: Fuzzed, route: Route, slot: str, value: str) -> Response:
    """The route with ``value`` in ``slot`` and plain values elsewhere."""
    plan_id = value if slot == "plan_id" else fuzzed.plan_ids[0]
    file = value if slot == "file" else FILE
    hold_id = value if slot == "hold_id" else fuzzed.hold_ids[0]
    path = route.path.replace("{plan_id}", _encoded(plan_id)).replace("{path}", _encoded(file))
    path = path.replace("{token_id}", _encoded(value) or "x" if slot == "token_id" else "tok_000000000000")
    path = path.replace("{webhook_id}", NO_WEBHOOK).replace("{hold_id}", _encoded(hold_id))
    url = _url(path, {slot: value} if slot in route.query else {})
    client = fuzzed.api.client
    if route.method in ("GET", "DELETE"):
        headers = {} if route.page else fuzzed.api.auth("admin")
        return client.request(route.method, url, headers=headers, follow_redirects=False)
    text = value if slot == route.body else "ok"
    if route.body == "webhook":
        return _post_json(fuzzed, url, {"url": text, "scopes": [text]})
    if route.body == "plan":
        return _post_json(fuzzed, url, plan_doc({"op": "mkdir", "path": "matters/acme/fuzz"}, title=text))
    if route.body in ("comment", "reason", "hold"):
        return _post_json(fuzzed, url, _json_body(route.body, text, text))
    if route.body in ("form", "sign-in"):
        fields = {"csrf": fuzzed.csrf, "comment": text, "token": text, "next": text}
        fields |= {"paths": text, "matter": text, "reason": text}
        body = "&".join(f"{name}={_encoded(field)}" for name, field in fields.items())
        form = {"Content-Type": "application/x-www-form-urlencoded", **ORIGIN}
        return client.post(url, content=body.encode(), headers=form, follow_redirects=False)
    return client.post(url, headers=fuzzed.api.auth("admin"), follow_redirects=False)


def test_every_documented_operation_is_fuzzed() -> None:
    """The route table covers every operation of the OpenAPI document, so a new endpoint is fuzzed too."""
    document = create_app(Settings()).openapi()
    documented = {(method.upper(), path) for path, ops in document["paths"].items() for method in ops}
    assert documented <= {(route.method, route.path) for route in ROUTES}
