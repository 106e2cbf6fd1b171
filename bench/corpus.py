"""The synthetic store every benchmark runs against: a legal discovery layout.

``matters/mNNNN/inbox/DOC-NNNN-NNNN.pdf``: one folder per matter, each with an
inbox of about a thousand files, each file with a size and a sha256, as a
hashed snapshot lists them. Everything is generated from a fixed seed, so two
runs (and the two sides of one comparison) see the same store.
"""

from __future__ import annotations

import os
import random
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from planner.core.manifest import header_line, read_manifest
from planner.core.tree import Tree

SEED = 20261129
DIR = -1  # the size the flat-dict baseline gives a folder
MTIME = 1_764_400_000.25  # every entry's mtime: manifests from a scan carry one


@dataclass(frozen=True)
class Layout:
    """How many matters, files per inbox, and (optionally) a cap on the entry count."""

    matters: int
    files_per_inbox: int
    max_entries: int | None = None

    def matter(self, m: int) -> str:
        return f"matters/m{m:04d}"

    def inbox(self, m: int) -> str:
        return f"{self.matter(m)}/inbox"

    def file_name(self, m: int, i: int) -> str:
        return f"DOC-{m:04d}-{i:04d}.pdf"

    def file(self, m: int, i: int) -> str:
        return f"{self.inbox(m)}/{self.file_name(m, i)}"

    def entries(self) -> Iterator[tuple[str, int]]:
        """(path, size) of every entry, parents first; folders have size ``DIR``."""
        cap = self.max_entries
        for count, (path, size) in enumerate(self._uncapped()):
            if cap is not None and count == cap:
                return
            yield path, size

    def _uncapped(self) -> Iterator[tuple[str, int]]:
        rng = random.Random(SEED)
        yield "matters", DIR
        for m in range(self.matters):
            yield self.matter(m), DIR
            yield self.inbox(m), DIR
            for i in range(self.files_per_inbox):
                yield self.file(m, i), _document_size(rng)

    @property
    def entry_count(self) -> int:
        uncapped = 1 + self.matters * (2 + self.files_per_inbox)
        return uncapped if self.max_entries is None else min(uncapped, self.max_entries)


# The store of benchmark 1, 2 and the memory figures: exactly 1,000,000 entries.
MILLION = Layout(matters=1000, files_per_inbox=998, max_entries=1_000_000)
# The store of the copy-and-execute comparison: 100,000 files (plus 201 folders).
HUNDRED_K = Layout(matters=100, files_per_inbox=1000)


def _document_size(rng: random.Random) -> int:
    """A plausible document size: mostly tens of kilobytes, a long tail of megabytes."""
    return int(rng.lognormvariate(11, 1.5)) + 1


def manifest_lines(layout: Layout) -> Iterator[str]:
    """A hashed manifest of ``layout``, one line at a time (no newlines)."""
    rng = random.Random(SEED + 1)
    yield header_line("/projects", hashed=True)
    for path, size in layout.entries():
        if size == DIR:
            yield f'{{"path": "{path}", "kind": "dir", "mtime": {MTIME}}}'
        else:
            sha256 = rng.randbytes(32).hex()
            fields = f'"size": {size}, "sha256": "{sha256}", "mtime": {MTIME}'
            yield f'{{"path": "{path}", "kind": "file", {fields}}}'


def data_dir() -> Path:
    """Where generated inputs are cached between runs ($PVA_BENCH_DATA, else the temp folder)."""
    root = Path(os.environ.get("PVA_BENCH_DATA") or Path(tempfile.gettempdir()) / "pva-bench")
    root.mkdir(parents=True, exist_ok=True)
    return root


def manifest_file(layout: Layout) -> Path:
    """A manifest of ``layout`` on disk, written once and reused (it is deterministic)."""
    path = data_dir() / f"manifest-{layout.matters}x{layout.files_per_inbox}-{layout.entry_count}.jsonl"
    if not path.exists():
        partial = path.with_suffix(".partial")
        with partial.open("w", encoding="utf-8") as out:
            for line in manifest_lines(layout):
                out.write(line + "\n")
        partial.rename(path)
    return path


def read_lines(path: Path) -> Iterator[str]:
    """Stream a file's lines, so a manifest is never held in memory whole."""
    with path.open(encoding="utf-8") as lines:
        yield from lines


@cache
def loaded_tree(layout: Layout) -> tuple[Tree, float]:
    """The tree of ``layout`` read from its manifest file, and the seconds that took.

    Cached: the benchmarks of one run share it (verifying never changes it).
    """
    path = manifest_file(layout)
    start = time.perf_counter()
    tree = read_manifest(read_lines(path))
    return tree, time.perf_counter() - start
