"""``PvaClient``: the sidecar's HTTP API from Python, for agents and for the ``pva`` commands that go remote.

The transport is swappable (``http=``: any ``httpx.Client``, fastapi's
``TestClient`` included), so tests talk to the real app in process. httpx's
errors never escape: they become ``ClientError`` and its kinds
(``planner.client.errors`` draws the tree; they are importable from here).
"""

from __future__ import annotations

import builtins
import hashlib
import json
import math
import os
import re
import ssl
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, Self, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ValidationError

from planner.client.errors import (
    ClientError,
    InvalidArgument,
    SidecarUnreachable,
    WaitTimeout,
    answer_error,
)
from planner.client.models import HoldOut, PlanStatus, PlanSummary
from planner.core.builder import PlanBuilder
from planner.core.errors import PlanSyntaxError
from planner.core.holds import Hold, holds_from_json
from planner.core.parse import plan_from_document
from planner.core.plan import Plan
from planner.core.report import Report
from planner.core.states import PlanState

__all__ = [
    "ClientError",
    "InvalidArgument",
    "PvaClient",
    "SidecarUnreachable",
    "WaitTimeout",
    "plan_of",
]

PLAN_ID = re.compile(r"[0-9a-f]{8,64}")
MIN_POLL, MAX_POLL = 0.01, 10.0  # seconds: wait() backs off from ``poll`` up to MAX_POLL

PlanInput = Plan | Mapping[str, Any]
States = str | Sequence[str] | None  # PlanState is a str
M = TypeVar("M", bound=BaseModel)


