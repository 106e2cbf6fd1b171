"""The client's errors: what the sidecar refused, or why it could not be asked.

httpx's exceptions never leave the client; these do, each saying the ``pva``
command's exit code::

    PvaError
    └── ClientError            the sidecar refused the call (.status, .code, .message, .problems)
        ├── InvalidArgument    refused before sending: no URL or token, a malformed plan id (exit 2)
        ├── SidecarUnreachable no answer from the URL: refused, DNS, TLS, timed out (exit 3)
        └── WaitTimeout        wait() gave up while the plan was still undecided (exit 1)

A ``ClientError`` from an answer exits 2 for a 4xx (fix the call) and 3 for a
5xx or an answer that is not the API's (an operator must look).
"""

from __future__ import annotations

import httpx

from planner.client.models import PlanStatus
from planner.core.errors import PvaError, SchemaProblem


class ClientError(PvaError):
    """The sidecar answered with an error, or could not be asked; ``code`` is the API's stable code."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str = "client_error",
        problems: tuple[SchemaProblem, ...] = (),
    ) -> None:
        self.status = status
        self.code = code
        self.message = message
        self.problems = problems
        self.exit_code = 2 if status is not None and status < 500 else 3
        super().__init__(message if status is None else f"{message} (HTTP {status} {code})")


class InvalidArgument(ClientError):
    """The call was refused before anything was sent; the message says what to fix."""

    def __init__(self, message: str, *, code: str = "invalid_argument") -> None:
        super().__init__(message, code=code)
        self.exit_code = 2


class SidecarUnreachable(ClientError):
    """No answer from the sidecar at the URL (connection refused, DNS, TLS, timed out)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, code="unreachable")


class WaitTimeout(ClientError):
    """``wait`` gave up; ``last`` is the plan as last seen, still pending, approved or applying.

    Not a ``TimeoutError``: that is an ``OSError``, which the CLI reads as a file problem.
    """

    def __init__(self, message: str, last: PlanStatus) -> None:
        super().__init__(message, code="wait_timeout")
        self.last = last
        self.exit_code = 1


def answer_error(response: httpx.Response) -> ClientError:
    """The API's ``{"error": {code, message, problems}}``, or what a proxy said instead."""
    status = response.status_code
    try:
        error = response.json().get("error")
    except (ValueError, AttributeError):
        error = None
    if not isinstance(error, dict) or not isinstance(error.get("code"), str):
        reason = f"{response.url} answered {status} {response.reason_phrase}"
        return ClientError(reason, status=status, code="http_error")
    problems = tuple(
        SchemaProblem(str(item.get("location", "")), str(item.get("message", "")))
        for item in error.get("problems") or []
        if isinstance(item, dict)
    )
    return ClientError(str(error.get("message", "")), status=status, code=error["code"], problems=problems)
