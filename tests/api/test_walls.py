"""The ethical wall between matters, over every read path of the app (API and pages), SQLite and PostgreSQL.

Two matters: ``matters/acme`` (A) and ``matters/beta`` (B). Every string of
B (plan titles, op reasons, approval and rejection comments, file names and
file contents) carries the canary ``ZQ~XC``: its ``~`` is in no base64 or hex
alphabet, so no signature, hash or id can spell it by chance (``ZQXC`` was
found, any case, in a report's random signature once in a few thousand
runs). An agent, an approver and an
auditor scoped to A call every route the app serves, with realistic
queries (paths in A, ids and id prefixes of B's plans, filters); no answer
may hold a canary, nor the id of a plan that touches B.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from starlette.routing import BaseRoute, Route

from sidecar.audit.checkpoints import new_signer_key
from sidecar.audit.custody_formats import CSV_MARK, read
from tests.api.support import Api, Opener, Response
from tests.support.plans import plan_doc

CANARY = "zq~xc"  # in every string of matter B; compared case-insensitively
ORIGIN = {"Origin": "http://testserver"}
READERS = ("agent", "approver-acme", "auditor-acme")  # each scoped to matters/acme
EXTRA_PEOPLE = {
    "approver-acme": ("approver", ("matters/acme",)),
    "auditor-acme": ("auditor", ("matters/acme",)),
    "approver-beta": ("approver", ("matters/beta",)),
    "agent-all": ("agent", ("*",)),
}
MOVED = "matters/acme/inbox/from-beta.txt"
KEY = new_signer_key(
    "firm.example/pva"
)  # custody reports are signed  # came from matter B in a plan touching both

# Two plans whose ids share their first 8 digits, one in each matter (found by a search, once).
PREFIX = "8992c2fd"
COLLIDING_A = plan_doc({"op": "mkdir", "path": "matters/acme/prefix"}, title="collide 8347")
COLLIDING_B = plan_doc(
    {"op": "mkdir", "path": "matters/beta/prefix"}, title="collide 81608", scope=("matters/beta",)
)
DECLARES_BETA = plan_doc(
    {"op": "mkdir", "path": "matters/acme/declared"},
    title="acme work",
    scope=("matters/acme", "matters/beta"),
)
ACME_ONLY = plan_doc({"op": "mkdir", "path": "matters/acme/by-all"}, title="acme filing by agent-all")


@dataclass
class World:
    """The app, and the ids of the plans each side may or may not see."""

    api: Api
    hidden: dict[str, str]  # name -> id of a plan touching matter B
    shown: dict[str, str]  # name -> id of a plan in matter A only
    holds: dict[str, str]  # matter -> id of a legal hold


def _submit(api: Api, doc: dict[str, Any], who: str) -> str:
    return str(api.submit(doc, who)["id"])


def _build(api: Api) -> World:
    beta = api.root / "matters/beta"
    beta.mkdir(parents=True)
    (beta / "ZQ~XC-brief.txt").write_bytes(b"ZQ~XC brief: the client's secret")
    for name, (role, scopes) in EXTRA_PEOPLE.items():
        api.secrets[name] = api.services.tokens.create(role, name, scopes)[1]
    hidden: dict[str, str] = {}
    hidden["beta applied"] = _submit(
        api,
        plan_doc(
            {"op": "mkdir", "path": "matters/beta/ZQ~XC-folder", "reason": "ZQ~XC reason mkdir"},
            {
                "op": "write",
                "path": "matters/beta/ZQ~XC-folder/ZQ~XC-memo.txt",
                "content": "ZQ~XC memo content",
                "reason": "ZQ~XC reason write",
            },
            title="ZQ~XC title applied",
            scope=("matters/beta",),
        ),
        "agent-all",
    )
    api.decide(hidden["beta applied"], "approve", "approver-beta", "ZQ~XC approval comment")
    hidden["mixed applied"] = _submit(
        api,
        plan_doc(
            {
                "op": "move",
                "src": "matters/beta/ZQ~XC-brief.txt",
                "dst": MOVED,
                "reason": "ZQ~XC reason move",
            },
            {"op": "mkdir", "path": "matters/acme/mixed-made", "reason": "ZQ~XC reason mixed mkdir"},
            title="ZQ~XC title mixed",
            scope=("matters/acme", "matters/beta"),
        ),
        "agent-all",
    )
    api.decide(hidden["mixed applied"], "approve", "approver", "ZQ~XC mixed approval comment")
    hidden["beta rejected"] = _submit(
        api,
        plan_doc(
            {"op": "mkdir", "path": "matters/beta/ZQ~XC-rejected", "reason": "ZQ~XC reason rejected"},
            title="ZQ~XC title rejected",
            scope=("matters/beta",),
        ),
        "agent-all",
    )
    api.decide(hidden["beta rejected"], "reject", "approver-beta", "ZQ~XC rejection comment")
    hidden["mixed pending"] = _submit(
        api,
        plan_doc(
            {
                "op": "write",
                "path": "matters/acme/ZQ~XC-a.txt",
                "content": "ZQ~XC a",
                "reason": "ZQ~XC why a",
            },
            {
                "op": "write",
                "path": "matters/beta/ZQ~XC-b.txt",
                "content": "ZQ~XC b",
                "reason": "ZQ~XC why b",
            },
            title="ZQ~XC title pending",
            scope=("matters/acme", "matters/beta"),
        ),
        "agent-all",
    )
    # Its ops stay in A, but its declared scope names B: showing it would show B's name.
    hidden["declares beta"] = _submit(api, DECLARES_BETA, "agent-all")
    hidden["colliding"] = _submit(api, COLLIDING_B, "agent-all")
    shown = {"colliding": _submit(api, COLLIDING_A, "agent")}
    assert hidden["colliding"].startswith(PREFIX)
    assert shown["colliding"].startswith(PREFIX)
    shown["filed"] = _submit(
        api,
        plan_doc(
            {
                "op": "move",
                "src": "matters/acme/inbox/0002.pdf",
                "dst": "matters/acme/custodians/alice/0002.pdf",
            },
            title="File 0002",
        ),
        "agent",
    )
    api.decide(shown["filed"], "approve", "approver-acme", "filed")
    shown["moved on"] = _submit(
        api, plan_doc({"op": "rename", "path": MOVED, "name": "from-b.txt"}, title="Rename it"), "agent"
    )
    api.decide(shown["moved on"], "approve", "approver-acme", "renamed")
    holds = {name: _hold(api, paths, name) for name, paths in HOLDS.items()}
    return World(api, hidden, shown, holds)


# Legal holds: one in B only, one across both matters (seen from A redacted), one in A only.
HOLDS = {
    "ZQ~XC beta hold": ["matters/beta"],
    "ZQ~XC mixed hold": ["matters/acme/custodians", "matters/beta"],
    "acme hold": ["matters/acme/templates"],
}


def _hold(api: Api, paths: list[str], matter: str) -> str:
    body = {"paths": paths, "matter": matter, "reason": f"{matter}: reason"}
    response = api.post("/v1/holds", "admin", json=body)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


@pytest.fixture(scope="module")
def matters(opener: Opener) -> World:
    """Both matters, their plans in every state, the people of both sides (auto_apply on)."""
    return _build(opener.open(checkpoint_key=KEY))


# -- the routes, and how each is called -----------------------------------------------


def served_routes(routes: Iterable[BaseRoute]) -> Iterator[tuple[str, str]]:
    """Every (method, path template) the app answers, through included routers."""
    for route in routes:
        if isinstance(route, Route):
            for method in sorted((route.methods or set()) - {"HEAD"}):
                yield method, route.path
        included = getattr(route, "original_router", None)  # FastAPI's included routers
        if included is not None:
            yield from served_routes(included.routes)


Call = tuple[str, dict[str, Any]]  # the URL (path filled in) and the request's keyword arguments


def calls(world: World) -> dict[tuple[str, str], list[Call]]:
    """Each route, with the requests that probe it; a route missing here fails the test."""
    hidden_ids = [*world.hidden.values(), *(plan_id[:8] for plan_id in world.hidden.values())]
    ids = [*hidden_ids, PREFIX, *world.shown.values()]  # the last four may be acted on: only read them
    paths_a = ["matters/acme", MOVED, "matters/acme/inbox/from-b.txt", "matters/acme/mixed-made"]
    plan_filters: list[dict[str, Any]] = [
        {},
        {"path": "matters/acme"},
        {"path": "matters/beta"},
        {"state": "applied"},
        {"state": "rejected"},
        {"state": "pending"},
        {"author": "agent-all"},
    ]
    audit_queries: list[dict[str, Any]] = [
        *({"path": path} for path in paths_a),
        *({"plan": plan_id} for plan_id in ids),
        {"actor": "approver-beta", "path": "matters/acme"},
        {"actor": "agent-all"},
        {},
    ]
    store_queries: list[dict[str, Any]] = [
        {"path": "matters/acme", "depth": 8},
        {"path": "matters"},
        {},
        {"path": "matters/acme", "after": "matters/beta"},
        {"path": "matters/beta"},
    ]
    comment = {"json": {"comment": "looks fine"}}
    form = {"data": {"comment": "looks fine"}, "headers": ORIGIN}

    def per_id(template: str, *, acting: bool = False, **kwargs: Any) -> list[Call]:
        chosen = hidden_ids if acting else ids
        return [(template.format(plan_id=plan_id), kwargs) for plan_id in chosen]

    return {
        ("GET", "/openapi.json"): [("/openapi.json", {})],
        ("GET", "/docs"): [("/docs", {})],
        ("GET", "/docs/assets/start.js"): [("/docs/assets/start.js", {})],
        ("GET", "/docs/assets/{name}"): [("/docs/assets/swagger-ui.css", {})],
        ("POST", "/v1/plans/verify"): [("/v1/plans/verify", {"json": ACME_ONLY})],
        ("POST", "/v1/plans"): [("/v1/plans", {"json": ACME_ONLY})],
        ("GET", "/v1/plans"): [("/v1/plans", {"params": query}) for query in plan_filters],
        ("GET", "/v1/plans/{plan_id}"): per_id("/v1/plans/{plan_id}"),
        ("GET", "/v1/plans/{plan_id}/writes/{index}"): [
            call for index in (0, 1) for call in per_id(f"/v1/plans/{{plan_id}}/writes/{index}")
        ],
        ("POST", "/v1/plans/{plan_id}/approve"): per_id(
            "/v1/plans/{plan_id}/approve", acting=True, **comment
        ),
        ("POST", "/v1/plans/{plan_id}/reject"): per_id("/v1/plans/{plan_id}/reject", acting=True, **comment),
        ("POST", "/v1/plans/{plan_id}/request-changes"): per_id(
            "/v1/plans/{plan_id}/request-changes", acting=True, **comment
        ),
        ("POST", "/v1/plans/{plan_id}/override"): per_id(
            "/v1/plans/{plan_id}/override", acting=True, **comment
        ),
        ("POST", "/v1/plans/{plan_id}/apply"): per_id("/v1/plans/{plan_id}/apply", acting=True),
        ("POST", "/v1/plans/{plan_id}/revert"): per_id("/v1/plans/{plan_id}/revert", acting=True),
        ("GET", "/v1/audit"): [("/v1/audit", {"params": query}) for query in audit_queries],
        ("GET", "/v1/history"): [("/v1/history", {"params": {"path": path}}) for path in paths_a],
        ("GET", "/v1/custody"): [
            ("/v1/custody", {"params": {which: path, "format": fmt}})
            for which, path in (
                ("path", MOVED),
                ("path", "matters/acme/inbox/from-b.txt"),
                ("matter", "matters/acme"),
            )
            for fmt in ("json", "html", "csv")
        ],
        ("GET", "/v1/snapshot"): [("/v1/snapshot", {"params": {"prefix": p}}) for p in ("matters/acme", "")],
        ("GET", "/v1/tree"): [("/v1/tree", {"params": query}) for query in store_queries],
        ("GET", "/v1/manifest"): [
            ("/v1/manifest", {"params": query})
            for query in [*store_queries, {"path": "matters/acme", "hash": "true"}]
        ],
        ("GET", "/v1/files/{path:path}"): [
            (f"/v1/files/{path}", {"headers": headers})
            for path in ("matters/acme/inbox/0001.pdf", "matters/acme", "matters/beta", "matters/beta/x.txt")
            for headers in ({}, {"Range": "bytes=0-3"}, {"If-None-Match": "*"})
        ],
        ("POST", "/v1/blobs"): [
            (
                "/v1/blobs",
                {"params": {"sha256": hashlib.sha256(b"acme note").hexdigest()}, "content": b"acme note"},
            )
        ],
        ("POST", "/v1/tokens/sandbox"): [
            ("/v1/tokens/sandbox", {"json": {"scopes": [scope], "ttl_seconds": 60}})
            for scope in ("matters/acme", "matters/beta", "matters")
        ],
        ("POST", "/v1/tokens/{token_id}/revoke"): [("/v1/tokens/tok_000000000000/revoke", {})],
        ("GET", "/v1/holds"): [("/v1/holds", {"params": q}) for q in ({}, {"released": "true"})],
        ("GET", "/v1/holds/{hold_id}"): [(f"/v1/holds/{hold}", {}) for hold in world.holds.values()],
        ("POST", "/v1/holds"): [
            ("/v1/holds", {"json": {"paths": paths, "matter": "probe", "reason": "probe"}})
            for paths in (["matters/acme/inbox"], ["matters/beta"], ["matters/beta/ZQ~XC-folder"])
        ],
        ("POST", "/v1/holds/{hold_id}/release"): [
            (f"/v1/holds/{hold}/release", {"json": {"reason": "probe"}}) for hold in world.holds.values()
        ],
        ("GET", "/healthz"): [("/healthz", {})],
        ("POST", "/v1/webhooks"): [("/v1/webhooks", {"json": {"url": "https://hooks.example/h"}})],
        ("GET", "/v1/webhooks"): [("/v1/webhooks", {})],
        ("GET", "/v1/webhooks/deliveries"): [("/v1/webhooks/deliveries", {})],
        ("DELETE", "/v1/webhooks/{webhook_id}"): [("/v1/webhooks/whk_000000000000", {})],
        ("GET", "/metrics"): [("/metrics", {})],
        ("GET", "/sign-in"): [("/sign-in", {"params": {"next": "/audit"}})],
        ("POST", "/sign-in"): [("/sign-in", {"data": {"token": "pva_wrong"}, "headers": ORIGIN})],
        ("POST", "/sign-out"): [("/sign-out", {"headers": ORIGIN})],
        ("GET", "/"): [("/", {"params": query}) for query in plan_filters],
        ("GET", "/inbox/rows"): [("/inbox/rows", {"params": query}) for query in plan_filters],
        ("GET", "/plans/{plan_id}"): per_id("/plans/{plan_id}"),
        ("GET", "/plans/{plan_id}/writes/{index}"): [
            call for index in (0, 1) for call in per_id(f"/plans/{{plan_id}}/writes/{index}")
        ],
        ("POST", "/plans/{plan_id}/approve"): per_id("/plans/{plan_id}/approve", acting=True, **form),
        ("POST", "/plans/{plan_id}/reject"): per_id("/plans/{plan_id}/reject", acting=True, **form),
        ("POST", "/plans/{plan_id}/request-changes"): per_id(
            "/plans/{plan_id}/request-changes", acting=True, **form
        ),
        ("POST", "/inbox/decide"): [
            (
                "/inbox/decide",
                {"data": {"comment": "probe", "decision": verdict, "plan": hidden_ids}, "headers": ORIGIN},
            )
            for verdict in ("approve", "reject")
        ],
        ("POST", "/plans/{plan_id}/apply"): per_id("/plans/{plan_id}/apply", acting=True, headers=ORIGIN),
        ("POST", "/plans/{plan_id}/revert"): per_id("/plans/{plan_id}/revert", acting=True, headers=ORIGIN),
        ("GET", "/history"): [
            ("/history", {"params": q}) for q in ({}, {"state": "applied"}, {"q": "title"})
        ],
        ("GET", "/custody"): [
            ("/custody", {"params": {which: path, "format": fmt}})
            for which, path in (("path", MOVED), ("matter", "matters/acme"))
            for fmt in ("json", "html", "csv")
        ],
        ("GET", "/audit"): [("/audit", {"params": query}) for query in audit_queries if "plan" not in query],
        ("GET", "/holds"): [("/holds", {}), ("/holds", {"params": {"done": "place"}})],
        ("POST", "/holds"): [
            ("/holds", {"data": {"paths": paths, "matter": "probe", "reason": "probe"}, "headers": ORIGIN})
            for paths in ("matters/acme/inbox", "matters/beta", "matters/beta/ZQ~XC-folder")
        ],
        ("POST", "/holds/{hold_id}/release"): [
            (f"/holds/{hold}/release", {"data": {"reason": "probe"}, "headers": ORIGIN})
            for hold in world.holds.values()
        ],
    }


def _sign_in(api: Api, who: str) -> str:
    """Sign ``who`` in on the app's client (its cookie jar); the session's CSRF token."""
    api.client.cookies.clear()
    form = api.client.get("/sign-in")
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', form.text)
    assert found is not None
    data = {"token": api.secrets[who], "csrf": found.group(1), "next": "/"}
    signed = api.client.post("/sign-in", data=data, headers=ORIGIN, follow_redirects=False)
    assert signed.status_code == 303, signed.text
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', api.client.get("/").text)
    assert found is not None
    return found.group(1)


def _leaks(response: Response, world: World) -> list[str]:
    """What of matter B the response shows: canaries, and ids of plans touching B."""
    body = response.text
    if CSV_MARK.casefold() + "," in body.casefold():
        # A custody report as CSV ends with the signed report in base64: read it decoded, where
        # a leak in it would show.
        body, _, last = body.rstrip("\n").rpartition("\n")
        body += "\n" + base64.b64decode(last.split(",", 1)[1]).decode("utf-8")
    text = "\n".join([body, *(f"{k}: {v}" for k, v in response.headers.items())]).casefold()
    found = [CANARY] if CANARY in text else []
    return found + [plan_id[:12] for plan_id in world.hidden.values() if plan_id[:12] in text]


def _call(api: Api, who: str, csrf: str, probe: tuple[str, str, dict[str, Any]]) -> Response:
    """One probe as ``who``: their bearer token for the API, their session (and its CSRF token) for pages."""
    method, url, kwargs = probe
    headers = {**api.auth(who), **kwargs.pop("headers", {})}
    if method == "POST" and not url.startswith("/v1/"):
        kwargs["data"] = {"csrf": csrf, **kwargs.get("data", {})}
    return api.client.request(method, url, headers=headers, follow_redirects=False, **kwargs)


def test_every_route_is_probed(matters: World) -> None:
    """The probe table names every route the app serves (OpenAPI's and the pages'): a new route fails here."""
    served = set(served_routes(matters.api.app.routes))
    documented = {
        (method.upper(), path)
        for path, operations in matters.api.app.openapi()["paths"].items()
        for method in operations
    }
    assert documented <= {(method, re.sub(r":\w+}", "}", path)) for method, path in served}  # {path:path}
    assert served == set(calls(matters))


@pytest.mark.parametrize("who", READERS)
def test_no_answer_shows_anything_of_another_matter(matters: World, who: str) -> None:
    """Scoped to A, no route or page shows B's titles, reasons, comments, names, contents or plan ids."""
    api, leaks = matters.api, []
    csrf = _sign_in(api, who)
    for (method, _), probes in calls(matters).items():
        for url, kwargs in probes:
            response = _call(api, who, csrf, (method, url, dict(kwargs)))
            if method == "POST" and url in ("/sign-in", "/sign-out"):  # they end or replace the session
                csrf = _sign_in(api, who)
            assert response.status_code < 500, (method, url, response.text)
            found = _leaks(response, matters)
            if found:
                leaks.append(f"{method} {url} {kwargs.get('params', '')} -> {response.status_code}: {found}")
    assert not leaks, "\n".join(leaks)


