"""The tests' TCP proxy (tests/netproxy.py) cuts a real PostgreSQL connection, then lets new ones through."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from tests.databases import ADMIN_URL
from tests.netproxy import Proxy


def test_a_cut_drops_the_open_connection_and_refuses_until_mended() -> None:
    admin = make_url(ADMIN_URL)
    with Proxy((admin.host or "127.0.0.1", admin.port or 5432)) as proxy:
        through = admin.set(host="127.0.0.1", port=proxy.port)
        engine = create_engine(through, poolclass=None, pool_pre_ping=False)
        with engine.connect() as connection:
            assert connection.execute(text("SELECT 1")).scalar_one() == 1
            proxy.cut()
            with pytest.raises(OperationalError):
                connection.execute(text("SELECT 2"))
        with pytest.raises(OperationalError), engine.connect():
            pass
        proxy.mend()
        with engine.connect() as connection:
            assert connection.execute(text("SELECT 3")).scalar_one() == 3
        engine.dispose()
        assert proxy.connections >= 2
