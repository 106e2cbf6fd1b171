"""What the API tests share: people, the seeded store, the policy, and ``Api``.

``Opener.open(**settings)`` opens the services from ``Settings``
(``open_services``), builds the app with ``create_app(settings, services=...)``
and enters a ``TestClient``; every app an opener makes shares its store,
database, policy, clock and tokens.
"""

from __future__ import annotations

import hashlib
import itertools
import re
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import delete

from sidecar import db
from sidecar.app import create_app
from sidecar.audit.tables import Base
from sidecar.settings import Settings
from sidecar.wiring import Services, open_services
from tests.support.clocks import TickingClock
from tests.support.plans import plan_doc
from tests.support.tokens import issue

ORIGIN = {"Origin": "http://testserver"}  # the page's forms need a same-origin request
PATIENCE = 120.0  # seconds: a bound on a hung apply worker, never on a slow one (tests wait for a state)

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

# name: (role, scopes). "approver-2" is a second approver for rules that need two.
PEOPLE: dict[str, tuple[str, tuple[str, ...]]] = {
    "agent": ("agent", ("matters/acme",)),
    "agent-peer": ("agent", ("matters/acme",)),
    "agent-globex": ("agent", ("matters/globex",)),
    "approver": ("approver", ("matters",)),
    "approver-2": ("approver", ("matters",)),
    "approver-other": ("approver", ("matters/other",)),
    "auditor": ("auditor", ("*",)),
    "auditor-other": ("auditor", ("matters/other",)),
    "admin": ("admin", ()),
}

# The seeded store: path -> content (None: a folder).
SEED: dict[str, bytes | None] = {
    "matters/acme/inbox/0001.pdf": b"%PDF 0001 email re contract",
    "matters/acme/inbox/0002.pdf": b"%PDF 0002 invoice",
    "matters/acme/inbox/Thumbs.db": b"thumbs",
    "matters/acme/templates/cover.docx": b"cover sheet",
    "matters/acme/custodians/alice": None,
    "matters/acme/sealed/minutes.pdf": b"%PDF sealed minutes",
    "matters/globex/inbox/g-0001.pdf": b"%PDF globex 1",
    "matters/other/readme.txt": b"other matter",
}

POLICY = """
version = "policy/v1"

[default]
outcome = "require_approvals"
approvals = 1

[[rules]]
name = "sealed"
paths_any = ["matters/*/sealed"]
outcome = "deny"
message = "sealed folders are never changed by plans"

[[rules]]
name = "deletes"
ops_any = ["delete"]
outcome = "require_approvals"
approvals = 2

[[rules]]
name = "inbox-filing"
ops_all = ["mkdir", "move"]
paths_all = ["matters/*/inbox"]
outcome = "auto_approve"
"""


class Response(Protocol):
    """What the tests read of a TestClient response (httpx's, or httpx2's when that is installed)."""

    @property
    def status_code(self) -> int: ...
    @property
    def text(self) -> str: ...
    @property
    def content(self) -> bytes: ...
    @property
    def headers(self) -> Mapping[str, str]: ...
    def json(self, **kwargs: Any) -> Any: ...