class PvaClient:
    """A session with one sidecar, as one token. Close it, or use it as a context manager."""

    def __init__(
        self, url: str, token: str, *, http: httpx.Client | None = None, timeout: float = 60.0
    ) -> None:
        if not url.startswith(("http://", "https://")):
            raise InvalidArgument(f"the sidecar URL must start with http:// or https://, not {url!r}")
        if not token:
            raise InvalidArgument("an API token is needed (pva token create makes one)")
        self.url = url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        self._owned = http is None  # a transport the caller passed is theirs to close
        self._http = httpx.Client(timeout=timeout, verify=_tls(self.url)) if http is None else http

    @classmethod
    def from_env(cls, *, http: httpx.Client | None = None, timeout: float = 60.0) -> PvaClient:
        """A client for ``PVA_URL`` as ``PVA_TOKEN``."""
        url, token = os.environ.get("PVA_URL"), os.environ.get("PVA_TOKEN")
        if not url:
            raise InvalidArgument("PVA_URL is not set: export PVA_URL=http://HOST:PORT (the sidecar)")
        if not token:
            raise InvalidArgument("PVA_TOKEN is not set: export PVA_TOKEN=pva_... (an API token)")
        return cls(url, token, http=http, timeout=timeout)

    def close(self) -> None:
        if self._owned:
            self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # -- plans --------------------------------------------------------------------

    def verify(self, plan: PlanInput) -> Report:
        """A dry run against the live store; the sidecar stores nothing."""
        return _model(Report, self._call("POST", "/v1/plans/verify", content=_plan_bytes(plan)))

    def submit(self, plan: PlanInput, *, supersedes: str | None = None) -> PlanStatus:
        """Submit a plan (again: the same digest returns the plan as it stands).

        ``supersedes``: the id of an earlier version of yours (one with changes
        requested, say), which becomes ``superseded`` by this one.
        """
        params = None if supersedes is None else {"supersedes": supersedes}
        return _model(PlanStatus, self._call("POST", "/v1/plans", content=_plan_bytes(plan), params=params))

    def get(self, plan_id: str) -> PlanStatus:
        """A plan with its document and latest report, by digest or its first 8+ hex digits."""
        return _model(PlanStatus, self._call("GET", _plan_path(plan_id)))

    def list(
        self,
        *,
        state: States = None,
        author: str | None = None,
        path: str | None = None,
        limit: int = 100,
        all_pages: bool = False,
    ) -> builtins.list[PlanSummary]:
        """Plans newest first: one page of at most ``limit``, or every page (of ``limit`` each)."""
        params: dict[str, Any] = {"state": _states(state), "author": author, "path": path, "limit": limit}
        found: builtins.list[PlanSummary] = []
        while True:
            page = self._json("GET", "/v1/plans", params=params)
            found.extend(_model(PlanSummary, item) for item in page.get("plans", []))
            if not all_pages or page.get("next_before") is None:
                return found
            params["before"], params["before_id"] = page["next_before"], page.get("next_before_id")

    def approve(self, plan_id: str, comment: str, *, without: Iterable[int] = ()) -> PlanStatus:
        """Approve (never the plan's author); with enough approvals it is approved, and may apply.

        ``without`` (0-based op indexes): approve only the rest. The answer is then
        the part, a new plan derived from this one (which becomes superseded).
        """
        left_out = sorted(set(without))
        if not left_out:
            return self._decide(plan_id, "approve", comment)
        body = json.dumps({"comment": comment, "without": left_out}).encode("utf-8")
        return _model(PlanStatus, self._call("POST", _plan_path(plan_id, "approve"), content=body))

    def override(self, plan_id: str, reason: str) -> PlanStatus:
        """An admin overrides a 'require_override' rule's deny of the plan: the policy decides it anew."""
        return self._decide(plan_id, "override", reason)

    def reject(self, plan_id: str, comment: str) -> PlanStatus:
        """Reject the plan, for good."""
        return self._decide(plan_id, "reject", comment)

    def request_changes(self, plan_id: str, comment: str, ops: Mapping[int, str] | None = None) -> PlanStatus:
        """Ask the author for changes: an overall comment, and comments by op (0-based op index)."""
        notes = [{"op": op, "comment": text} for op, text in sorted((ops or {}).items())]
        body = json.dumps({"comment": comment, "ops": notes}).encode("utf-8")
        return _model(PlanStatus, self._call("POST", _plan_path(plan_id, "request-changes"), content=body))

    def apply(self, plan_id: str) -> PlanStatus:
        """Apply an approved plan; an applied one comes back as it is (never twice)."""
        return _model(PlanStatus, self._call("POST", _plan_path(plan_id, "apply")))

    def revert(self, plan_id: str) -> PlanStatus:
        """Submit the inverse of an applied plan; returns the inverse plan, to approve like any."""
        return _model(PlanStatus, self._call("POST", _plan_path(plan_id, "revert")))

    def wait(
        self,
        plan_id: str,
        *,
        timeout: float,
        poll: float = 1.0,
        on_change: Callable[[PlanStatus], None] | None = None,
    ) -> PlanStatus:
        """The plan once it is no longer pending, approved or applying; WaitTimeout after ``timeout`` s.

        ``on_change`` is called with the plan each time its state or its apply's progress is seen to
        change (the first look included).
        """
        deadline = time.monotonic() + timeout
        delay = max(poll, MIN_POLL)
        seen: tuple[object, ...] | None = None
        while True:
            status = self.get(plan_id)
            remaining = deadline - time.monotonic()
            if on_change is not None and (status.state, status.progress) != seen:
                on_change(status)
            seen = (status.state, status.progress)
            if not status.undecided:
                return status
            if remaining <= 0:
                raise WaitTimeout(f"plan {plan_id} is still {status.state} after {timeout:g}s", status)
            time.sleep(min(delay, remaining))
            delay = min(delay * 1.5, max(poll, MAX_POLL))

    # -- legal holds --------------------------------------------------------------

    def holds(self, *, released: bool = False) -> builtins.list[HoldOut]:
        """The holds the token may see (in force; with ``released``, released ones too), oldest first."""
        body = self._json("GET", "/v1/holds", params={"released": "true" if released else None})
        return [_model(HoldOut, item) for item in body.get("holds", [])]

    def held(self) -> tuple[Hold, ...]:
        """The held paths in the token's scope, as ``verify(..., holds=...)`` takes them."""
        return holds_from_json(self._json("GET", "/v1/holds"))

    def place_hold(self, paths: Sequence[str], *, matter: str, reason: str) -> HoldOut:
        """Place a legal hold on ``paths`` (counsel, admin)."""
        body = json.dumps({"paths": list(paths), "matter": matter, "reason": reason}).encode("utf-8")
        return _model(HoldOut, self._call("POST", "/v1/holds", content=body))

    def release_hold(self, hold_id: str, *, reason: str) -> HoldOut:
        """Release a legal hold (counsel, admin, seeing all of it)."""
        if not re.fullmatch(r"hold_[0-9a-f]{12}", hold_id):
            raise InvalidArgument(f"a hold's id is 'hold_' and 12 hex digits, not {hold_id!r}")
        body = json.dumps({"reason": reason}).encode("utf-8")
        return _model(HoldOut, self._call("POST", f"/v1/holds/{hold_id}/release", content=body))

    # -- records ------------------------------------------------------------------

    def history(self, path: str) -> dict[str, Any]:
        """A document's chain of custody (history/v1), following moves."""
        return self._json("GET", "/v1/history", params={"path": path})

    def audit(
        self,
        *,
        path: str | None = None,
        plan: str | None = None,
        actor: str | None = None,
        since: datetime | str | None = None,
        until: datetime | str | None = None,
        after: int = 0,
        limit: int = 100,
        all_pages: bool = False,
    ) -> builtins.list[dict[str, Any]]:
        """Audit events in chain order after seq ``after``: one page, or every page."""
        params: dict[str, Any] = {
            "path": path,
            "plan": plan,
            "actor": actor,
            "since": _time(since),
            "until": _time(until),
            "after": after,
            "limit": limit,
        }
        events: builtins.list[dict[str, Any]] = []
        while True:
            page = self._json("GET", "/v1/audit", params=params)
            events.extend(page.get("events", []))
            if not all_pages or page.get("next_after") is None:
                return events
            params["after"] = page["next_after"]

    # -- the store ----------------------------------------------------------------

    def list_folder(
        self, path: str = "", *, depth: int = 1, all_pages: bool = True, limit: int = 500
    ) -> builtins.list[dict[str, Any]]:
        """The entries below a folder (tree/v1's), ``depth`` levels down: every page, or the first."""
        params: dict[str, Any] = {"path": path, "depth": depth, "limit": limit}
        entries: builtins.list[dict[str, Any]] = []
        while True:
            page = self._json("GET", "/v1/tree", params=params)
            entries.extend(page.get("entries", []))
            if not all_pages or page.get("next_after") is None:
                return entries
            params["after"] = page["next_after"]

    def read(self, path: str, *, start: int | None = None, stop: int | None = None) -> bytes:
        """A file's bytes (``[start, stop)`` when given: a range request)."""
        return b"".join(self.read_chunks(path, start=start, stop=stop))

    def read_chunks(self, path: str, *, start: int | None = None, stop: int | None = None) -> Iterator[bytes]:
        """A file's bytes as they stream, in constant memory."""
        headers = dict(self._headers)
        if start is not None or stop is not None:
            headers["Range"] = f"bytes={start or 0}-" + ("" if stop is None else str(stop - 1))
        return self._bytes(f"{self.url}/v1/files/{quote(path, safe='/')}", headers)

    def write_content(self, plan_id: str, index: int) -> Iterator[bytes]:
        """All that write op ``index`` of a plan puts in the store, as it streams.

        The sidecar checks the bytes against the sha256 the plan names as it
        sends them and withholds the end of content that does not match: a
        cut-off answer raises SidecarUnreachable.
        """
        return self._bytes(f"{self.url}/v1/plans/{quote(plan_id, safe='')}/writes/{index}", self._headers)

    def _bytes(self, url: str, headers: dict[str, str]) -> Iterator[bytes]:
        response = self._send(self._http.build_request("GET", url, headers=headers), stream=True)
        try:
            yield from response.iter_bytes()
        except httpx.TransportError as error:
            raise self._unreachable(error) from None
        finally:
            response.close()

    def manifest(self, path: str = "", *, hashed: bool = False) -> Iterator[str]:
        """A folder's manifest/v1 lines as they stream; files hashed only with ``hashed``."""
        params = {"path": path, "hash": "true" if hashed else "false"}
        return self._lines("/v1/manifest", params)

    def upload(self, data: bytes) -> str:
        """Upload ``data`` as a blob; return its sha256, to name in a write as ``content_ref``."""
        sha256 = hashlib.sha256(data).hexdigest()
        headers = {**self._headers, "Content-Type": "application/octet-stream"}
        request = self._http.build_request(
            "POST", f"{self.url}/v1/blobs", params={"sha256": sha256}, content=data, headers=headers
        )
        self._send(request, stream=False)
        return sha256

    def sandbox_token(self, scopes: Sequence[str], *, ttl: float) -> dict[str, Any]:
        """A read-only token for a sandbox, inside this token's scope, living ``ttl`` seconds at most.

        The answer holds ``id``, ``secret`` (shown only here), ``scopes`` and ``expires``.
        """
        body = json.dumps({"scopes": list(scopes), "ttl_seconds": max(1, math.ceil(ttl))}).encode()
        return self._json("POST", "/v1/tokens/sandbox", content=body)

    def revoke_token(self, token_id: str) -> None:
        """Revoke a token this token made (a sandbox's, when its run ends)."""
        self._call("POST", f"/v1/tokens/{quote(token_id, safe='')}/revoke")

    def builder(self, title: str, *, scope: Sequence[str]) -> PlanBuilder:
        """A ``PlanBuilder`` that uploads large write content through this client."""
        return PlanBuilder(title, scope=scope, upload=self.upload)

    def snapshot(self, prefix: str = "") -> Iterator[str]:
        """The live store's manifest/v1 below ``prefix``, lines as they stream (errors show on first next)."""
        return self._lines("/v1/snapshot", {"prefix": prefix})

    def manifest_text(self, path: str = "", *, hashed: bool = False) -> str:
        """A folder's whole manifest as one text (what ``pva runloop`` hands the devbox).

        ClientError (code ``stopped``) if the sidecar had to stop it midway.
        """
        params = {"path": path, "hash": "true" if hashed else "false"}
        request = self._http.build_request(
            "GET", f"{self.url}/v1/manifest", params=params, headers=self._headers
        )
        text = self._send(request, stream=False).text
        _check_not_stopped(text.rstrip("\n").rpartition("\n")[2])
        return text

    def _lines(self, path: str, params: dict[str, Any]) -> Iterator[str]:
        request = self._http.build_request("GET", f"{self.url}{path}", params=params, headers=self._headers)
        response = self._send(request, stream=True)
        try:
            for line in response.iter_lines():
                if line:
                    _check_not_stopped(line)
                    yield line
        except httpx.TransportError as error:
            raise self._unreachable(error) from None
        finally:
            response.close()

    # -- the wire -----------------------------------------------------------------

    def _decide(self, plan_id: str, action: str, comment: str) -> PlanStatus:
        body = json.dumps({"comment": comment}).encode("utf-8")
        return _model(PlanStatus, self._call("POST", _plan_path(plan_id, action), content=body))

    def _json(
        self, method: str, path: str, *, params: dict[str, Any] | None = None, content: bytes | None = None
    ) -> dict[str, Any]:
        body = self._call(method, path, params=params, content=content)
        if not isinstance(body, dict):
            raise ClientError(f"{self.url}{path} answered with JSON that is not an object", code="bad_answer")
        return body

    def _call(
        self, method: str, path: str, *, params: dict[str, Any] | None = None, content: bytes | None = None
    ) -> Any:
        headers = self._headers if content is None else {**self._headers, "Content-Type": "application/json"}
        clean = {key: value for key, value in (params or {}).items() if value is not None}
        request = self._http.build_request(
            method, f"{self.url}{path}", params=clean, content=content, headers=headers
        )
        response = self._send(request, stream=False)
        try:
            return response.json()
        except ValueError:
            raise ClientError(
                f"{self.url}{path} answered {response.status_code} without JSON: is it a pva sidecar?",
                code="bad_answer",
            ) from None

    def _send(self, request: httpx.Request, *, stream: bool) -> httpx.Response:
        try:
            response = self._http.send(request, stream=stream)
        except httpx.TransportError as error:
            raise self._unreachable(error) from None
        if response.is_error:
            response.read()
            response.close()
            raise answer_error(response)
        return response

    def _unreachable(self, error: httpx.TransportError) -> SidecarUnreachable:
        reason = str(error) or type(error).__name__
        return SidecarUnreachable(f"cannot reach the sidecar at {self.url}: {reason}")


