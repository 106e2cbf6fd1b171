"""A fake RunLoop API (WSGI): the endpoints the runner uses, checked against the client's own types.

Every request body is checked against the ``runloop_api_client`` params
TypedDict of its endpoint (no unknown keys at any depth, required keys
present, types validated) and every answer against the client's response
model (no unknown keys; the tests' client also validates answers strictly).
A scenario says what the agent does: its exit status, whether it finishes,
and the plan file it leaves. Everything the runner did is recorded.
"""

from __future__ import annotations

import functools
import io
import itertools
import json
import re
import shlex
import tarfile
import types
import typing
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, NotRequired, Required

import httpx
from pydantic import BaseModel, TypeAdapter
from runloop_api_client import Runloop
from runloop_api_client.types import (
    devbox_create_params,
    devbox_download_file_params,
    devbox_execute_params,
    devbox_wait_for_command_params,
    object_create_params,
)
from runloop_api_client.types.devbox_async_execution_detail_view import DevboxAsyncExecutionDetailView
from runloop_api_client.types.devbox_view import DevboxView
from runloop_api_client.types.object_view import ObjectView
from typing_extensions import TypedDict, is_typeddict

BASE = "http://runloop.test"
CHUNK = 64 * 1024


class WaitForStatusBody(TypedDict, total=False):
    """The body ``lib.wait_for_status`` posts (it has no params type in the client)."""

    statuses: Required[list[str]]
    timeout_seconds: Required[float]


@dataclass
class Scenario:
    """What the agent does in the fake devbox."""

    exit_status: int = 0
    finishes: bool = True
    plan: bytes | None = b""
    stdout: str = "done\n"
    stderr: str = ""
    # Run in place of the agent command: given its environment and the devbox's mounts, it returns
    # the plan file's bytes (overriding ``plan``): an agent that really calls the sidecar.
    agent: Callable[[dict[str, str], list[dict[str, Any]]], bytes] | None = None


@dataclass
class Devbox:
    id: str
    status: str
    body: dict[str, Any]
    commands: list[str] = field(default_factory=list)


class BadRequest(Exception):
    """A request the real API would refuse or the client's types do not allow."""


