"""Who a request comes from: its bearer token, checked against the token table, and its rate.

Every route but ``/healthz`` depends on ``principal``: no token, a malformed
or unknown, revoked or expired token is 401 (one message for all, so a
caller learns nothing about which tokens exist); a token over its rate
(``ratelimit``) is 429 with ``Retry-After``, and so are failed attempts from
one address over the same rate.
"""

from __future__ import annotations

import ipaddress
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from planner.core.errors import PvaError
from sidecar.edge.state import app_state
from sidecar.tokens import Principal, Role

bearer = HTTPBearer(auto_error=False, description="An API token: `Authorization: Bearer pva_...`")


class Unauthenticated(PvaError):
    """No valid bearer token (HTTP 401)."""

    exit_code = 2


class Forbidden(PvaError):
    """The token's role may not call this endpoint (HTTP 403)."""

    exit_code = 2


def principal(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> Principal:
    """The authenticated caller, within its rate.

    Failed attempts share one bucket per client address, so guessing tokens
    (or flooding the token lookup) is rate-limited too.
    """
    state = app_state(request)
    if credentials is None or credentials.scheme.lower() != "bearer":
        state.limiter.take(anonymous_key(request))
        raise Unauthenticated("send an API token: 'Authorization: Bearer pva_...'")
    found = state.services.tokens.authenticate(credentials.credentials)
    if found is None:
        state.limiter.take(anonymous_key(request))
        raise Unauthenticated("the token is not valid: unknown, revoked or expired")
    state.limiter.take(found.token_id)
    request.state.principal = found
    return found


def anonymous_key(request: Request) -> str:
    """The rate-limit key of requests without a valid token: their client address; for IPv6, its /64.

    One subscriber holds a whole IPv6 /64 and could send each guess from
    another address of it. The address a proxy forwards counts only from
    the proxies PVA_TRUSTED_PROXIES names (sidecar.serving).
    """
    host = request.client.host if request.client else "unknown"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return f"anonymous:{host}"
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # ::ffff:192.0.2.1 is 192.0.2.1
    if isinstance(address, ipaddress.IPv6Address):
        return f"anonymous:{ipaddress.IPv6Network((address, 64), strict=False)}"
    return f"anonymous:{address}"


Caller = Annotated[Principal, Depends(principal)]


def require(who: Principal, *roles: Role) -> None:
    """Forbidden unless ``who`` has one of ``roles``."""
    if who.role not in roles:
        allowed = ", ".join(role.value for role in roles)
        raise Forbidden(f"{who.name} has role {who.role.value}; this needs one of: {allowed}")
