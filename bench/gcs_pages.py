"""Benchmark ``gcs_pages``: a long folder on a bucket read page by page, as ``GET /v1/tree`` pages it.

On the faithful test server (``tests/gcs/server.py``, its own process on
127.0.0.1, answering at once), a folder of 20,000 files named like a
production set (``DOC-00001.pdf``) and one subfolder ``DOC``, which comes
first by name but last in the bucket's listing. pva: ``GcsBackend.entries``
at depth 1 from each page's cursor, 500 entries a page, read as the sidecar
reads a page (one past the last, no further). Baseline in the same run: one
bare ``list_blobs`` of the folder with the same client, every object once.
Reported: the first and the last full page, every page together, and
every page against the bare listing (information, no goal: each page lists
the bucket's 1,000 objects a request from its cursor, where the code before
listed the whole folder for every page).
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench.harness import Result, Sizes, median
from sidecar.backends.gcs.backend import GcsBackend
from sidecar.backends.gcs.location import GcsLocation, open_backend
from tests.gcs.fixtures import client_for

BUCKET = "pages"
PAGE = 500  # entries a page, the sidecar's default


def run(sizes: Sizes) -> Result:
    files = 20_000 if sizes.repeats >= 3 else 2_000
    result = Result("gcs_pages", f"a folder of {files:,} files on the test server, {PAGE} entries a page")
    command = [sys.executable, "-m", "tests.gcs.server", BUCKET]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        url = server.stdout.readline().strip()
        _seed(url, files)
        with tempfile.TemporaryDirectory() as state:
            backend = open_backend(GcsLocation(BUCKET, "store/"), Path(state), client=client_for(url))
            try:
                bare = [_bare(url) for _ in range(3)]
                paged = [_pages(backend) for _ in range(3)]
            finally:
                backend.close()
    finally:
        server.terminate()
        server.wait()
    assert all(shown == files + 1 for shown, _ in paged), "the pages must show every entry once"
    pages = paged[0][1]
    total = median([sum(seconds for seconds, _ in run[1]) for run in paged])
    result.add("bare list_blobs of the folder (baseline)", median(bare), "s")
    result.add("first page", median([run[1][0][0] for run in paged]), "s")
    full = [[seconds for seconds, shown in run[1] if shown == PAGE] for run in paged]
    result.add("last full page", median([run[-1] for run in full]), "s")
    result.add(f"every page ({len(pages)} pages)", total, "s")
    result.add("every page / bare listing (info)", total / median(bare), "x")
    result.data.update(files=files, page=PAGE, bare=bare, pages=[[s for s, _ in run[1]] for run in paged])
    return result


def _seed(url: str, files: int) -> None:
    """The folder's placeholder, its subfolder ``DOC`` and ``files`` small files, uploaded in parallel."""
    bucket = client_for(url).bucket(BUCKET)
    names = ["store/", "store/m/", "store/m/DOC/"] + [f"store/m/DOC-{n:05}.pdf" for n in range(files)]
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda name: bucket.blob(name).upload_from_string(b"x", if_generation_match=0), names))


def _bare(url: str) -> float:
    client = client_for(url)
    start = time.perf_counter()
    sum(1 for _ in client.list_blobs(BUCKET, prefix="store/m/", delimiter="/"))
    return time.perf_counter() - start


def _pages(backend: GcsBackend) -> tuple[int, list[tuple[float, int]]]:
    """Entries shown in all, and (seconds, entries shown) of each page, read as the sidecar reads one."""
    after: str | None = None
    pages: list[tuple[float, int]] = []
    shown = 0
    while True:
        start = time.perf_counter()
        found = []
        for entry in backend.entries("m", depth=1, after=after):
            found.append(entry.path)
            if len(found) > PAGE:
                break
        pages.append((time.perf_counter() - start, min(len(found), PAGE)))
        shown += min(len(found), PAGE)
        if len(found) <= PAGE:
            return shown, pages
        after = found[PAGE - 1]
