"""API fixtures: the real app over a real local store and a migrated database (SQLite and PostgreSQL).

The database fixtures come from tests/databases.py: one fresh database per
module (on PostgreSQL a new database ``pva_test_<random>``), emptied here
before each test, the workflow's and the tokens' tables included.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.api.support import SEED, Api, MakeApi, Opener, empty
from tests.support.files import write_files


@pytest.fixture
def api_url(migrated_url: str) -> str:
    """A migrated, empty database (every table emptied, the workflow's and the tokens' included)."""
    empty(migrated_url)
    return migrated_url


@pytest.fixture
def make_api(api_url: str, tmp_path: Path) -> Iterator[MakeApi]:
    """Open apps (``make_api(**settings)``) over this test's seeded store and empty database."""
    root = tmp_path / "store"
    write_files(root, SEED)
    opener = Opener(root, api_url, tmp_path)
    yield opener.open
    opener.close()


@pytest.fixture
def api(make_api: MakeApi) -> Api:
    """The app with default settings (approved plans apply at once)."""
    return make_api()


@pytest.fixture
def manual(make_api: MakeApi) -> Api:
    """The app with auto_apply off: approved plans wait for POST /v1/plans/{id}/apply."""
    return make_api(auto_apply=False)


@pytest.fixture(scope="module")
def opener(migrated_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Opener]:
    """One seeded store and database for a whole module (do not mix with ``make_api`` in one module)."""
    work = tmp_path_factory.mktemp("world")
    root = work / "store"
    write_files(root, SEED)
    empty(migrated_url)
    opener = Opener(root, migrated_url, work)
    yield opener
    opener.close()


@pytest.fixture(scope="module")
def world(opener: Opener) -> Api:
    """One app for a whole module (auto_apply off), for tests that each make their own fresh plans."""
    return opener.open(auto_apply=False)
