"""The approval page: server-rendered HTML for the people who approve plans (docs/approval-page.md).

Routes are thin: they call the same ``PlanService`` and ``ReadService`` as
the API, so every rule (roles, scopes, visibility, the workflow) holds here
as it does there. The pure parts, unit-tested, are ``session`` (signed
cookies, CSRF), ``treeview`` (the before and after trees) and ``views``
and ``trail`` (what each page shows). ``docs`` serves the API's description
(``/docs``) under the same page headers.
"""

from __future__ import annotations

from fastapi import APIRouter

from sidecar.settings import Settings
from sidecar.web import audit, docs, holds, inbox, plans, signin
from sidecar.web.render import StaticAssets, environment
from sidecar.web.state import WebState, session_key


def router() -> APIRouter:
    """Every page of the approval page, and the API's /docs (none in the OpenAPI document)."""
    pages = APIRouter(include_in_schema=False)
    for part in (docs.router, signin.router, inbox.router, plans.router, audit.router, holds.router):
        pages.include_router(part)
    return pages


def state_for(settings: Settings) -> WebState:
    """What the pages hold while the app runs (``app.state.pva_web``): the session key, the templates."""
    return WebState(
        key=session_key(settings),
        ttl=settings.session_ttl,
        secure_cookies=settings.tls_proxy,
        templates=environment(),
    )


__all__ = ["StaticAssets", "router", "state_for"]
