"""A real sidecar for the agent side's tests: a store with a seeded matter, a migrated SQLite audit, tokens.

``as_`` gives a ``PvaClient`` per token over the app in process; ``server`` is
the same app behind uvicorn on a free port, for a subprocess (the MCP server)
that must reach it over a socket.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from examples.custodians.seed import seed
from planner.client.http_client import PvaClient
from sidecar.settings import Settings
from tests.servers import serving
from tests.support.apps import as_httpx, migrated_sqlite, open_app
from tests.support.tokens import create_tokens

URL = "http://testserver"
MATTER = "matters/acme"
TOKENS = {  # name: (role, scopes)
    "agent": ("agent", [MATTER]),
    "alice": ("approver", [MATTER]),
    "auditor": ("auditor", ["*"]),
}


@pytest.fixture
def store(tmp_path: Path) -> Path:
    """A store folder holding the example's discovery set in matters/acme."""
    root = tmp_path / "store"
    seed(root, MATTER)
    return root


@pytest.fixture
def settings(tmp_path: Path, store: Path) -> Settings:
    url = migrated_sqlite(tmp_path)
    return Settings(store=str(store), database_url=url, state_dir=str(tmp_path / "state"), auto_apply=False)


@pytest.fixture
def tokens(settings: Settings) -> dict[str, str]:
    """A secret per name of TOKENS."""
    return create_tokens(settings.database_url, TOKENS)


@pytest.fixture
def app(settings: Settings) -> Iterator[FastAPI]:
    with open_app(settings) as app:
        yield app


@pytest.fixture
def as_(app: FastAPI, tokens: dict[str, str]) -> Iterator[dict[str, PvaClient]]:
    """A client per token name, over the app in process."""
    with TestClient(app) as http:
        yield {name: PvaClient(URL, secret, http=as_httpx(http)) for name, secret in tokens.items()}


@pytest.fixture
def server(app: FastAPI) -> Iterator[str]:
    """The app behind uvicorn on 127.0.0.1, on a port the OS chose; its URL."""
    with serving(app) as url:
        yield url