def sha256(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def tree(root: Path) -> dict[str, bytes | None]:
    """The store's files and folders outside the reserved ``.pva`` area: the backdoor view of the disk."""
    found: dict[str, bytes | None] = {}
    for path in sorted(root.rglob("*")):
        name = path.relative_to(root).as_posix()
        if name == ".pva" or name.startswith(".pva/"):
            continue
        found[name] = None if path.is_dir() else path.read_bytes()
    return found


@dataclass
class Api:
    """One running app, its services, the store on disk, and helpers that call it as a named person."""

    client: TestClient
    services: Services
    settings: Settings
    root: Path
    clock: TickingClock
    secrets: dict[str, str]
    counter: Iterator[int] = field(default_factory=itertools.count)

    @property
    def app(self) -> FastAPI:
        app = self.client.app
        assert isinstance(app, FastAPI)
        return app

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.secrets[who]}"}

    def get(self, url: str, who: str | None, **kwargs: Any) -> Response:
        return self.client.get(url, headers=None if who is None else self.auth(who), **kwargs)

    def post(self, url: str, who: str | None, **kwargs: Any) -> Response:
        return self.client.post(url, headers=None if who is None else self.auth(who), **kwargs)

    # -- the workflow, asserting each step succeeds --

    def submit(self, doc: dict[str, Any], who: str = "agent", *, status: int = 201) -> dict[str, Any]:
        response = self.post("/v1/plans", who, json=doc)
        assert response.status_code == status, response.text
        body: dict[str, Any] = response.json()
        return body

    def decide(self, plan_id: str, verb: str, who: str = "approver", comment: str = "ok") -> dict[str, Any]:
        """The decision's answer; once the apply it queued (202) is over, when it queued one."""
        return self._settled(self.post(f"/v1/plans/{plan_id}/{verb}", who, json={"comment": comment}))

    def apply(self, plan_id: str, who: str = "admin") -> dict[str, Any]:
        """The plan once applied (or failed, or stale): the worker's apply is waited for."""
        return self._settled(self.post(f"/v1/plans/{plan_id}/apply", who))

    def _settled(self, response: Response) -> dict[str, Any]:
        body: dict[str, Any] = response.json()
        if response.status_code == 202:  # queued: a worker applies it (PVA_APPLY_MODE=jobs)
            assert body["state"] == "applying", response.text
            return self.settle(body["id"])
        assert response.status_code == 200, response.text
        return body

    def settle(self, plan_id: str) -> dict[str, Any]:
        """The plan once no longer 'applying' (its worker runs in another thread)."""
        deadline = time.monotonic() + PATIENCE
        while (shown := self.show(plan_id))["state"] == "applying" and time.monotonic() < deadline:
            time.sleep(0.02)
        return shown

    def show(self, plan_id: str, who: str = "admin") -> dict[str, Any]:
        response = self.get(f"/v1/plans/{plan_id}", who)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def fresh_mkdir(self, who: str = "agent") -> dict[str, Any]:
        """A plan no other in this store has: make a new folder below matters/acme/made."""
        n = next(self.counter)
        return plan_doc(
            {"op": "mkdir", "path": f"matters/acme/made/{who}-{n}", "parents": True}, title=f"make {n}"
        )

    def plan_in(self, state: str, author: str = "agent") -> str:
        """A fresh plan by ``author`` in ``state``: pending, approved or applied (auto_apply off)."""
        plan_id: str = self.submit(self.fresh_mkdir(author), author)["id"]
        if state in ("approved", "applied"):
            assert self.decide(plan_id, "approve", "admin")["state"] == "approved"
        if state == "applied":
            assert self.apply(plan_id)["state"] == "applied"
        return plan_id


MakeApi = Callable[..., Api]


def empty(url: str) -> None:
    """Delete every row of every table, children first."""
    engine = db.make_engine(url)
    with engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            connection.execute(delete(table))
    engine.dispose()


class Opener:
    """Opens apps over one store, database, policy and clock; closes them all at the end."""

    def __init__(self, root: Path, url: str, work: Path) -> None:
        self.root, self.url, self.work = root, url, work
        self.clock = TickingClock(T0, timedelta(milliseconds=1))  # every event has its own time
        self.secrets: dict[str, str] = {}
        self.policy = work / "policy.toml"
        self.policy.write_text(POLICY, encoding="utf-8")
        self._stack = ExitStack()

    def settings(self, **overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "store": str(self.root),
            "database_url": self.url,
            "state_dir": str(self.work / "state"),
            "policy": str(self.policy),
            "approval_ttl": timedelta(hours=24),
            "rate_limit": 1_000_000,
            "rate_burst": 1_000_000,
            "notify": False,  # tests that notify run the deliverer's rounds themselves
        }
        return Settings(**(values | overrides))

    def open(self, **overrides: Any) -> Api:
        settings = self.settings(**overrides)
        services = self._stack.enter_context(open_services(settings, clock=self.clock))
        if not self.secrets:
            self.secrets.update(issue(services.tokens, PEOPLE))
        app = create_app(settings, services=services, clock=self.clock)
        client = self._stack.enter_context(TestClient(app, raise_server_exceptions=False))
        return Api(client, services, settings, self.root, self.clock, self.secrets)

    def close(self) -> None:
        self._stack.close()


def sign_in(api: Api, who: str) -> str:
    """Sign ``who`` in through the approval page's form; return the session's CSRF token."""
    form = api.client.get("/sign-in")
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', form.text)
    assert found is not None
    answer = api.client.post(
        "/sign-in",
        data={"token": api.secrets[who], "csrf": found.group(1), "next": "/"},
        headers=ORIGIN,
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    inbox = api.client.get("/")
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', inbox.text)
    assert found is not None
    return found.group(1)
