"""Run an agent in a RunLoop devbox over a read-only view of a subtree, and submit the plan it writes.

Two views. ``lazy`` (``run_lazy``, the CLI's default): no document leaves the
store up front. The devbox gets the subtree's manifest (a listing, nothing
hashed) and a read-only agent token limited to the subtree, made for the run
by the caller's token (``POST /v1/tokens/sandbox``) and expiring with it
(revoked when the run ends); the agent reads what it needs through the
sidecar, each whole-file read recorded in the audit. ``copy``
(``run_agent``): snapshot the subtree (its files and a manifest) into a tar.gz,
upload it as a storage object, create a devbox with it mounted, make the copy
read-only (root owns it, ``chmod a-w``) and run the agent command as a
non-root user with the manifest's path and the sidecar's URL in its
environment, then fetch the plan file it wrote, streamed and capped. The
devbox is shut down and the object deleted whatever happens. ``run_and_submit``
then submits the plan as the agent's token.

RunLoop's errors never escape: they become ``RunError``s. The client's
polling stops after 120 attempts of 1 s by default; every wait here sets its
own limits from ``RunSpec`` instead, so a long agent run is not cut short.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import os
import shlex
import stat
import tarfile
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Literal

import httpx
from runloop_api_client import APIError, APIStatusError, Runloop, omit
from runloop_api_client.lib.polling import PollingConfig, PollingTimeout
from runloop_api_client.sdk import StorageObject

from planner.agent.snapshot import scan
from planner.client.http_client import PvaClient
from planner.client.models import PlanStatus
from planner.core.entry import Entry
from planner.core.errors import PvaError
from planner.core.manifest import manifest_lines
from planner.core.parse import parse_plan
from planner.core.paths import path_problem
from planner.core.plan import Plan

SNAPSHOT_DIR = "/pva/snapshot"  # the tar.gz is extracted here: manifest.jsonl and store/
AGENT_DIR = "/pva/agent"  # files of the agent (RunSpec.files), the command's working folder
OUT_DIR = "/pva/out"  # the only folder the agent may write
PLAN_PATH = f"{OUT_DIR}/plan.json"
AGENT_USER = "pva-agent"
MAX_PLAN_BYTES = 16 * 1024 * 1024
# Characters of manifest the lazy view sends inside the devbox's create request; a longer one (a
# subtree of some 30,000 files and more) goes as a storage object, as the copy does: RunLoop
# documents no limit on a request's size, and tens of MB is what API gateways start refusing.
MANIFEST_INLINE = 4 * 1024 * 1024
MAX_KEEP_ALIVE = 172_800  # RunLoop's ceiling: 48 hours
CHUNK = 1024 * 1024
View = Literal["lazy", "copy"]


class RunError(PvaError):
    """The agent run failed; the devbox was shut down. ``devbox_id`` names it, when one was made."""

    def __init__(self, message: str, *, devbox_id: str | None = None) -> None:
        self.devbox_id = devbox_id
        super().__init__(message)


class AgentFailed(RunError):
    """The agent command exited non-zero; ``exit_status``, ``stdout`` and ``stderr`` say how."""

    def __init__(
        self, message: str, *, devbox_id: str, exit_status: int | None, stdout: str, stderr: str
    ) -> None:
        super().__init__(message, devbox_id=devbox_id)
        self.exit_status = exit_status
        self.stdout = stdout
        self.stderr = stderr


class RunTimeout(RunError):
    """The devbox did not start, or the agent did not finish, in the time allowed."""


class PlanTooLarge(RunError):
    """The plan file is larger than the cap; reading stopped at the cap."""


class NoPlan(RunError):
    """The agent finished but left no plan file at ``PLAN_PATH``."""


class RunLoopFailure(RunError):
    """The RunLoop API refused a call or could not be reached."""


@dataclass(frozen=True)
class RunSpec:
    """What to run, over what, and within which limits (seconds, bytes)."""

    store: Path  # the store's folder on this machine (read-only here too)
    subtree: str  # what the agent sees, e.g. "matters/acme"
    command: str  # run by a shell in AGENT_DIR, e.g. "python agent.py"
    sidecar_url: str  # given to the agent as PVA_URL
    files: Mapping[str, str] = field(default_factory=dict)  # name in AGENT_DIR -> text (the agent's code)
    env: Mapping[str, str] = field(default_factory=dict)  # more variables for the agent
    blueprint: str | None = None  # a RunLoop blueprint name (an image with the agent's dependencies)
    timeout: float = 3600.0  # the agent command
    boot_timeout: float = 600.0  # the devbox reaching 'running'
    poll: float = 1.0
    max_plan_bytes: int = MAX_PLAN_BYTES
    view: View = "copy"  # lazy: the manifest and a read-only token; copy: every byte of the subtree
    manifest_inline: int = MANIFEST_INLINE  # the lazy view's manifest, inline up to this; else an object

    @property
    def lifetime(self) -> float:
        """Seconds the run may last: the lazy view's token expires after them."""
        return self.boot_timeout + self.timeout + 300

    def polling(self, seconds: float) -> PollingConfig:
        """Polling that stops after ``seconds``, not after the client's default 120 attempts."""
        attempts = max(1, math.ceil(seconds / self.poll)) + 1
        return PollingConfig(interval_seconds=self.poll, max_attempts=attempts, timeout_seconds=seconds)


