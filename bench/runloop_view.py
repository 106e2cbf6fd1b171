"""Benchmark ``runloop_view``: time to first plan, ``pva runloop run --view lazy`` against ``--view copy``.

An agent reads 40 documents of a 20,000-file subtree and writes a plan,
which the runner submits. Both views run in the same process against the
same real sidecar (``pva serve``, SQLite) and the fake RunLoop API of the
tests (``tests/agent/fake_runloop.py``), whose "agent" is a function run
in place of the devbox command. Both agents pick their 40 documents from
the manifest they are given. Lazy: the runner fetches the manifest
(unhashed) and a read-only token; the agent reads its 40 documents over
HTTP with that token. Copy: the runner hashes and archives every byte of
the subtree and uploads it (to the fake: in memory, so no network time is
counted); the devbox's mount is then extracted as the devbox does it,
with the system's ``tar``, but into memory (``/dev/shm``, where there is
one: faster than any devbox's disk, and steadier than this machine's), and
the agent reads from that copy. No network time is counted either way, which favours the copy, so
the ratio is a floor; the copy's time without its extraction is reported
beside it, from the same runs. Each sidecar first runs each view once
uncounted: a sidecar serves for days, and its first requests (imports,
the database file's first pages, the page cache) are no agent's usual
wait. The lazy view runs three times for each copy: its 40 reads are 40
round trips, so a busy moment of a shared machine moves one run by a
third, and more runs make the median steadier. Documents are 8 KiB of
random bytes (incompressible, like the PDFs and e-mails of a matter); the
issue's matter averages 1.5 MB a document, where the copy costs far more.
For information it also times the subtree's folder listed page by page
(``GET /v1/tree``) against its manifest.
"""

from __future__ import annotations

import gc
import json
import random
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.corpus import data_dir
from bench.harness import Goal, Result, Sizes, median, timed
from bench.sandbox import TMPFS
from planner.agent.runloop import RunSpec, View, run_and_submit
from planner.client.http_client import PvaClient
from planner.core.manifest import read_entries
from sidecar import db
from sidecar.tokens import TokenStore
from tests.agent.fake_runloop import FakeRunLoop, Scenario
from tests.servers import sidecar

SUBTREE = "matters/acme"
DOC_BYTES = 8 * 1024
READS = 40
VIEWS: tuple[View, View] = ("lazy", "copy")
SPEEDUP_GOAL = Goal(20, at_least=True)  # lazy at least 20 times faster to the first plan
TAR = shutil.which("tar") or "/bin/tar"  # the system's, as the devbox extracts its mount with
# Where the devbox's copy is extracted: memory (its fastest), else the temporary folder.
DEVBOX_DISK = TMPFS if Path(TMPFS).is_dir() else None
LAZY_RUNS = 3  # lazy runs for each copy: a third of a second each, their median steadier


def run(sizes: Sizes) -> Result:
    files = 20_000 if sizes.repeats >= 3 else 2_000
    result = Result("runloop_view", f"first plan: {READS} reads of a {files:,}-file subtree, lazy vs copy")
    store = _store(files)
    work = data_dir() / f"runloop-view-work-{files}"
    work.mkdir(exist_ok=True)
    url = f"sqlite:///{work / 'pva.db'}"
    (work / "pva.db").unlink(missing_ok=True)
    db.upgrade(url)
    with db.opened(TokenStore, url) as tokens:
        secret = tokens.create("agent", "runner", [SUBTREE])[1]
    times: dict[str, list[float]] = {
        "lazy": [],
        "copy": [],
        "copy, extraction not counted": [],
        "lazy, reads not audited": [],
        "folder, page by page": [],
        "folder, manifest": [],
    }
    uploaded: list[int] = []
    with sidecar(store, url, work / "serve.log") as server, PvaClient(server, secret, timeout=600) as client:
        for view in VIEWS:  # a warm-up, not counted: the sidecar serves long, this one just started
            _first_plan(view, store, server, client, 200)
        for attempt in range(sizes.repeats):
            for view in VIEWS:
                for again in range(LAZY_RUNS if view == "lazy" else 1):
                    seconds, extracting, sent = _first_plan(view, store, server, client, 10 * attempt + again)
                    times[view].append(seconds)
                    if view == "copy":
                        times["copy, extraction not counted"].append(seconds - extracting)
                    uploaded.append(sent)
    with (
        sidecar(store, url, work / "serve-off.log", audit_reads="off") as server,
        PvaClient(server, secret, timeout=600) as client,
    ):
        _first_plan("lazy", store, server, client, 300)  # the warm-up
        for attempt in range(sizes.repeats * LAZY_RUNS):
            times["lazy, reads not audited"].append(
                _first_plan("lazy", store, server, client, 100 + attempt)[0]
            )
            times["folder, page by page"].append(timed(lambda: client.list_folder(f"{SUBTREE}/inbox")))
            times["folder, manifest"].append(timed(lambda: client.manifest_text(f"{SUBTREE}/inbox")))
    lazy, copy = median(times["lazy"]), median(times["copy"])
    result.add("lazy: time to first plan", lazy, "s")
    result.add("copy: time to first plan", copy, "s")
    result.add("copy / lazy", copy / lazy, "x", SPEEDUP_GOAL)
    bare = median(times["copy, extraction not counted"])
    result.add("copy, its extraction in the devbox not counted (info)", bare, "s")
    result.add("copy without extraction / lazy (info)", bare / lazy, "x")
    result.add("copy: bytes uploaded (info)", max(uploaded), "B")
    off = median(times["lazy, reads not audited"])
    result.add("lazy, PVA_AUDIT_READS=off (info)", off, "s")
    result.add("copy / lazy with reads not audited (info)", copy / off, "x")
    paged, listed = median(times["folder, page by page"]), median(times["folder, manifest"])
    result.add(f"the {files:,}-file folder, every page of GET /v1/tree (info)", paged, "s")
    result.add("the same folder's manifest (info)", listed, "s")
    result.add("pages / manifest (info)", paged / listed, "x")
    result.data.update(files=files, doc_bytes=DOC_BYTES, reads=READS, times=times, uploaded=max(uploaded))
    return result


