"""A real sidecar for the client's tests: a store folder, a migrated SQLite audit, tokens, the app.

``http`` is the app in process (fastapi's TestClient, an httpx.Client); ``server``
is the same app behind uvicorn on a free port of 127.0.0.1, for the tests that
must cross a real socket.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from planner.client.http_client import PvaClient
from sidecar.settings import Settings
from tests.servers import serving
from tests.support.apps import as_httpx, migrated_sqlite, open_app
from tests.support.files import write_files
from tests.support.tokens import create_tokens

URL = "http://testserver"
TOKENS = {  # name: (role, scopes)
    "agent": ("agent", ["m"]),
    "other-agent": ("agent", ["m"]),
    "alice": ("approver", ["m"]),
    "auditor": ("auditor", ["*"]),
    "outsider": ("approver", ["elsewhere"]),
}
FILE_IT = {
    "pva": "plan/v1",
    "title": "File the inbox",
    "scope": ["m"],
    "ops": [
        {"op": "mkdir", "path": "m/alice"},
        {"op": "move", "src": "m/inbox/1.pdf", "dst": "m/alice/1.pdf", "reason": "From: Alice"},
        {"op": "delete", "path": "m/notes.txt"},
    ],
}
BROKEN = {"pva": "plan/v1", "title": "Broken", "scope": ["m"], "ops": [{"op": "move", "src": "m/x"}]}
MISSING = {**FILE_IT, "title": "Move what is not there", "ops": [{"op": "delete", "path": "m/nothing.pdf"}]}


@pytest.fixture
def auto_apply() -> bool:
    """Whether approved plans apply at once (a test parametrizes it to False to apply by hand)."""
    return True


@pytest.fixture
def settings(tmp_path: Path, auto_apply: bool) -> Settings:
    """A store with an inbox, and a migrated, empty SQLite audit database."""
    store = write_files(tmp_path / "store", {"m/inbox/1.pdf": b"contract", "m/notes.txt": b"old notes"})
    url = migrated_sqlite(tmp_path)
    return Settings(
        store=str(store), database_url=url, state_dir=str(tmp_path / "state"), auto_apply=auto_apply
    )


@pytest.fixture
def tokens(settings: Settings) -> dict[str, str]:
    """A secret per name of TOKENS."""
    return create_tokens(settings.database_url, TOKENS)


@pytest.fixture
def app(settings: Settings) -> Iterator[FastAPI]:
    with open_app(settings) as app:
        yield app


@pytest.fixture
def http(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as client:
        yield client


@pytest.fixture
def as_(http: TestClient, tokens: dict[str, str]) -> Iterator[dict[str, PvaClient]]:
    """A client per token name, over the app in process."""
    clients = {name: PvaClient(URL, secret, http=as_httpx(http)) for name, secret in tokens.items()}
    yield clients
    for client in clients.values():
        client.close()


@pytest.fixture
def server(app: FastAPI) -> Iterator[str]:
    """The app behind uvicorn on 127.0.0.1, on a port the OS chose; its URL."""
    with serving(app) as url:
        yield url


def write_plan(folder: Path, document: Mapping[str, object]) -> str:
    path = folder / f"plan-{len(list(folder.glob('plan-*.json')))}.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    return str(path)
