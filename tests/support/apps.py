"""A sidecar for a test: a migrated SQLite database, the app over it, its TestClient as an httpx client."""

from __future__ import annotations

from typing import cast

import httpx
from fastapi.testclient import TestClient


def as_httpx(client: TestClient) -> httpx.Client:
    """The TestClient, typed as the httpx client ``PvaClient`` takes.

    Starlette's TestClient is built on httpx2's ``Client``, which has httpx's
    interface but is another class to a type checker.
    """
    return cast("httpx.Client", client)