def _first_plan(
    view: View, store: Path, server: str, client: PvaClient, attempt: int
) -> tuple[float, float, int]:
    """Seconds from the run's start to its plan submitted, those of them spent extracting, bytes uploaded."""
    extracting: list[float] = []
    with tempfile.TemporaryDirectory(dir=DEVBOX_DISK, prefix="pva-devbox-") as disk:
        agent = _agent(view, attempt, Path(disk), lambda oid: fake.uploads[oid], extracting)
        fake = FakeRunLoop(Scenario(agent=agent))
        spec = RunSpec(
            store=store, subtree=SUBTREE, command="agent", sidecar_url=server, poll=0.01, view=view
        )
        gc.collect()  # as the harness's timed() does: no collection left over from the run before
        start = time.perf_counter()
        _, status = run_and_submit(fake.client(), spec, client)
        seconds = time.perf_counter() - start
    assert str(status.state) == "pending", status.state
    return seconds, sum(extracting), sum(len(data) for data in fake.uploads.values())


def _agent(
    view: str, attempt: int, disk: Path, uploaded: Callable[[str], bytes], extracting: list[float]
) -> Callable[[dict[str, str], list[dict[str, Any]]], bytes]:
    """The agent: pick 40 documents from its manifest, read them, propose a folder for them.

    In the copy view the devbox first extracts its mount (the uploaded
    archive) into ``disk``, with the system's ``tar`` as a devbox would;
    ``extracting`` gets the seconds that took.
    """

    def agent(env: dict[str, str], mounts: list[dict[str, Any]]) -> bytes:
        if view == "lazy":
            text = next(m["content"] for m in mounts if m.get("target", "").endswith("manifest.jsonl"))
            with PvaClient(env["PVA_URL"], env["PVA_TOKEN"]) as reader:
                read = sum(len(reader.read(path)) for path in _chosen(text))
        else:
            (mount,) = (m for m in mounts if m["type"] == "object_mount")
            start = time.perf_counter()
            subprocess.run(
                [TAR, "-xzf", "-", "-C", str(disk)], input=uploaded(mount["object_id"]), check=True
            )
            extracting.append(time.perf_counter() - start)
            text = (disk / "manifest.jsonl").read_text()
            read = sum(len((disk / "store" / path).read_bytes()) for path in _chosen(text))
        assert read == READS * DOC_BYTES
        folder = f"{SUBTREE}/reviewed-{view}-{attempt}"
        plan = {"pva": "plan/v1", "title": f"Review ({view} {attempt})", "scope": [SUBTREE]}
        return json.dumps(plan | {"ops": [{"op": "mkdir", "path": folder}]}).encode()

    return agent


def _chosen(manifest: str) -> list[str]:
    """The first 40 documents a manifest names."""
    return [e.path for e in read_entries(manifest.splitlines()) if e.kind == "file"][:READS]


def _store(files: int) -> Path:
    """A store with ``files`` documents in one subtree, written once and reused."""
    root = data_dir() / f"runloop-view-{files}"
    inbox = root / SUBTREE / "inbox"
    if inbox.is_dir() and sum(1 for _ in inbox.iterdir()) == files:
        return root
    inbox.mkdir(parents=True, exist_ok=True)
    noise = random.Random(files)  # test data, not secrets
    for number in range(files):
        (inbox / f"DOC-{number:05}.pdf").write_bytes(noise.randbytes(DOC_BYTES))
    return root
