"""Manifests: round trips, strict line checks, and scans of real folders."""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Iterable
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from planner import Entry, ManifestError, Plan, Tree, tree_of, verify
from planner.agent.snapshot import FolderSource, ScanStats, read_footprint, scan, scan_tree
from planner.core.footprint import Read, TreeSource, footprint, read
from planner.core.manifest import entry_line, manifest_lines, read_entries, read_manifest

HEADER = json.dumps({"pva": "manifest/v1", "root": "/r", "hashed": True})
SHA = "ab" * 32


def test_manifest_round_trips_entries() -> None:
    """Entries written as a manifest read back equal, metadata included."""
    entries = [
        Entry("a", "dir"),
        Entry("a/x.pdf", "file", 3, SHA, 17, 1.5),
        Entry("a/ü 名前.txt", "file", 0),
    ]
    lines = list(manifest_lines(entries, "/r", hashed=True))
    assert list(read_entries(lines)) == entries
    assert read_manifest(lines) == tree_of(entries)


def test_missing_parents_are_implied() -> None:
    """An entry whose folders are not listed implies them, as object stores do."""
    tree = read_manifest([HEADER, json.dumps({"path": "a/b/c.txt", "kind": "file", "size": 1})])
    assert [e.path for e in tree.walk()] == ["a", "a/b", "a/b/c.txt"]


@pytest.mark.parametrize(
    ("line", "fragment"),
    [
        ("{not json", "not JSON"),
        ("[1]", "JSON object"),
        ('{"path": "a", "kind": "file", "size": 1} trailing', "content after"),
        ('{"path": "a", "kind": "file", "size": 1, "mtime": NaN}', "not JSON"),
        ('{"path": "a", "kind": "file", "size": 1e999}', "not JSON"),
        ('{"path": "a\\udc80", "kind": "dir"}', "not JSON"),  # an unpaired surrogate names no file
        ('{"path": "a", "kind": "file", "size": 123456789012345678901234567890}', "size"),
        ('{"path": "/abs", "kind": "dir"}', "bad path"),
        ('{"path": "a/../b", "kind": "dir"}', "bad path"),
        ('{"path": "a//b", "kind": "dir"}', "bad path"),
        ('{"path": "a/", "kind": "dir"}', "bad path"),
        ('{"path": "a\\u0000b", "kind": "dir"}', "bad path"),
        ('{"path": "a", "kind": "link"}', "kind must be"),
        ('{"path": "a", "kind": "file"}', "size"),
        ('{"path": "a", "kind": "file", "size": -1}', "size"),
        ('{"path": "a", "kind": "file", "size": true}', "size"),
        ('{"path": "a", "kind": "file", "size": 1, "sha256": "XY"}', "sha256"),
        ('{"path": "a", "kind": "file", "size": 1, "sha256": "' + "AB" * 32 + '"}', "sha256"),
        ('{"path": "a", "kind": "file", "size": 1, "owner": "x"}', "unknown fields"),
        ('{"path": "a", "kind": "dir", "size": 1}', "unknown fields"),
        ('{"path": "a", "kind": "file", "size": 1, "generation": "7"}', "generation"),
    ],
)
def test_bad_lines_name_their_line_number(line: str, fragment: str) -> None:
    """A malformed entry is a ManifestError naming line 2 and what is wrong."""
    with pytest.raises(ManifestError, match="line 2") as error:
        read_manifest([HEADER, line])
    assert fragment in str(error.value)


def test_duplicates_and_contradictions_are_refused() -> None:
    """A path listed twice, or as a file with entries below it, is a ManifestError."""
    file_line = json.dumps({"path": "a", "kind": "file", "size": 1})
    with pytest.raises(ManifestError, match="line 3"):
        read_manifest([HEADER, file_line, file_line])
    with pytest.raises(ManifestError, match="line 3"):
        read_manifest([HEADER, file_line, json.dumps({"path": "a/b", "kind": "dir"})])


def test_header_is_required() -> None:
    """An empty manifest or a wrong header is refused."""
    with pytest.raises(ManifestError, match="empty"):
        read_manifest([])
    with pytest.raises(ManifestError, match="header"):
        read_manifest([json.dumps({"pva": "manifest/v9"})])