# -- each breach on its own ----------------------------------------------------------------


def _ids(events: list[dict[str, Any]]) -> set[str]:
    return {event["digest"] for event in events}


def test_audit_by_a_path_in_scope_hides_applies_that_also_touched_another_matter(matters: World) -> None:
    """An audit of a path in A holds only A's plans for a reader scoped to A; a whole-store one sees all."""
    api, mixed = matters.api, matters.hidden["mixed applied"]
    scoped = api.get("/v1/audit", "auditor-acme", params={"path": "matters/acme"})
    assert scoped.status_code == 200, scoped.text
    assert mixed not in _ids(scoped.json()["events"])
    assert matters.shown["filed"] in _ids(scoped.json()["events"])
    whole = api.get("/v1/audit", "auditor", params={"path": "matters/acme"}).json()["events"]
    assert mixed in _ids(whole)


def test_history_of_a_document_from_another_matter_starts_at_the_wall(matters: World) -> None:
    """A document moved in from B has, for a reader scoped to A, only A's items and no name in B."""
    api, path = matters.api, "matters/acme/inbox/from-b.txt"
    scoped = api.get("/v1/history", "auditor-acme", params={"path": path}).json()
    assert [item["plan"]["digest"] for item in scoped["items"]] == [matters.shown["moved on"]]
    assert scoped["origins"] == []
    assert scoped["current"] == [path]
    whole = api.get("/v1/history", "auditor", params={"path": path}).json()
    assert whole["origins"] == ["matters/beta/ZQ~XC-brief.txt"]
    assert matters.hidden["mixed applied"] in [item["plan"]["digest"] for item in whole["items"]]


