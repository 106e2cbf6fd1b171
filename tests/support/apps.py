"""A sidecar for a test: a migrated SQLite database, the app over it, its TestClient as an httpx client."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import cast

import httpx
from fastapi import FastAPI
from fastapi.testclient import TestClient

from sidecar import db
from sidecar.app import create_app
from sidecar.settings import Settings
from sidecar.wiring import open_services


def migrated_sqlite(folder: Path, name: str = "audit.db") -> str:
    """The URL of a new SQLite database ``name`` in ``folder``, migrated to the latest schema."""
    url = f"sqlite:///{folder / name}"
    db.upgrade(url)
    return url


@contextmanager
def open_app(settings: Settings) -> Iterator[FastAPI]:
    """The app over the services ``settings`` name (``create_app(settings, services=...)``), closed after."""
    with open_services(settings) as services:
        yield create_app(settings, services=services)


def as_httpx(client: TestClient) -> httpx.Client:
    """The TestClient, typed as the httpx client ``PvaClient`` takes.

    Starlette's TestClient is built on httpx2's ``Client``, which has httpx's
    interface but is another class to a type checker.
    """
    return cast("httpx.Client", client)