class FakeRunLoop:
    """The fake API as a WSGI app; ``client()`` gives a real ``Runloop`` client talking to it."""

    def __init__(self, scenario: Scenario | None = None) -> None:
        self.scenario = scenario or Scenario()
        self.objects: dict[str, dict[str, Any]] = {}
        self.uploads: dict[str, bytes] = {}
        self.deleted: list[str] = []
        self.devboxes: dict[str, Devbox] = {}
        self.shutdowns: list[str] = []
        self.executions: dict[str, tuple[str, str]] = {}  # id -> (devbox, command)
        self.plan_chunks_served = 0
        self.upload_length: str | None = None
        self.errors: list[str] = []  # requests refused as malformed: a test expects none
        self.ran: dict[str, bytes] = {}  # execution id -> the plan the scenario's agent wrote
        self._ids = itertools.count(1)
        self._routes: list[tuple[str, re.Pattern[str], Callable[..., Iterable[bytes]]]] = [
            ("POST", re.compile(r"/v1/objects"), self._create_object),
            ("PUT", re.compile(r"/upload/(?P<oid>[\w-]+)"), self._upload),
            ("POST", re.compile(r"/v1/objects/(?P<oid>[\w-]+)/complete"), self._complete),
            ("POST", re.compile(r"/v1/objects/(?P<oid>[\w-]+)/delete"), self._delete_object),
            ("POST", re.compile(r"/v1/devboxes"), self._create_devbox),
            ("POST", re.compile(r"/v1/devboxes/(?P<did>[\w-]+)/wait_for_status"), self._devbox_status),
            ("POST", re.compile(r"/v1/devboxes/(?P<did>[\w-]+)/execute"), self._execute),
            (
                "POST",
                re.compile(r"/v1/devboxes/(?P<did>[\w-]+)/executions/(?P<eid>[\w-]+)/wait_for_status"),
                self._execution_status,
            ),
            ("POST", re.compile(r"/v1/devboxes/(?P<did>[\w-]+)/download_file"), self._download),
            ("POST", re.compile(r"/v1/devboxes/(?P<did>[\w-]+)/shutdown"), self._shutdown),
        ]

    def client(self) -> Runloop:
        """A real client, strict about answers, that never retries (so every call is seen once)."""
        http = httpx.Client(transport=httpx.WSGITransport(app=self), base_url=BASE)
        return Runloop(
            bearer_token="rl-test",  # noqa: S106  # a fake's token
            base_url=BASE,
            http_client=http,
            max_retries=0,
            _strict_response_validation=True,
        )

    # -- what the runner left behind --------------------------------------------------

    def snapshot_members(self) -> dict[str, tarfile.TarInfo]:
        """The members of the (one) uploaded snapshot archive."""
        (data,) = self.uploads.values()
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
            return {member.name: member for member in archive.getmembers()}

    def snapshot_file(self, name: str) -> bytes:
        (data,) = self.uploads.values()
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
            handle = archive.extractfile(name)
            assert handle is not None
            return handle.read()

    def all_shut_down(self) -> bool:
        return bool(self.devboxes) and all(box.status == "shutdown" for box in self.devboxes.values())

    # -- WSGI ---------------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        method, path = environ["REQUEST_METHOD"], environ["PATH_INFO"]
        self.upload_length = environ.get("CONTENT_LENGTH") or None
        raw = environ["wsgi.input"].read()
        if environ.get("HTTP_AUTHORIZATION") is None and not path.startswith("/upload/"):
            return _answer(start_response, 401, {"error": "no token"})
        for verb, pattern, handler in self._routes:
            match = pattern.fullmatch(path)
            if verb == method and match:
                try:
                    return handler(start_response, raw, **match.groupdict())
                except BadRequest as error:
                    self.errors.append(f"{method} {path}: {error}")
                    return _answer(start_response, 400, {"error": str(error)})
        self.errors.append(f"{method} {path}: no such endpoint in the fake")
        return _answer(start_response, 404, {"error": "not found"})

    def _new_id(self, prefix: str) -> str:
        return f"{prefix}_{next(self._ids)}"

    def _create_object(self, start: Callable[..., Any], raw: bytes) -> Iterable[bytes]:
        body = checked(raw, object_create_params.ObjectCreateParams)
        oid = self._new_id("obj")
        view = {
            "id": oid,
            "content_type": body["content_type"],
            "create_time_ms": 1,
            "name": body["name"],
            "state": "UPLOADING",
            "upload_url": f"{BASE}/upload/{oid}",
            "upload_headers": {"x-upload-signature": "sig"},
        }
        self.objects[oid] = view
        return _answer(start, 200, view, ObjectView)

    def _upload(self, start: Callable[..., Any], raw: bytes, oid: str) -> Iterable[bytes]:
        if self.objects.get(oid, {}).get("state") != "UPLOADING":
            raise BadRequest(f"object {oid} is not uploading")
        if self.upload_length is None:
            raise BadRequest("storage refuses an upload without Content-Length")
        self.uploads[oid] = raw
        return _answer(start, 200, {})

    def _complete(self, start: Callable[..., Any], raw: bytes, oid: str) -> Iterable[bytes]:
        if raw and json.loads(raw):
            raise BadRequest("complete takes no body")
        view = {k: v for k, v in self.objects[oid].items() if k not in {"upload_url", "upload_headers"}}
        view |= {"state": "READ_ONLY", "size_bytes": len(self.uploads.get(oid, b""))}
        self.objects[oid] = view
        return _answer(start, 200, view, ObjectView)

    def _delete_object(self, start: Callable[..., Any], raw: bytes, oid: str) -> Iterable[bytes]:
        del raw
        self.deleted.append(oid)
        return _answer(start, 200, {**self.objects[oid], "state": "DELETED"}, ObjectView)

    def _create_devbox(self, start: Callable[..., Any], raw: bytes) -> Iterable[bytes]:
        body = checked(raw, devbox_create_params.DevboxCreateParams)
        for mount in body.get("mounts") or []:
            if mount["type"] == "object_mount" and self.objects[mount["object_id"]]["state"] != "READ_ONLY":
                raise BadRequest("mounting an object whose upload is not complete")
        box = Devbox(self._new_id("dbx"), "provisioning", body)
        self.devboxes[box.id] = box
        return _answer(start, 200, self._devbox_view(box), DevboxView)

    def _devbox_view(self, box: Devbox) -> dict[str, Any]:
        return {
            "id": box.id,
            "status": box.status,
            "capabilities": [],
            "create_time_ms": 1,
            "launch_parameters": box.body.get("launch_parameters") or {},
            "metadata": box.body.get("metadata") or {},
            "state_transitions": [],
        }

    def _devbox_status(self, start: Callable[..., Any], raw: bytes, did: str) -> Iterable[bytes]:
        checked(raw, WaitForStatusBody)
        box = self.devboxes[did]
        if box.status == "provisioning":
            box.status = "running"
        return _answer(start, 200, self._devbox_view(box), DevboxView)

    def _execute(self, start: Callable[..., Any], raw: bytes, did: str) -> Iterable[bytes]:
        body = checked(raw, devbox_execute_params.DevboxExecuteParams)
        box = self.devboxes[did]
        if box.status != "running":
            raise BadRequest(f"devbox {did} is {box.status}")
        box.commands.append(body["command"])
        self.executions[body["command_id"]] = (did, body["command"])
        return _answer(start, 200, self._execution(body["command_id"]), DevboxAsyncExecutionDetailView)

    def _execution(self, eid: str) -> dict[str, Any]:
        did, command = self.executions[eid]
        view: dict[str, Any] = {"devbox_id": did, "execution_id": eid, "status": "completed"}
        if not command.startswith("runuser "):  # the setup, as root
            return view | {"exit_status": 0, "stdout": "", "stderr": ""}
        if not self.scenario.finishes:
            return view | {"status": "running"}
        scenario = self.scenario
        if scenario.agent is not None and eid not in self.ran:
            self.ran[eid] = scenario.agent(agent_env(command), self.devboxes[did].body.get("mounts", []))
        return view | {
            "exit_status": scenario.exit_status,
            "stdout": scenario.stdout,
            "stderr": scenario.stderr,
        }

    def _execution_status(self, start: Callable[..., Any], raw: bytes, did: str, eid: str) -> Iterable[bytes]:
        # devbox_id is in the params type but travels in the path
        checked(raw, devbox_wait_for_command_params.DevboxWaitForCommandParams, path={"devbox_id": did})
        assert self.executions[eid][0] == did
        return _answer(start, 200, self._execution(eid), DevboxAsyncExecutionDetailView)

    def _download(self, start: Callable[..., Any], raw: bytes, did: str) -> Iterable[bytes]:
        body = checked(raw, devbox_download_file_params.DevboxDownloadFileParams)
        if self.devboxes[did].status != "running":
            raise BadRequest(f"devbox {did} is not running")
        plan = next(iter(self.ran.values())) if self.ran else self.scenario.plan
        if plan is None:
            return _answer(start, 404, {"error": f"{body['path']}: no such file"})
        start("200 OK", [("Content-Type", "application/octet-stream")])
        return self._chunks(plan)

    def _chunks(self, data: bytes) -> Iterator[bytes]:
        for offset in range(0, len(data), CHUNK):
            self.plan_chunks_served += 1
            yield data[offset : offset + CHUNK]

    def _shutdown(self, start: Callable[..., Any], raw: bytes, did: str) -> Iterable[bytes]:
        del raw
        box = self.devboxes[did]
        box.status = "shutdown"
        self.shutdowns.append(did)
        return _answer(start, 200, self._devbox_view(box), DevboxView)