def test_an_id_prefix_shared_with_a_hidden_plan_names_the_visible_one(matters: World) -> None:
    """An 8-digit prefix two plans share resolves, for a reader who sees one of them, to that one."""
    api = matters.api
    for who in READERS:
        response = api.get(f"/v1/plans/{PREFIX}", who)
        assert response.status_code == 200, (who, response.text)
        assert response.json()["id"] == matters.shown["colliding"]
    both = api.get(f"/v1/plans/{PREFIX}", "admin")
    assert both.status_code == 404
    assert "several plans" in both.json()["error"]["message"]


def test_an_unknown_and_a_hidden_id_get_the_same_answer(matters: World) -> None:
    """A hidden plan's id is answered exactly as an id no plan has, and the answer never echoes it."""
    api, hidden = matters.api, matters.hidden["beta applied"]
    unknown = api.get("/v1/plans/" + "0" * 64, "approver-acme")
    walled = api.get(f"/v1/plans/{hidden}", "approver-acme")
    assert walled.status_code == unknown.status_code == 404
    assert walled.json() == unknown.json()
    assert hidden[:8] not in walled.text


def test_resubmitting_a_plan_hidden_from_the_caller_is_answered_as_a_fresh_submission(matters: World) -> None:
    """An agent submitting a plan identical to one it may not see gets 201, as for a plan nobody submitted."""
    api = matters.api
    doc = plan_doc({"op": "mkdir", "path": "matters/acme/twice"}, title="the same plan, twice")
    first = api.submit(doc, "agent-all")
    again = api.post("/v1/plans", "agent", json=doc)
    assert again.status_code == 201, again.text
    assert again.json()["id"] == first["id"]
    assert api.post("/v1/plans", "agent", json=doc).status_code == 200  # now its own: idempotent


