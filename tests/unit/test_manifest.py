"""Manifests: round trips, strict line checks, and scans of real folders."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from planner import Entry, ManifestError, tree_of
from planner.manifest import manifest_lines, read_entries, read_manifest
from planner.snapshot import ScanStats, scan, scan_scoped, scan_tree

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
        ('{"path": "a", "kind": "file", "size": 1} trailing', "text after"),
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
    """A scan lists folders and files with sha256, skipping symlinks, FIFOs and .pva/."""
    make_store(tmp_path)
    os.symlink("/etc/passwd", tmp_path / "m" / "link")
    os.mkfifo(tmp_path / "m" / "fifo")
    stats = ScanStats()
    entries = list(scan(tmp_path, stats=stats))
    assert [e.path for e in entries] == ["m", "m/empty", "m/inbox", "m/inbox/1.pdf", "other", "other/big.bin"]
    one = entries[3]
    assert (one.size, one.sha256) == (3, "7692c3ad3540bb803c020b3aee66cd8887123234ea0c6e7143c0add73ff431ed")
    assert sorted(stats.skipped) == ["m/fifo", "m/link"]
    assert stats.bytes_hashed == 13


def test_scan_without_hash_reads_metadata_only(tmp_path: Path) -> None:
    """--no-hash scans give sizes but no sha256."""
    make_store(tmp_path)
    assert all(e.sha256 is None for e in scan(tmp_path, hashed=False))


def test_scoped_scan_reads_only_the_scope_and_its_surroundings(tmp_path: Path) -> None:
    """A scoped scan holds the scope's subtree and its ancestors' children, nothing deeper elsewhere."""
    make_store(tmp_path)
    (tmp_path / "other" / "deep").mkdir()
    (tmp_path / "other" / "deep" / "x").write_bytes(b"x")
    tree = scan_scoped(tmp_path, ["m/inbox"])
    paths = [e.path for e in tree.walk()]
    assert paths == ["m", "m/empty", "m/inbox", "m/inbox/1.pdf", "other"]
    assert tree.stat("m/inbox/1.pdf") == scan_tree(tmp_path).stat("m/inbox/1.pdf")


def test_scoped_scan_of_a_file_scope_hashes_it(tmp_path: Path) -> None:
    """A scope that is a single file is listed with its hash."""
    make_store(tmp_path)
    entry = scan_scoped(tmp_path, ["other/big.bin"]).stat("other/big.bin")
    assert entry is not None
    assert entry.sha256 is not None


def test_scoped_scan_of_a_missing_scope_is_empty_there(tmp_path: Path) -> None:
    """A scope root that does not exist yet yields the ancestors that do exist."""
    make_store(tmp_path)
    tree = scan_scoped(tmp_path, ["m/new/deeper"])
    assert tree.stat("m/new") is None
    assert tree.stat("m/inbox") is not None