def make_store(root: Path) -> None:
    (root / "m" / "inbox").mkdir(parents=True)
    (root / "m" / "inbox" / "1.pdf").write_bytes(b"one")
    (root / "m" / "empty").mkdir()
    (root / "other").mkdir()
    (root / "other" / "big.bin").write_bytes(b"x" * 10)
    (root / ".pva").mkdir()
    (root / ".pva" / "journal").write_bytes(b"internal")


def test_scan_hashes_files_and_skips_links_and_reserved_area(tmp_path: Path) -> None:
    """A scan lists folders and files with sha256, skipping links, FIFOs, names not UTF-8 and .pva/.

    What it lists can be written as a manifest: a Latin-1 name stopped it.
    A file with a second name (a hard link) is left out under both, as the
    sidecar's listings leave it out and its apply refuses it.
    """
    make_store(tmp_path)
    os.symlink("/etc/passwd", tmp_path / "m" / "link")
    os.mkfifo(tmp_path / "m" / "fifo")
    (tmp_path / "m" / "inbox" / "caf\udce9.txt").write_bytes(b"a name in Latin-1")  # the bytes caf\xe9
    (tmp_path / "m" / "inbox" / "2.pdf").write_bytes(b"two names")
    os.link(tmp_path / "m" / "inbox" / "2.pdf", tmp_path / "other" / "again.pdf")
    stats = ScanStats()
    entries = list(scan(tmp_path, stats=stats))
    assert [e.path for e in entries] == ["m", "m/empty", "m/inbox", "m/inbox/1.pdf", "other", "other/big.bin"]
    one = entries[3]
    assert (one.size, one.sha256) == (3, "7692c3ad3540bb803c020b3aee66cd8887123234ea0c6e7143c0add73ff431ed")
    assert sorted(stats.skipped) == [
        "'m/inbox/caf\\udce9.txt'",
        "m/fifo",
        "m/inbox/2.pdf",
        "m/link",
        "other/again.pdf",
    ]
    assert stats.bytes_hashed == 13
    assert len(list(manifest_lines(entries, root="t", hashed=True))) == len(entries) + 1
    footprint = read_footprint(tmp_path, [Read("m/inbox/1.pdf"), Read("m/inbox/2.pdf")])
    assert footprint.names("m/inbox") == ["1.pdf"]
    assert footprint.stat("m/inbox/2.pdf") is None


def test_scan_without_hash_reads_metadata_only(tmp_path: Path) -> None:
    """--no-hash scans give sizes but no sha256."""
    make_store(tmp_path)
    assert all(e.sha256 is None for e in scan(tmp_path, hashed=False))


FOOTPRINT_PLANS = [
    [
        {"op": "mkdir", "path": "m/alice/x", "parents": True},
        {"op": "move", "src": "m/inbox", "dst": "m/alice/x/in"},
    ],
    [{"op": "delete", "path": "m/inbox"}, {"op": "write", "path": "m/inbox", "content": "now a file"}],
    [
        {"op": "copy", "src": "m/inbox/1.pdf", "dst": "m/empty/1.pdf"},
        {"op": "rename", "path": "m/empty", "name": "E"},
    ],
    [{"op": "mkdir", "path": "m/INBOX"}, {"op": "move", "src": "m/nope", "dst": "m/x"}],
    [{"op": "write", "path": "m/new/deeper/x", "content": "x"}, {"op": "mkdir", "path": "other/z"}],
    [{"op": "delete", "path": "m/inbox/1.pdf", "expect": {"sha256": "0" * 64}}],
]


@pytest.mark.parametrize("ops", FOOTPRINT_PLANS, ids=[f"plan{i}" for i in range(len(FOOTPRINT_PLANS))])
def test_reading_the_footprint_verifies_like_a_full_scan(
    tmp_path: Path, ops: list[dict[str, object]]
) -> None:
    """Verifying against only what a plan touches gives the verdict, diagnostics and effect of a full scan."""
    make_store(tmp_path)
    plan = Plan.model_validate({"pva": "plan/v1", "title": "t", "scope": ["m"], "ops": ops})
    small = verify(plan, read_footprint(tmp_path, footprint(plan)))
    full = verify(plan, scan_tree(tmp_path))
    assert (small.ok, small.diagnostics, small.effect) == (full.ok, full.diagnostics, full.effect)


