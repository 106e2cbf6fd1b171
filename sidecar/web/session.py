"""Browser sessions and CSRF defence for the approval page. Pure: keys and times are passed in.

A session is a signed cookie, not a server-side row: ``v1.<token id>.<expires>.<nonce>.<mac>``,
where the mac is HMAC-SHA256 over the rest with the sidecar's session key.
It names the API token the person signed in with, never its secret; every
request looks the token up again, so revoking it ends the session at once.

CSRF has two independent locks. Each form carries a synchronizer token,
HMAC(key, purpose + nonce): a page on another origin can neither read it
nor compute it. And every POST must come from this origin (``Origin``, or
``Referer`` when a browser sends no ``Origin``). The cookie's
``SameSite=Strict`` is a third lock, but it does not separate two ports of
one host (the same site), which the first two do.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

VERSION = "v1"
NONCE_BYTES = 16
_TOKEN_ID = re.compile(r"tok_[0-9a-f]{12}")
_NONCE = re.compile(r"[0-9a-f]{32}")


@dataclass(frozen=True)
class Session:
    """A signed-in browser: the API token it acts as, when the session ends, and its CSRF nonce."""

    token_id: str
    expires: datetime
    nonce: str


def new_nonce() -> str:
    return secrets.token_hex(NONCE_BYTES)


def _mac(key: bytes, message: str) -> str:
    return hmac.new(key, message.encode("ascii"), hashlib.sha256).hexdigest()


def seal(session: Session, key: bytes) -> str:
    """The cookie value of ``session``, signed with ``key``."""
    if not _TOKEN_ID.fullmatch(session.token_id) or not _NONCE.fullmatch(session.nonce):
        raise ValueError("a session names a token id (tok_...) and a 32-digit hex nonce")
    body = f"{VERSION}.{session.token_id}.{int(session.expires.timestamp())}.{session.nonce}"
    return f"{body}.{_mac(key, body)}"


def open_session(value: str | None, key: bytes, *, now: datetime) -> Session | None:
    """The session in a cookie value; None when absent, malformed, forged (wrong mac) or expired."""
    if not value or len(value) > 200:
        return None
    parts = value.split(".")
    if len(parts) != 5 or parts[0] != VERSION:
        return None
    _, token_id, expires, nonce, mac = parts
    if not hmac.compare_digest(mac, _mac(key, ".".join(parts[:4]))):
        return None
    if not (_TOKEN_ID.fullmatch(token_id) and _NONCE.fullmatch(nonce) and expires.isdigit()):
        return None
    ends = datetime.fromtimestamp(int(expires), tz=now.tzinfo)
    if ends <= now:
        return None
    return Session(token_id, ends, nonce)


def started(token_id: str, *, now: datetime, ttl: timedelta) -> Session:
    """A new session for ``token_id`` that ends ``ttl`` after ``now`` (whole seconds)."""
    return Session(token_id, (now + ttl).replace(microsecond=0), new_nonce())


def csrf_token(key: bytes, purpose: str, nonce: str) -> str:
    """The synchronizer token a form carries, bound to a session's (or a sign-in form's) nonce."""
    return _mac(key, f"csrf:{purpose}:{nonce}")


def csrf_valid(key: bytes, purpose: str, nonce: str, given: str | None) -> bool:
    """True when ``given`` is the form token of ``nonce`` (compared in constant time)."""
    return given is not None and hmac.compare_digest(given.encode(), csrf_token(key, purpose, nonce).encode())


def same_origin(*, origin: str | None, referer: str | None, host: str | None) -> bool:
    """True when a POST comes from a page of this sidecar: its ``Origin`` (else ``Referer``) names ``host``.

    ``host`` is the request's ``Host`` header (what the browser addressed).
    A request that names no origin at all, or ``null`` (sandboxed frames,
    some redirects), is refused: browsers send ``Origin`` on every form post.
    """
    if not host:
        return False
    source = origin if origin and origin != "null" else referer
    if not source:
        return False
    parts = urlsplit(source)
    if parts.scheme not in ("http", "https"):
        return False
    return parts.netloc.lower() == host.lower()
