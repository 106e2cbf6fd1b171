"""A folder listed page by page on a bucket: by name, from the cursor on, whatever the names.

The bucket lists objects by name, where the folder ``DOC`` (``DOC/``) comes
after the file ``DOC-1.pdf``; pva lists by name, where it comes first.
``Folders.children_after`` lists from the cursor and reorders; these tests
hold it to the whole-folder listing (``Folders.children``, sorted) on names
made of the characters that sort around '/', and show that a page of a long
folder costs what it shows, not the folder.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from sidecar.backends.base import cursor_below, listing_key
from sidecar.backends.gcs.backend import GcsBackend
from sidecar.backends.gcs.folders import LOOKAHEAD, Folders
from sidecar.backends.gcs.objects import Obj, Objects
from tests.gcs.fixtures import FAST_RETRY, client_for, new_bucket, open_gcs, put, shared_server
from tests.gcs.routes import PAGE

# '/' nests, the rest sort just before it (' ', '-', '.') or after it ('0', 'a').
NAMES = st.text(alphabet=" -./0a", min_size=1, max_size=6)
SEGMENT = st.text(alphabet=" -.0a", min_size=1, max_size=3)
# Object names below the folder: up to three levels, a placeholder when it ends in '/'.
OBJECTS = st.tuples(st.lists(SEGMENT, min_size=1, max_size=3), st.booleans()).map(
    lambda parts: "/".join(parts[0]) + ("/" if parts[1] else "")
)


def _folders(names: list[str], *, implicit: bool) -> Folders:
    """A fresh bucket holding ``store/m/`` and an object ``store/m/<name>`` for each name."""
    server = shared_server()
    bucket = new_bucket(server)
    for name in ["", *names]:
        put(server, bucket, f"store/m/{name}", b"x")
    objects = Objects(client_for(server.url).bucket(bucket), FAST_RETRY)
    return Folders(objects, "store/", implicit=implicit)


def _shown(pairs: Iterable[tuple[str, Obj | None]]) -> list[tuple[str, str | None]]:
    return [(name, None if obj is None else obj.name) for name, obj in pairs]


@given(
    names=st.lists(NAMES, max_size=12, unique=True),
    cursors=st.lists(NAMES, max_size=3),
    implicit=st.booleans(),
    lookahead=st.integers(0, 3),
    page_size=st.integers(1, 4),
)
def test_children_after_lists_by_name_past_the_cursor(
    names: list[str], cursors: list[str], implicit: bool, lookahead: int, page_size: int
) -> None:
    """Every cursor (a listed name or not) gives the sorted whole-folder listing's tail past it."""
    folders = _folders(names, implicit=implicit)
    whole = sorted(folders.children("m").items())
    for after in [None, *cursors, *(name for name, _ in whole)]:
        listed = folders.children_after("m", after, lookahead=lookahead, page_size=page_size)
        expected = [(name, obj) for name, obj in whole if after is None or name > after]
        assert _shown(listed) == _shown(expected), after


@given(
    names=st.lists(OBJECTS, max_size=12, unique=True),
    cursors=st.lists(st.lists(SEGMENT, min_size=1, max_size=3).map("/".join), max_size=2),
    implicit=st.booleans(),
    depth=st.none() | st.integers(1, 3),
    lookahead=st.integers(0, 2),
)
@example(names=["0/./x", "a//", "b/../", "./y"], cursors=["."], implicit=True, depth=None, lookahead=0)
def test_a_subtree_pages_as_its_whole_listing_does(
    names: list[str], cursors: list[str], implicit: bool, depth: int | None, lookahead: int
) -> None:
    """Folder by folder from any cursor, to any depth: the sorted listing of everything below, past it."""
    folders = _folders(names, implicit=implicit)
    whole = sorted(folders.below("m"), key=lambda item: item[0].split("/"))
    within = [(f"m/{rest}", obj) for rest, obj in whole if depth is None or rest.count("/") < depth]
    for after in [None, *(f"m/{cursor}" for cursor in cursors), *(path for path, _ in within)]:
        cursor = cursor_below("m", after)
        assert cursor is not None
        listed = folders.descend("m", cursor, depth, lookahead=lookahead)
        expected = [(p, o) for p, o in within if after is None or listing_key(p) > listing_key(after)]
        assert _shown(listed) == _shown(expected), after


def test_a_folder_that_sorts_after_its_files_in_the_bucket_comes_first() -> None:
    """``DOC`` comes before ``DOC-1.pdf`` by name, though ``DOC/`` comes after it in the bucket."""
    folders = _folders(["DOC-1.pdf", "DOC-2.pdf", "DOC/", "DOC-1.pdf/", "DOC-2"], implicit=False)
    listed = [name for name, _ in folders.children_after("m", None, lookahead=0)]
    assert listed == ["DOC", "DOC-1.pdf", "DOC-2", "DOC-2.pdf"]
    assert dict(folders.children_after("m", "DOC"))["DOC-1.pdf"] is None  # the folder hides the file


@pytest.mark.parametrize("depth", [1, 3])
def test_a_page_of_a_long_folder_costs_what_it_shows(tmp_path: Path, depth: int) -> None:
    """Paging 6,000 files lists about a page's worth of objects a page, not the folder each time."""
    server = shared_server()
    bucket = new_bucket(server)
    files = 6000
    for name in ["store/", "store/m/", "store/m/DOC/", "store/m/DOC/inner.pdf", "store/m/DOC-00010/"]:
        put(server, bucket, name, b"")
    for number in range(files):
        put(server, bucket, f"store/m/DOC-{number:05}.pdf", b"x")
    backend: GcsBackend = open_gcs(server, bucket, tmp_path)
    try:
        pages: list[list[str]] = []
        listed: list[int] = []
        after = None
        while True:
            before = server.state.listed
            page = _page(backend, after, 500, depth)
            listed.append(server.state.listed - before)
            pages.append(page[:500])
            if len(page) <= 500:
                break
            after = page[499]
        everything = [path for page in pages for path in page]
        whole = sorted((e.path for e in backend.entries("m") if e.path.count("/") <= depth), key=listing_key)
        assert everything == whole
        nested = ["m/DOC", "m/DOC/inner.pdf", "m/DOC-00000.pdf"]
        assert everything[:3] == (nested if depth > 1 else ["m/DOC", "m/DOC-00000.pdf", "m/DOC-00001.pdf"])
        assert max(listed) <= LOOKAHEAD + 2 * PAGE < files, listed  # the old listing: 6,003 a page
    finally:
        backend.close()


def _page(backend: GcsBackend, after: str | None, limit: int, depth: int) -> list[str]:
    """Up to ``limit`` + 1 paths past ``after``, read as the sidecar reads a page (no further)."""
    found: list[str] = []
    for entry in backend.entries("m", depth=depth, after=after):
        found.append(entry.path)
        if len(found) > limit:
            break
    return found
