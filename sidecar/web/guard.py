"""Who is looking at a page, whether a form may act, and what a person sees when a request fails.

``Viewer`` is the signed-in person: the session cookie, checked against the
session key, then the token it names, looked up again (a revoked or expired
token ends the session). ``Poster`` is a viewer whose form post came from
this sidecar's own pages: same origin, and the session's CSRF token.
``PageRoute`` renders every failure as a page, with the status the API
would give, and adds the security headers to every response.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, Form, Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.responses import PlainTextResponse, RedirectResponse, Response

from planner.core.errors import PvaError
from sidecar.edge.problems import STATUS
from sidecar.edge.ratelimit import RateLimited
from sidecar.edge.state import app_state
from sidecar.tokens import Principal, UnknownToken
from sidecar.web import session
from sidecar.web.render import html, secure
from sidecar.web.state import web_state

SESSION_COOKIE = "pva_session"
SIGN_IN_COOKIE = "pva_signin"  # the nonce of a sign-in form, before there is a session
HOST_ONLY = "__Host-"  # behind TLS: a cookie only this origin can set (no other port, no subdomain)
FRAGMENT_HEADER = "x-pva-fragment"  # sent by the page's script: answer 401, not a redirect


class SignInRequired(Exception):
    """No live session: the person must sign in (a redirect, or 401 for the page's script)."""


class ForgedRequest(PvaError):
    """A form post that did not come from this sidecar's pages (HTTP 403)."""

    exit_code = 2


@dataclass(frozen=True)
class Signed:
    """A signed-in person: who (the token's principal), their session, and their forms' CSRF token."""

    principal: Principal
    session: session.Session
    csrf: str


def over_tls(request: Request) -> bool:
    """Whether the page is served over HTTPS (the operator says a TLS proxy is in front, or the URL does)."""
    return web_state(request).secure_cookies or request.url.scheme == "https"


def cookie_name(request: Request, name: str) -> str:
    """What a cookie of the page is called on this request: ``__Host-name`` over TLS, else ``name``.

    Browsers let only a secure page of this very origin set a ``__Host-``
    cookie, so a page on another port or a subdomain cannot toss one in
    (a plain ``name`` sent beside it is ignored). Over plain HTTP the
    prefix is not available: docs/security.md says what holds there.
    """
    return HOST_ONLY + name if over_tls(request) else name


def viewer(request: Request) -> Signed:
    web, state = web_state(request), app_state(request)
    sealed = request.cookies.get(cookie_name(request, SESSION_COOKIE))
    opened = session.open_session(sealed, web.key, now=state.clock())
    if opened is None:
        raise SignInRequired
    try:
        info = state.services.tokens.get(opened.token_id)
    except UnknownToken:
        raise SignInRequired from None
    if info.status != "active":
        raise SignInRequired
    state.limiter.take(info.id)
    who = Principal(info.id, info.name, info.role, info.scopes)
    request.state.principal = who
    return Signed(who, opened, session.csrf_token(web.key, "session", opened.nonce))


Viewer = Annotated[Signed, Depends(viewer)]


def check_origin(request: Request) -> None:
    """ForgedRequest unless the post names this sidecar as its origin."""
    headers = request.headers
    if not session.same_origin(
        origin=headers.get("origin"), referer=headers.get("referer"), host=headers.get("host")
    ):
        raise ForgedRequest("this form was not sent from this sidecar's own pages; nothing was done")


def poster(request: Request, who: Viewer, csrf: Annotated[str | None, Form(max_length=200)] = None) -> Signed:
    check_origin(request)
    if not session.csrf_valid(web_state(request).key, "session", who.session.nonce, csrf):
        raise ForgedRequest(
            "this form is out of date or was not sent from this page; reload it and try again"
        )
    return who


Poster = Annotated[Signed, Depends(poster)]


def _status(error: PvaError) -> int:
    if isinstance(error, ForgedRequest):
        return 403
    return next((status for kind, status, _ in STATUS if isinstance(error, kind)), 400)


def _failed(request: Request, status: int, message: str) -> Response:
    env = web_state(request).templates
    return html(env, request, "error.html", code=status, status=status, message=message, who=None)


class PageRoute(APIRoute):
    """A route of the approval page: failures become pages, every response gets the page headers."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                response = await handler(request)
            except SignInRequired:
                response = _sign_in_first(request)
            except RequestValidationError as error:
                response = _failed(request, 422, _invalid(error))
            except PvaError as error:
                response = _failed(request, _status(error), str(error))
                if isinstance(error, RateLimited):
                    response.headers["Retry-After"] = str(max(1, round(error.retry_after + 0.5)))
            return secure(response)

        return route


def _invalid(error: RequestValidationError) -> str:
    """What is wrong with the address or form, field by field (pydantic's words never quote the value)."""
    fields = [
        f"{item['loc'][-1]}: {str(item['msg']).removeprefix('Value error, ')}" for item in error.errors()[:3]
    ]
    return "That address or form is not valid. " + "; ".join(fields)


def _sign_in_first(request: Request) -> Response:
    if request.headers.get(FRAGMENT_HEADER) or request.method != "GET":
        return PlainTextResponse("sign in again", status_code=401)
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/sign-in?next={quote(target, safe='')}", status_code=303)


def local_target(target: str | None) -> str:
    """``target`` if it is a path on this sidecar, else the inbox (no open redirect to other sites)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target
