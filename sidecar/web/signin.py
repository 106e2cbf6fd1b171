"""Signing in with an API token, and out.

The sign-in form is protected before any session exists: a short-lived
``pva_signin`` cookie (``__Host-pva_signin`` over TLS) holds a nonce and
the form carries its CSRF token, so another site cannot sign a person in as
someone else. Signing in sets the
session cookie (HttpOnly, SameSite=Strict, ``Max-Age`` the session's
lifetime; Secure and named ``__Host-pva_session`` behind a TLS proxy); the
token's secret is never stored in it.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from starlette.responses import RedirectResponse, Response

from sidecar.edge.auth import anonymous_key
from sidecar.edge.state import app_state
from sidecar.web import session
from sidecar.web.guard import (
    SESSION_COOKIE,
    SIGN_IN_COOKIE,
    ForgedRequest,
    PageRoute,
    Poster,
    check_origin,
    cookie_name,
    local_target,
    over_tls,
)
from sidecar.web.render import html
from sidecar.web.state import web_state

router = APIRouter(route_class=PageRoute, include_in_schema=False)
SIGN_IN_SECONDS = 3600
Next = Annotated[str, Query(max_length=2000)]


def _cookie(request: Request, response: Response, name: str, value: str, seconds: int) -> None:
    response.set_cookie(
        cookie_name(request, name),
        value,
        max_age=seconds,
        path="/",
        secure=over_tls(request),
        httponly=True,
        samesite="strict",
    )


def _forget(request: Request, response: Response, name: str) -> None:
    response.delete_cookie(
        cookie_name(request, name), path="/", secure=over_tls(request), httponly=True, samesite="strict"
    )


def _form(request: Request, target: str, *, error: str = "", status: int = 200) -> Response:
    web = web_state(request)
    nonce = request.cookies.get(cookie_name(request, SIGN_IN_COOKIE), "")
    if len(nonce) != 2 * session.NONCE_BYTES or not all(c in "0123456789abcdef" for c in nonce):
        nonce = session.new_nonce()
    csrf = session.csrf_token(web.key, "sign-in", nonce)
    response = html(
        web.templates, request, "signin.html", code=status, who=None, csrf=csrf, next=target, error=error
    )
    _cookie(request, response, SIGN_IN_COOKIE, nonce, SIGN_IN_SECONDS)
    return response


@router.get("/sign-in")
def sign_in_form(request: Request, next: Next = "/") -> Response:  # noqa: A002  # the query's name
    return _form(request, local_target(next))


@router.post("/sign-in")
def sign_in(
    request: Request,
    token: Annotated[str, Form(max_length=200)] = "",
    csrf: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",  # noqa: A002  # the form field's name
) -> Response:
    check_origin(request)
    web, state = web_state(request), app_state(request)
    nonce = request.cookies.get(cookie_name(request, SIGN_IN_COOKIE), "")
    if not session.csrf_valid(web.key, "sign-in", nonce, csrf):
        raise ForgedRequest("the sign-in form is out of date or came from elsewhere; reload it and try again")
    who = state.services.tokens.authenticate(token.strip())
    if who is None:
        state.limiter.take(anonymous_key(request))  # guesses share the API's per-address bucket: 429
        message = "That token is not valid: it is unknown, revoked or expired. Ask an administrator."
        return _form(request, local_target(next), error=message, status=401)
    opened = session.started(who.token_id, now=state.clock(), ttl=web.ttl)
    response = RedirectResponse(local_target(next), status_code=303)
    _cookie(request, response, SESSION_COOKIE, session.seal(opened, web.key), int(web.ttl.total_seconds()))
    _forget(request, response, SIGN_IN_COOKIE)
    return response


@router.post("/sign-out")
def sign_out(request: Request, who: Poster) -> Response:
    del who  # only a signed-in person's own page may sign them out
    response = RedirectResponse("/sign-in", status_code=303)
    _forget(request, response, SESSION_COOKIE)
    return response