def _check_not_stopped(line: str) -> None:
    """Raise if ``line`` is the error line a streamed listing ends with when the sidecar stopped it.

    Every line of a manifest is an object starting with "pva" (the header) or "path".
    """
    if line.startswith('{"error"'):
        try:
            message = str(json.loads(line)["error"]["message"])
        except (ValueError, KeyError, TypeError):
            message = line
        raise ClientError(f"the sidecar stopped the listing midway: {message}", code="stopped")


def _tls(url: str) -> ssl.SSLContext | bool:
    """How to check TLS: the system's trust store for https; for http, a context that trusts nothing.

    The client only ever sends to its own URL, so an http client makes no TLS
    connection; loading the trust store for it took 20 to 40 ms of every
    client's start. Should one ever be made, it fails rather than go unchecked.
    """
    if url.startswith("https://"):
        return True
    return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # verifies certificates, and trusts none


def plan_of(status: PlanStatus) -> Plan | None:
    """The plan document of ``status`` (from ``get``) as a ``Plan``, checked against its id; else None.

    The sidecar's document may carry nulls and default fields (a model dump
    rather than plan/v1): they are dropped, and the digest proves the result is
    the plan that was submitted.
    """
    if status.plan is None:
        return None
    try:
        plan = plan_from_document(_undumped(status.plan))
    except PlanSyntaxError as error:
        raise ClientError(
            f"the sidecar's plan {status.id[:12]} is not a plan: {error}", code="bad_answer"
        ) from None
    if plan.digest() != status.id:
        raise ClientError(f"the sidecar's plan document does not match its id {status.id}", code="bad_answer")
    return plan


