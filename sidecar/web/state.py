"""What the approval page holds while the app runs: the session key, the templates, small caches.

``install`` wires the page into an app: its router, its static files and
this state, under ``app.state.pva_web``. The session key comes from
``settings.session_secret``, else from ``secrets`` once per app (sessions
then end when the sidecar restarts).
"""

from __future__ import annotations

import hashlib
import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Generic, TypeVar, cast

import jinja2
from starlette.requests import HTTPConnection

from sidecar.settings import Settings
from sidecar.web.views import PlanView, Summary

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Lru(Generic[K, V]):
    """A small thread-safe least-recently-used cache (routes run in a thread pool)."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._items: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K, make: Callable[[], V]) -> V:
        """The value for ``key``, made (outside the lock) and kept when missing."""
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        value = make()
        with self._lock:
            self._items[key] = value
            while len(self._items) > self._size:
                self._items.popitem(last=False)
        return value


@dataclass
class WebState:
    """The session key and lifetime, the template environment and the view caches."""

    key: bytes
    ttl: timedelta
    secure_cookies: bool  # a TLS proxy is in front: cookies are Secure
    templates: jinja2.Environment
    # Keyed by (digest, version): a case's version changes whenever anything shown of it does.
    summaries: Lru[tuple[str, int], Summary] = field(default_factory=lambda: Lru(1024))
    views: Lru[tuple[str, int], PlanView] = field(default_factory=lambda: Lru(16))


def session_key(settings: Settings) -> bytes:
    """The key that signs sessions: derived from the configured secret, else random."""
    if settings.session_secret is None:
        return secrets.token_bytes(32)
    secret = settings.session_secret.get_secret_value().encode("utf-8")
    return hashlib.sha256(b"pva-web-session/v1\0" + secret).digest()


def web_state(connection: HTTPConnection) -> WebState:
    return cast("WebState", connection.app.state.pva_web)