def agent_env(command: str) -> dict[str, str]:
    """The environment the runner's ``runuser ... -- env A=B ... sh -c ...`` command gives the agent."""
    words = shlex.split(command)
    start = words.index("env") + 1
    assignments = itertools.takewhile(lambda word: word != "sh", words[start:])
    return dict(word.split("=", 1) for word in assignments)


def _answer(
    start: Callable[..., Any], status: int, body: dict[str, Any], model: type[BaseModel] | None = None
) -> list[bytes]:
    if model is not None:
        unknown = set(body) - set(model.model_fields)
        assert not unknown, f"{model.__name__} has no fields {unknown}"
        model.model_validate(body)
    reason = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found"}[status]
    start(f"{status} {reason}", [("Content-Type", "application/json")])
    return [json.dumps(body).encode()]


# -- strict request checking --------------------------------------------------------------


def checked(raw: bytes, kind: Any, path: dict[str, str] | None = None) -> dict[str, Any]:
    """The JSON body (with the ``path`` parameters), refused unless it is exactly an instance of ``kind``."""
    try:
        body = json.loads(raw or b"{}")
    except ValueError as error:
        raise BadRequest(f"not JSON: {error}") from None
    if set(body) & set(path or {}):
        raise BadRequest(f"path parameters {sorted(path or {})} sent in the body")
    body |= path or {}
    _keys(body, kind, "")
    try:
        _adapter(kind).validate_python(body)
    except ValueError as error:
        raise BadRequest(str(error)) from None
    return typing.cast("dict[str, Any]", body)


@functools.cache
def _adapter(kind: Any) -> TypeAdapter[Any]:
    """One validator a request type, built once: building it costs more than the request it checks."""
    return TypeAdapter(kind)


def _keys(value: Any, annotation: Any, where: str) -> None:
    """No unknown keys at any depth and every required key, following TypedDicts through unions and lists."""
    origin = typing.get_origin(annotation)
    if origin in {Required, NotRequired, typing.Annotated}:
        _keys(value, typing.get_args(annotation)[0], where)
    elif origin in {typing.Union, types.UnionType}:
        _union(value, typing.get_args(annotation), where)
    elif is_typeddict(annotation) and isinstance(value, dict):
        hints = typing.get_type_hints(annotation, include_extras=True)
        unknown = set(value) - set(hints)
        if unknown:
            raise BadRequest(f"{where or '/'}: unknown keys {sorted(unknown)} for {annotation.__name__}")
        missing = {
            name for name, hint in hints.items() if typing.get_origin(hint) is Required and name not in value
        }
        if missing:
            raise BadRequest(f"{where or '/'}: missing {sorted(missing)} for {annotation.__name__}")
        for name, item in value.items():
            _keys(item, hints[name], f"{where}/{name}")
    elif origin is not None and isinstance(value, list) and typing.get_args(annotation):
        for index, item in enumerate(value):
            _keys(item, typing.get_args(annotation)[0], f"{where}/{index}")


def _union(value: Any, members: tuple[Any, ...], where: str) -> None:
    if value is None:
        return
    failures = []
    for member in members:
        try:
            _keys(value, member, where)
        except BadRequest as error:
            failures.append(str(error))
        else:
            return
    raise BadRequest(" or ".join(failures))