def _undumped(value: Any) -> Any:
    if isinstance(value, dict):
        kept = {key: _undumped(item) for key, item in value.items() if item is not None}
        if "content" not in kept and kept.get("encoding") == "utf-8":
            del kept["encoding"]  # the default, dumped; plan/v1 allows it only beside inline content
        return kept
    if isinstance(value, list):
        return [_undumped(item) for item in value]
    return value


def _plan_bytes(plan: PlanInput) -> bytes:
    if isinstance(plan, Plan):
        return plan.canonical_json()
    return json.dumps(dict(plan), ensure_ascii=False).encode("utf-8")


def _plan_path(plan_id: str, action: str | None = None) -> str:
    if not PLAN_ID.fullmatch(plan_id):
        raise InvalidArgument(
            f"{plan_id!r} is not a plan id: give the digest or its first 8+ hex digits (lowercase)",
            code="invalid_id",
        )
    return f"/v1/plans/{plan_id}" + (f"/{action}" if action else "")


def _states(state: States) -> list[str] | None:
    if state is None:
        return None
    chosen = [state] if isinstance(state, str) else state
    return [str(PlanState(item)) for item in chosen]


def _time(moment: datetime | str | None) -> str | None:
    return moment.isoformat() if isinstance(moment, datetime) else moment


def _model(kind: type[M], body: Any) -> M:
    try:
        return kind.model_validate(body)
    except ValidationError as error:
        raise ClientError(
            f"the sidecar's answer is not a {kind.__name__}: {error.errors()[0]['msg']}", code="bad_answer"
        ) from None