def test_the_footprint_leaves_the_rest_of_the_store_unread(tmp_path: Path) -> None:
    """Folders the plan does not touch are neither listed nor hashed."""
    make_store(tmp_path)
    (tmp_path / "other" / "deep").mkdir()
    (tmp_path / "other" / "deep" / "x").write_bytes(b"x")
    plan = Plan.model_validate(
        {
            "pva": "plan/v1",
            "title": "t",
            "scope": ["m"],
            "ops": [{"op": "move", "src": "m/inbox/1.pdf", "dst": "m/1.pdf"}],
        }
    )
    tree = read_footprint(tmp_path, footprint(plan))
    assert tree.stat("other/deep") is None
    assert tree.stat("other/big.bin") is None
    moved = tree.stat("m/inbox/1.pdf")
    assert moved is not None
    assert moved.sha256 is not None  # what a move names is bound by its content (no generation here)


def test_the_footprint_hashes_what_a_delete_removes(tmp_path: Path) -> None:
    """A deleted folder's files are read with their hashes, so the inverse plan can restore them."""
    make_store(tmp_path)
    plan = Plan.model_validate(
        {"pva": "plan/v1", "title": "t", "scope": ["m"], "ops": [{"op": "delete", "path": "m/inbox"}]}
    )
    entry = read_footprint(tmp_path, footprint(plan)).stat("m/inbox/1.pdf")
    assert entry is not None
    assert entry.sha256 is not None


class CountingSource:
    """A tree's ``ReadSource`` that counts the stats and listings the footprint reader asks of it."""

    def __init__(self, tree: Tree) -> None:
        self.inner = TreeSource(tree)
        self.stats: list[str] = []
        self.listings: list[str] = []

    def stat(self, path: str) -> Entry | None:
        self.stats.append(path)
        return self.inner.stat(path)

    def listing(self, folder: str) -> Iterable[Entry]:
        self.listings.append(folder)
        return self.inner.listing(folder)

    def below(self, folder: str) -> Iterable[Entry]:
        return self.inner.below(folder)

    def hashed(self, entry: Entry) -> Entry | None:
        return self.inner.hashed(entry)


def test_reads_sharing_folders_list_each_folder_once_and_walk_no_path() -> None:
    """Filing 200 files from one inbox lists each folder once, and stats only what no listing shows."""
    entries = [Entry("m", "dir"), Entry("m/inbox", "dir"), Entry("m/done", "dir")]
    entries += [Entry(f"m/inbox/{i}.pdf", "file", 1, SHA) for i in range(200)]
    ops = [{"op": "move", "src": f"m/inbox/{i}.pdf", "dst": f"m/done/{i}.pdf"} for i in range(200)]
    plan = Plan.model_validate({"pva": "plan/v1", "title": "t", "scope": ["m"], "ops": ops})
    source = CountingSource(tree_of(entries))
    tree = read(source, footprint(plan))
    assert sorted(source.listings) == ["m/done", "m/inbox"]
    # Each folder once on the way down; the 200 free destinations, which no listing shows (a
    # bucket's listing may leave out what its stat finds); never a file the inbox's listing showed.
    assert sorted(source.stats) == sorted(
        ["m", "m/done", "m/inbox", *(f"m/done/{i}.pdf" for i in range(200))]
    )
    assert tree == read(TreeSource(tree_of(entries)), footprint(plan))
    assert verify(plan, tree).ok