@dataclass(frozen=True)
class RunResult:
    """A finished run: the plan file's bytes and what the agent printed."""

    devbox_id: str
    plan_bytes: bytes
    stdout: str
    stderr: str

    def plan(self) -> Plan:
        """The plan, parsed as strictly as any untrusted input (PlanSyntaxError if malformed)."""
        return parse_plan(self.plan_bytes)


# -- the snapshot ---------------------------------------------------------------------


def write_snapshot(store: Path, subtree: str, target: IO[bytes]) -> int:
    """Write a tar.gz of ``subtree`` (``store/<path>`` files, ``manifest.jsonl``) to ``target``; return files.

    Each file is hashed from the very bytes put in the archive, so the manifest
    describes exactly the copy the agent gets. Symlinks and special files are
    left out (as ``pva snapshot`` does); the reserved ``.pva/`` never appears.
    """
    problem = path_problem(subtree)
    if problem is not None:
        raise RunError(f"--subtree {subtree!r}: {problem}")
    base = store / subtree
    if not base.is_dir():
        raise RunError(f"{base} is not a folder of the store")
    entries = [Entry(subtree, "dir")]
    with tarfile.open(fileobj=target, mode="w:gz") as archive:
        segments = f"store/{subtree}".split("/")
        for depth in range(1, len(segments) + 1):  # the folders above the subtree, read-only too
            archive.addfile(_dir_info("/".join(segments[:depth])))
        for found in scan(base, hashed=False):
            path = f"{subtree}/{found.path}"
            if found.is_dir:
                archive.addfile(_dir_info(f"store/{path}"))
                entries.append(Entry(path, "dir"))
            else:
                entries.append(_add_file(archive, store / path, path))
        _add_manifest(archive, "".join(f"{line}\n" for line in manifest_lines(entries, subtree, hashed=True)))
    return sum(1 for entry in entries if not entry.is_dir)


def _add_manifest(archive: tarfile.TarFile, text: str) -> None:
    """``manifest.jsonl``, read-only, at the archive's top (the devbox's SNAPSHOT_DIR)."""
    data = text.encode()
    info = tarfile.TarInfo("manifest.jsonl")
    info.size = len(data)
    info.mode = 0o444
    archive.addfile(info, _BytesReader(data))


