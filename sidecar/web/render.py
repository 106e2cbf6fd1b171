"""HTML responses: the Jinja2 environment (autoescape on, always), and the headers every page carries.

Every value a template prints is escaped: titles, reasons and file names
come from agents and are untrusted. No template may use ``|safe`` or
``Markup``. The Content-Security-Policy allows scripts and styles only from
this sidecar's own ``/static/`` files (no inline script, no inline style),
so a string that did slip through as markup still could not run.
"""

from __future__ import annotations

import os
from typing import Any

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from planner.core.preview import in_stored_order
from sidecar.risks import size_text
from sidecar.web.views import time_text

HERE = os.path.dirname(__file__)

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def visible(value: Any) -> Any:
    """``value`` as a template prints it, in the order it is stored (``in_stored_order``)."""
    return in_stored_order(value) if isinstance(value, str) else value


def environment() -> jinja2.Environment:
    """The templates of ``sidecar/web/templates``, every one autoescaped, undefined names an error.

    Every printed value passes ``visible`` first (Jinja's ``finalize``).
    """
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(os.path.join(HERE, "templates")),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=visible,
    )
    env.filters["size"] = size_text
    env.filters["when"] = time_text
    return env


def secure(response: Response) -> Response:
    """``response`` with the page headers (those it set itself win)."""
    for name, value in PAGE_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def html(
    env: jinja2.Environment, request: Request, name: str, *, code: int = 200, **context: Any
) -> Response:
    """The template ``name`` rendered with ``context`` (and the request), status ``code``, page headers."""
    body = env.get_template(name).render(request=request, **context)
    return secure(HTMLResponse(body, status_code=code))


class StaticAssets(StaticFiles):
    """The page's own CSS, script and icon, with the page headers (revalidated, not no-store)."""

    def __init__(self) -> None:
        super().__init__(directory=os.path.join(HERE, "static"))

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        response.headers["Cache-Control"] = "no-cache"
        return secure(response)