def test_the_folder_source_hashes_only_a_regular_file_there_now(tmp_path: Path) -> None:
    """A file listed then swapped for a link, a FIFO or a folder, or gone, is not hashed as that file."""
    source = FolderSource(tmp_path)
    (tmp_path / "f").write_bytes(b"abc")
    found = source.hashed(Entry("f", "file", 3))
    assert found is not None
    assert (found.size, found.sha256) == (3, hashlib.sha256(b"abc").hexdigest())
    (tmp_path / "link").symlink_to(tmp_path / "f")
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "dir").mkdir()
    assert source.hashed(Entry("link", "file", 3)) is None
    assert source.hashed(Entry("fifo", "file", 0)) is None  # not waited on
    assert source.hashed(Entry("gone", "file", 0)) is None
    assert source.hashed(Entry("f/below", "file", 0)) is None
    os.link(tmp_path / "f", tmp_path / "second")
    assert source.hashed(Entry("f", "file", 3)) is None  # a second name since: no store content
    swapped = source.hashed(Entry("dir", "file", 0))
    assert swapped is not None
    assert swapped.is_dir


def _known_fields(entry: Entry) -> list[tuple[str, object]]:
    """The fields the manifest format writes of an entry: those that are known, in order."""
    body: list[tuple[str, object]] = [("path", entry.path), ("kind", entry.kind)]
    if not entry.is_dir:
        body.append(("size", entry.size))
        if entry.sha256 is not None:
            body.append(("sha256", entry.sha256))
    if entry.generation is not None:
        body.append(("generation", entry.generation))
    if entry.mtime is not None and math.isfinite(entry.mtime):
        body.append(("mtime", entry.mtime))
    return body


ENTRIES = st.builds(
    Entry,
    path=st.text(min_size=1, max_size=40),
    kind=st.sampled_from(["file", "dir"]),
    size=st.one_of(st.none(), st.integers(min_value=0, max_value=2**70)),
    sha256=st.one_of(st.none(), st.text(alphabet="0123456789abcdef", min_size=64, max_size=64)),
    generation=st.one_of(st.none(), st.integers(min_value=-(2**64), max_value=2**64)),
    mtime=st.one_of(st.none(), st.floats(), st.integers(0, 2**40)),
)


@given(ENTRIES)
@example(Entry("a\udc80", "dir"))  # a name that is not UTF-8 (os.fsdecode's escape)
@example(Entry("a", "file", 2**64))
@example(Entry("a\u2028b\x85c\u2029d\x1ce\x0bf", "file", 1))  # line breaks to str.splitlines
def test_an_entry_line_is_compact_json_of_its_known_fields(entry: Entry) -> None:
    """A line is compact JSON of the entry's known fields in order; what JSON cannot carry is refused."""
    fields = _known_fields(entry)
    numbers = [value for _, value in fields if type(value) is int]
    if any(not -(2**63) <= value < 2**64 for value in numbers) or not _utf8(entry.path):
        with pytest.raises(ManifestError, match="cannot be written in a manifest"):
            entry_line(entry)
        return
    line = entry_line(entry)
    assert list(json.loads(line, object_pairs_hook=list)) == fields
    assert line.splitlines() == [line]  # one line, however a reader splits it


def _utf8(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


STORED = st.builds(
    Entry,
    path=st.lists(
        st.text(st.characters(blacklist_categories=["Cs"], blacklist_characters="/\x00"), min_size=1),
        min_size=1,
        max_size=4,
    )
    .filter(lambda names: not {".", ".."} & set(names))
    .map("/".join),
    kind=st.sampled_from(["file", "dir"]),
    size=st.integers(min_value=0, max_value=2**63 - 1),
    sha256=st.one_of(st.none(), st.text(alphabet="0123456789abcdef", min_size=64, max_size=64)),
    generation=st.one_of(st.none(), st.integers(min_value=-(2**63), max_value=2**64 - 1)),
    mtime=st.one_of(st.none(), st.floats(), st.integers(0, 2**40)),
)


@given(STORED)
@example(Entry("a", "file", 1, mtime=math.nan))
@example(Entry("a", "dir", mtime=-math.inf))
def test_every_line_written_reads_back(entry: Entry) -> None:
    """What pva writes of a store's entry, pva reads back: the same entry (a NaN mtime as none)."""
    (read_back,) = read_entries([HEADER, entry_line(entry)])
    mtime = entry.mtime if entry.mtime is None or math.isfinite(entry.mtime) else None
    if entry.is_dir:
        assert read_back == Entry(entry.path, "dir", generation=entry.generation, mtime=mtime)
    else:
        assert read_back == Entry(entry.path, "file", entry.size, entry.sha256, entry.generation, mtime)
