"""GCS failures become pva's errors here, at the backend's boundary; nothing from ``google.*`` escapes.

    google.api_core.exceptions.NotFound (404)          -> planner.core.errors.NotFound
    PreconditionFailed (412) on a create               -> planner.core.errors.AlreadyExists
    PreconditionFailed (412) on a source's generation  -> StoreFault (the object changed since it was read)
    Forbidden (403) of an object under a hold          -> StoreFault, errno EPERM, saying so
    Forbidden, Unauthorized, auth errors               -> StoreFault, errno EACCES
    TooManyRequests, ServiceUnavailable after retries  -> StoreFault, errno EAGAIN
    any other API, transport or retry failure          -> StoreFault, errno EIO

Callers that can tell a 412 on a create from one on a source (``objects.py``)
catch ``PreconditionFailed`` themselves first; ``translated`` is the net for
everything else.
"""

from __future__ import annotations

import errno
from collections.abc import Iterator
from contextlib import contextmanager

import requests
from google.api_core import exceptions as api
from google.auth import exceptions as auth

from planner.core.errors import AlreadyExists, NotFound, PvaError
from sidecar.errors import StoreFault

Precondition = api.PreconditionFailed
Missing = api.NotFound
NoMove = (
    api.NotFound,
    api.BadRequest,
    api.MethodNotAllowed,
    api.MethodNotImplemented,
)  # no move route, or no source


def fault(where: str, error: BaseException) -> PvaError:
    """The pva error for a failed GCS call about ``where``."""
    match error:
        case api.NotFound():
            return NotFound(where, f"{where!r} does not exist (GCS: {_short(error)})")
        case api.PreconditionFailed():
            return AlreadyExists(where, f"{where!r} exists or changed (GCS 412: {_short(error)})")
        case api.Forbidden() if "hold" in _reason(error).lower():
            return StoreFault(
                where,
                f"{where}: the bucket holds an object here (a legal hold): GCS refuses to delete or "
                f"replace it until the hold is released ({_reason(error)[:200]})",
                errno=errno.EPERM,
            )
        case api.Forbidden() | api.Unauthorized() | auth.GoogleAuthError():
            return StoreFault(where, f"{where}: access denied by GCS ({_short(error)})", errno=errno.EACCES)
        case api.TooManyRequests() | api.ServiceUnavailable() | api.RetryError():
            return StoreFault(where, f"{where}: GCS is overloaded ({_short(error)})", errno=errno.EAGAIN)
        case _:
            return StoreFault(where, f"{where}: GCS failed ({_short(error)})", errno=errno.EIO)


def changed(where: str) -> StoreFault:
    """A generation precondition on an object we read failed: someone changed it since."""
    return StoreFault(where, f"{where!r} changed in the bucket since pva read it; nothing was overwritten")


@contextmanager
def translated(where: str) -> Iterator[None]:
    """Turn any GCS, auth or transport exception into the pva error for ``where``."""
    try:
        yield
    except (api.GoogleAPIError, auth.GoogleAuthError, requests.RequestException) as error:
        raise fault(where, error) from error


def _reason(error: api.GoogleAPIError) -> str:
    """What GCS said, without the request's method and URL (the first of its ``errors``)."""
    for item in getattr(error, "errors", None) or []:
        message = item.get("message") if isinstance(item, dict) else None
        if isinstance(message, str):
            return message
    return str(error)


def _short(error: BaseException) -> str:
    text = getattr(error, "message", None) or str(error)
    return text.splitlines()[0][:200] if text else type(error).__name__