def _dir_info(name: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE
    info.mode = 0o555
    return info


def _add_file(archive: tarfile.TarFile, local: Path, path: str) -> Entry:
    fd = os.open(local, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    with os.fdopen(fd, "rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            raise RunError(f"{path} is no longer a regular file")
        info = tarfile.TarInfo(f"store/{path}")
        info.size = size
        info.mode = 0o444
        hashing = _Hashing(handle)
        archive.addfile(info, hashing)  # a readable of bytes is all tarfile needs
    return Entry(path, "file", size, hashing.sha256.hexdigest())


class _Hashing:
    """A reader that hashes what passes through it."""

    def __init__(self, inner: IO[bytes]) -> None:
        self.inner = inner
        self.sha256 = hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        data = self.inner.read(size)
        self.sha256.update(data)
        return data


class _BytesReader:
    def __init__(self, data: bytes) -> None:
        self.data, self.offset = data, 0

    def read(self, size: int = -1) -> bytes:
        end = len(self.data) if size < 0 else self.offset + size
        chunk, self.offset = self.data[self.offset : end], min(end, len(self.data))
        return chunk


# -- the run --------------------------------------------------------------------------


def setup_command(has_files: bool) -> str:
    """As root: make the agent's user, hand the snapshot (and the agent's files) to root, read-only."""
    readonly = f"{SNAPSHOT_DIR} {AGENT_DIR}" if has_files else SNAPSHOT_DIR
    steps = [
        "set -eu",
        f"id -u {AGENT_USER} >/dev/null 2>&1 || useradd --create-home --shell /bin/sh {AGENT_USER}",
        f"chown -R root:root {readonly}",
        f"chmod -R a-w,a+rX {readonly}",
        f"mkdir -p {AGENT_DIR} {OUT_DIR}",
        f"chown {AGENT_USER} {OUT_DIR}",
        f"chmod 700 {OUT_DIR}",
    ]
    return "; ".join(steps)


def agent_command(spec: RunSpec, token: str | None = None) -> str:
    """The agent's command, as the non-root user, with its environment spelled out.

    ``token``: the lazy view's read-only token (``PVA_TOKEN``); the copy view has the copy instead.
    """
    view = {"PVA_STORE_COPY": f"{SNAPSHOT_DIR}/store"} if token is None else {"PVA_TOKEN": token}
    env = {
        "PVA_URL": spec.sidecar_url,
        "PVA_MANIFEST": f"{SNAPSHOT_DIR}/manifest.jsonl",
        **view,
        "PVA_VIEW": spec.view,
        "PVA_SUBTREE": spec.subtree,
        "PVA_PLAN": PLAN_PATH,
        **spec.env,
    }
    assignments = " ".join(shlex.quote(f"{name}={value}") for name, value in env.items())
    inner = f"cd {AGENT_DIR} && {spec.command}"
    return f"runuser -u {AGENT_USER} -- env {assignments} sh -c {shlex.quote(inner)}"


def run_agent(runloop: Runloop, spec: RunSpec, *, on_step: Callable[[str], None] | None = None) -> RunResult:
    """Run the agent in a fresh devbox; return the plan file it wrote. The devbox never outlives the call."""
    say = on_step or (lambda _message: None)
    with tempfile.SpooledTemporaryFile(max_size=64 * CHUNK) as archive:
        files = write_snapshot(spec.store, spec.subtree, archive)
        size = archive.tell()
        say(f"snapshot of {spec.subtree}: {files} files, {size} bytes")
        archive.seek(0)
        stored = _upload(runloop, archive, size, spec)
    say(f"uploaded as storage object {stored.id}")
    try:
        mount = {"type": "object_mount", "object_id": stored.id, "object_path": SNAPSHOT_DIR}
        return _in_devbox(runloop, spec, [mount], say)
    finally:
        _quietly(lambda: runloop.objects.delete(stored.id))


def run_lazy(
    runloop: Runloop, spec: RunSpec, client: PvaClient, *, on_step: Callable[[str], None] | None = None
) -> RunResult:
    """Run the agent over the lazy view: the manifest and a read-only token; no document bytes up front."""
    say = on_step or (lambda _message: None)
    problem = path_problem(spec.subtree)
    if problem is not None:
        raise RunError(f"--subtree {spec.subtree!r}: {problem}")
    manifest = client.manifest_text(spec.subtree)
    say(f"manifest of {spec.subtree}: {manifest.count(chr(10)) - 1} entries, {len(manifest)} bytes")
    token = client.sandbox_token([spec.subtree], ttl=spec.lifetime)
    say(f"read-only token {token['id']} for {spec.subtree}, until {token['expires']}")
    try:
        with _manifest_mounts(runloop, spec, manifest, say) as mounts:
            return _in_devbox(runloop, spec, mounts, say, token=str(token["secret"]))
    finally:
        with contextlib.suppress(PvaError):  # it expires with the run anyway
            client.revoke_token(str(token["id"]))


@contextlib.contextmanager
def _manifest_mounts(
    runloop: Runloop, spec: RunSpec, manifest: str, say: Callable[[str], None]
) -> Iterator[list[dict[str, Any]]]:
    """The manifest at SNAPSHOT_DIR/manifest.jsonl: inline when short, else a storage object deleted after."""
    if len(manifest) <= spec.manifest_inline:
        yield [{"type": "file_mount", "target": f"{SNAPSHOT_DIR}/manifest.jsonl", "content": manifest}]
        return
    with tempfile.SpooledTemporaryFile(max_size=64 * CHUNK) as archive:
        with tarfile.open(fileobj=archive, mode="w:gz") as packed:
            _add_manifest(packed, manifest)
        size = archive.tell()
        archive.seek(0)
        stored = _upload(runloop, archive, size, spec)
    say(f"the manifest is long ({len(manifest)} characters): uploaded as storage object {stored.id}")
    try:
        yield [{"type": "object_mount", "object_id": stored.id, "object_path": SNAPSHOT_DIR}]
    finally:
        _quietly(lambda: runloop.objects.delete(stored.id))


def run_view(
    runloop: Runloop, spec: RunSpec, client: PvaClient | None, *, on_step: Callable[[str], None] | None = None
) -> RunResult:
    """Run the agent over ``spec.view``: lazy needs the client (its token makes the sandbox's)."""
    if spec.view == "copy":
        return run_agent(runloop, spec, on_step=on_step)
    if client is None:
        raise RunError("the lazy view needs the sidecar (PVA_URL, PVA_TOKEN) to make the devbox's token")
    return run_lazy(runloop, spec, client, on_step=on_step)


def run_and_submit(
    runloop: Runloop, spec: RunSpec, client: PvaClient, *, on_step: Callable[[str], None] | None = None
) -> tuple[RunResult, PlanStatus]:
    """Run the agent over ``spec.view``, then submit its plan as the client's (the agent's) token."""
    result = run_view(runloop, spec, client, on_step=on_step)
    return result, client.submit(result.plan())


def _upload(runloop: Runloop, archive: IO[bytes], size: int, spec: RunSpec) -> StorageObject:
    name = f"pva-snapshot-{spec.subtree.replace('/', '-')}.tar.gz"
    ttl_ms = int((spec.boot_timeout + spec.timeout + 3600) * 1000)  # gone even if the delete below fails
    try:
        view = runloop.objects.create(content_type="tgz", name=name, ttl_ms=ttl_ms)
        # Streamed, with its length: presigned storage URLs refuse chunked uploads.
        headers = {**(view.upload_headers or {}), "Content-Length": str(size)}
        stored = StorageObject(runloop, view.id, upload_url=view.upload_url, upload_headers=headers)
        stored.upload_content(_chunks(archive))
        stored.complete()
    except (APIError, httpx.HTTPError) as error:  # the upload itself goes to storage, not the API
        raise RunLoopFailure(f"uploading the snapshot failed: {error}") from None
    return stored


def _chunks(handle: IO[bytes]) -> Iterator[bytes]:
    while chunk := handle.read(CHUNK):
        yield chunk


def _in_devbox(
    runloop: Runloop,
    spec: RunSpec,
    view: list[Any],
    say: Callable[[str], None],
    *,
    token: str | None = None,
) -> RunResult:
    """The run in a new devbox with ``view`` mounted; shut down whatever happens."""
    try:
        devbox_id = _create(runloop, spec, view)
    except APIError as error:
        raise RunLoopFailure(f"RunLoop: creating the devbox failed: {error}") from None
    try:
        result = _run_in(runloop, spec, devbox_id, say, token)
    except BaseException as error:
        say(f"shutting devbox {devbox_id} down")
        problem = _shutdown(runloop, devbox_id)
        if problem is not None:
            error.add_note(problem)
        raise
    say(f"shutting devbox {devbox_id} down")
    problem = _shutdown(runloop, devbox_id)
    if problem is not None:
        raise RunLoopFailure(problem, devbox_id=devbox_id)
    return result


def _run_in(
    runloop: Runloop, spec: RunSpec, devbox_id: str, say: Callable[[str], None], token: str | None
) -> RunResult:
    try:
        say(f"devbox {devbox_id} created; waiting for it to run")
        runloop.devboxes.await_running(devbox_id, polling_config=spec.polling(spec.boot_timeout))
        _setup(runloop, spec, devbox_id)
        say(f"running the agent: {spec.command}")
        execution = runloop.devboxes.execute_and_await_completion(
            devbox_id, command=agent_command(spec, token), polling_config=spec.polling(spec.timeout)
        )
        stdout, stderr = execution.stdout or "", execution.stderr or ""
        if execution.exit_status != 0:
            raise AgentFailed(
                f"the agent exited with status {execution.exit_status}: {_tail(stderr or stdout)}",
                devbox_id=devbox_id,
                exit_status=execution.exit_status,
                stdout=stdout,
                stderr=stderr,
            )
        plan = _fetch_plan(runloop, spec, devbox_id)
        say(f"fetched the plan ({len(plan)} bytes)")
        return RunResult(devbox_id, plan, stdout, stderr)
    except PollingTimeout as error:
        raise RunTimeout(f"timed out: {error}", devbox_id=devbox_id) from None
    except APIError as error:
        raise RunLoopFailure(f"RunLoop: {error}", devbox_id=devbox_id) from None


def _create(runloop: Runloop, spec: RunSpec, view: list[Any]) -> str:
    mounts: list[Any] = list(view)
    mounts += [
        {"type": "file_mount", "target": f"{AGENT_DIR}/{name}", "content": text}
        for name, text in sorted(spec.files.items())
    ]
    keep_alive = min(MAX_KEEP_ALIVE, int(spec.boot_timeout + spec.timeout + 600))
    devbox = runloop.devboxes.create(
        name=f"pva-{spec.subtree.replace('/', '-')}"[:64],
        blueprint_name=spec.blueprint if spec.blueprint is not None else omit,
        mounts=mounts,
        launch_parameters={
            "user_parameters": {"username": "root", "uid": 0},  # setup runs as root; the agent does not
            "keep_alive_time_seconds": keep_alive,
        },
        metadata={"pva_subtree": spec.subtree},
    )
    return devbox.id


def _setup(runloop: Runloop, spec: RunSpec, devbox_id: str) -> None:
    done = runloop.devboxes.execute_and_await_completion(
        devbox_id, command=setup_command(bool(spec.files)), polling_config=spec.polling(spec.boot_timeout)
    )
    if done.exit_status != 0:
        raise RunError(
            f"making the snapshot read-only failed ({done.exit_status}): {_tail(done.stderr or '')}",
            devbox_id=devbox_id,
        )


def _fetch_plan(runloop: Runloop, spec: RunSpec, devbox_id: str) -> bytes:
    """The plan file, read in chunks and abandoned past the cap (a hostile agent may write gigabytes)."""
    got = bytearray()
    try:
        with runloop.devboxes.with_streaming_response.download_file(devbox_id, path=PLAN_PATH) as response:
            for chunk in response.iter_bytes(CHUNK):
                got += chunk
                if len(got) > spec.max_plan_bytes:
                    raise PlanTooLarge(
                        f"the plan file is over {spec.max_plan_bytes} bytes; not fetched", devbox_id=devbox_id
                    )
    except APIStatusError as error:
        if error.status_code in {400, 404}:
            raise NoPlan(f"the agent left no plan at {PLAN_PATH}: {error}", devbox_id=devbox_id) from None
        raise
    return bytes(got)


def _shutdown(runloop: Runloop, devbox_id: str) -> str | None:
    """Shut the devbox down; a problem doing so is returned, so that it never hides the run's own error."""
    try:
        runloop.devboxes.shutdown(devbox_id)
    except APIError as error:
        return f"devbox {devbox_id} may still be running (shut it down by hand): {error}"
    return None


def _quietly(action: Callable[[], object]) -> None:
    with contextlib.suppress(APIError):  # the object expires by its TTL anyway
        action()


def _tail(text: str, lines: int = 5) -> str:
    return " | ".join(text.strip().splitlines()[-lines:]) or "(no output)"