def test_metrics_are_for_whole_store_readers(matters: World) -> None:
    """/metrics counts every matter's plans, so an auditor scoped to one matter is refused (403)."""
    assert matters.api.get("/metrics", "auditor-acme").status_code == 403
    assert matters.api.get("/metrics", "auditor").status_code == 200


def test_a_page_of_plans_is_full_though_hidden_plans_are_newer(matters: World) -> None:
    """Plans hidden from the reader do not shorten a page of the list, nor end it early."""
    api = matters.api
    for n in range(3):
        doc = plan_doc(
            {"op": "mkdir", "path": f"matters/beta/newer-{n}"}, title=f"newer {n}", scope=("matters/beta",)
        )
        api.submit(doc, "agent-all")
    page = api.get("/v1/plans", "approver-acme", params={"limit": 2}).json()
    assert len(page["plans"]) == 2
    assert page["next_before_id"] == page["plans"][-1]["id"]
    assert not any(plan["title"].startswith("newer") for plan in page["plans"])


def test_a_plan_naming_another_matter_in_its_scope_is_refused_to_an_agent_walled_off_from_it(
    matters: World,
) -> None:
    """An agent scoped to A may not submit or verify a plan whose scope names B, its ops all in A."""
    for url in ("/v1/plans", "/v1/plans/verify"):
        response = matters.api.post(url, "agent", json=DECLARES_BETA)
        assert response.status_code == 403, response.text
        assert "matters/beta" in response.json()["error"]["message"]


@pytest.mark.parametrize("fmt", ["json", "html", "csv"])
def test_a_custody_report_for_a_reader_scoped_to_one_matter_holds_nothing_of_the_other(
    matters: World, fmt: str
) -> None:
    """A report on a document moved in from B holds, scoped to A, only A's plan, in any format."""
    api, path = matters.api, "matters/acme/inbox/from-b.txt"
    scoped = api.get("/v1/custody", "auditor-acme", params={"path": path, "format": fmt})
    assert scoped.status_code == 200, scoped.text
    assert not _leaks(scoped, matters)
    document, _ = read(scoped.content)
    assert {event["digest"] for event in document["events"]} == {matters.shown["moved on"]}
    assert document["subject"]["names"] == [path, MOVED]
    whole, _ = read(api.get("/v1/custody", "auditor", params={"path": path, "format": fmt}).content)
    assert matters.hidden["mixed applied"] in {event["digest"] for event in whole["events"]}
    assert "matters/beta/ZQ~XC-brief.txt" in whole["subject"]["names"]
