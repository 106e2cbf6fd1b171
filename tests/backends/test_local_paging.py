"""Paging a folder on the local store: a page past a cursor costs what it lists, not what lies before it."""

from __future__ import annotations

from itertools import islice
from pathlib import Path

from sidecar.backends.local import LocalBackend
from tests.backends.faults import FaultyCalls

FILES = 300
SUBFOLDER_FILES = 50
PAGE = 40


def test_paging_through_a_folder_stats_each_entry_about_once(store: Path) -> None:
    """Every page skips to its cursor by name: the lstat calls of all pages stay near one listing's.

    Filtering a whole listing per page would stat about FILES**2 / (2 * PAGE)
    entries (over a thousand here); skipping stats each about once.
    """
    inbox = store / "inbox"
    (inbox / "m-sub").mkdir(parents=True)
    for number in range(FILES):
        (inbox / f"f-{number:03}.txt").write_bytes(b"x")
    for number in range(SUBFOLDER_FILES):
        (inbox / "m-sub" / f"g-{number:02}.txt").write_bytes(b"y")
    calls = FaultyCalls()
    backend = LocalBackend(store, calls=calls)
    listed: list[str] = []
    after: str | None = None
    pages = 0
    while True:
        entries = backend.entries("inbox", depth=2, after=after)
        page = [entry.path for entry in islice(entries, PAGE + 1)]
        entries.close()  # type: ignore[attr-defined]  # a generator: its folders are closed now
        pages += 1
        listed += page[:PAGE]
        if len(page) <= PAGE:
            break
        after = page[PAGE - 1]
    whole = [entry.path for entry in backend.entries("inbox", depth=2)]
    assert listed == whole
    assert len(whole) == FILES + SUBFOLDER_FILES + 1
    stats_per_listing = len(whole)
    assert calls.counts["lstatat"] <= 2 * stats_per_listing + 2 * pages, calls.counts
