"""Changes made to a folder store behind pva's back (SQLite and PostgreSQL): each recorded once, never twice.

The store is changed directly on disk (the backdoor); the watch must record
an edit, a delete, an add and a move as one ``outside_change`` event each,
with the right hashes, record nothing when run again, and take pva's own
applies as expected, not as outside changes.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from planner.core.entry import Entry
from sidecar.audit.payloads import OutsideChange, decode_outside
from sidecar.audit.records import OpRecord
from sidecar.audit.store import SqlAuditStore
from sidecar.audit.views import parse_payload
from sidecar.audit.watch_state import SqlWatchState
from sidecar.backends.local import LocalBackend
from sidecar.errors import StoreFault
from sidecar.service.watch import Watcher
from tests.audit.conftest import make_plan, record
from tests.support.files import write_files


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = tmp_path / "store"
    write_files(
        root,
        {"m/a.txt": b"a", "m/b.txt": b"b", "m/c.txt": b"c", "m/d/e.txt": b"e", "held/h.txt": b"h"},
    )
    return root


@pytest.fixture
def state(store: SqlAuditStore, url: str) -> Iterator[SqlWatchState]:
    watch = SqlWatchState.open(url, clock=store._clock)  # the store's ticking clock
    yield watch
    watch.close()


def watcher(root: Path, state: SqlWatchState, alerts: list[OutsideChange] | None = None) -> Watcher:
    return Watcher(
        LocalBackend(root),
        state,
        clock=state._clock,
        held=lambda path: path.startswith("held/"),
        on_held=(alerts if alerts is not None else []).append,
    )


def outside_events(store: SqlAuditStore) -> list[OutsideChange]:
    return [
        decode_outside(parse_payload(link.payload)) for link in store.links() if link.kind == "outside_change"
    ]


def test_the_first_scan_sets_the_baseline_and_an_unchanged_store_records_nothing(
    root: Path, state: SqlWatchState, store: SqlAuditStore
) -> None:
    """A store's first scan records nothing (pva cannot know what came before); a second finds no change."""
    watch = watcher(root, state)
    assert watch.scan() == []
    assert watch.scan() == []
    assert outside_events(store) == []


def test_edit_delete_add_and_move_behind_pvas_back_are_each_recorded_once(
    root: Path, state: SqlWatchState, store: SqlAuditStore
) -> None:
    """Each difference is one outside_change event with the hashes before and after; a rescan adds none."""
    watch = watcher(root, state)
    watch.scan()
    (root / "m/a.txt").write_bytes(b"a, edited")
    (root / "m/b.txt").unlink()
    (root / "m/n.txt").write_bytes(b"new")
    (root / "m/c.txt").rename(root / "m/d/c.txt")
    found = watch.scan()
    summary = {(c.change, c.src, c.path) for c in found}
    assert summary == {
        ("edited", None, "m/a.txt"),
        ("deleted", None, "m/b.txt"),
        ("added", None, "m/n.txt"),
        ("moved", "m/c.txt", "m/d/c.txt"),
    }
    edit = next(c for c in found if c.change == "edited")
    assert edit.before is not None
    assert edit.after is not None
    assert (edit.before.sha256, edit.after.sha256, edit.after.size) == (sha(b"a"), sha(b"a, edited"), 9)
    moved = next(c for c in found if c.change == "moved")
    assert moved.before is not None
    assert moved.after is not None
    assert moved.before.sha256 == moved.after.sha256 == sha(b"c")
    assert outside_events(store) == found
    assert store.check_chain().broken is None
    assert watch.scan() == []
    assert len(outside_events(store)) == 4


def test_what_no_plan_can_name_is_passed_by_and_the_rest_still_watched(
    root: Path, state: SqlWatchState, store: SqlAuditStore, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A link, a hard link or a name that is not UTF-8 does not stop the watch, and is no change itself.

    A document replaced by a link, or given a second name, is kept as it
    was (logged), not recorded as deleted: it was not; the edit beside them
    is recorded.
    """
    watch = watcher(root, state)
    watch.scan()
    (root / "m/link").symlink_to(tmp_path / "elsewhere")
    Path(os.fsdecode(os.fsencode(root) + b"/m/caf\xe9.txt")).write_bytes(b"a name in Latin-1, not UTF-8")
    (root / "m/b.txt").rename(tmp_path / "b.txt")
    (root / "m/b.txt").symlink_to(tmp_path / "b.txt")
    os.link(root / "m/c.txt", tmp_path / "c-again.txt")
    (root / "m/a.txt").write_bytes(b"a, edited")
    found = watch.scan()
    assert [(c.change, c.path) for c in found] == [("edited", "m/a.txt")]
    (kept,) = [r.getMessage() for r in caplog.records if r.getMessage().startswith("the watch keeps")]
    assert kept.startswith("the watch keeps 2 path(s) as they were, refused by the store: 'm/b.txt' (")
    assert "; 'm/c.txt' (" in kept
    assert watch.scan() == []
    (root / "m/b.txt").unlink()
    (tmp_path / "b.txt").rename(root / "m/b.txt")  # back as it was: no change either way
    assert watch.scan() == []


def test_a_folder_swapped_for_a_link_is_kept_as_it_was_in_one_warning(
    root: Path, state: SqlWatchState, store: SqlAuditStore, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Each file of a folder now behind a link is kept, none recorded deleted; one line names ten."""
    for number in range(12):
        (root / "m" / "d" / f"{number:02}.txt").write_bytes(b"x")
    watch = watcher(root, state)
    watch.scan()
    (root / "m" / "d").rename(tmp_path / "d")
    (root / "m" / "d").symlink_to(tmp_path / "d")
    assert watch.scan() == []
    (kept,) = [r.getMessage() for r in caplog.records if r.getMessage().startswith("the watch keeps")]
    assert kept.startswith("the watch keeps 13 path(s) as they were")
    assert kept.count("is a symlink") == 10
    assert kept.endswith("; and 3 more")


def test_a_store_that_lists_nothing_is_not_believed_unless_allowed(
    root: Path, state: SqlWatchState, store: SqlAuditStore, tmp_path: Path
) -> None:
    """An unmounted disk shows an empty folder: the scan fails, records nothing; allow_empty records it."""
    watcher(root, state).scan()
    root.rename(tmp_path / "mounted")
    root.mkdir()  # the empty mount point left behind
    with pytest.raises(StoreFault, match="lists no file where the audit expects 5: is it mounted"):
        watcher(root, state).scan()
    assert outside_events(store) == []
    root.rmdir()
    (tmp_path / "mounted").rename(root)
    assert watcher(root, state).scan() == []  # back: the baseline was kept, nothing changed
    for file in [p for p in root.rglob("*") if p.is_file()]:
        file.unlink()
    emptied = Watcher(LocalBackend(root), state, clock=state._clock, allow_empty=True).scan()
    assert sorted(c.path for c in emptied if c.change == "deleted") == [
        "held/h.txt",
        "m/a.txt",
        "m/b.txt",
        "m/c.txt",
        "m/d/e.txt",
    ]


def test_pvas_own_applies_are_not_outside_changes(
    root: Path, state: SqlWatchState, store: SqlAuditStore
) -> None:
    """A folder moved and a file written by an apply the audit records are expected: nothing is recorded."""
    watch = watcher(root, state)
    watch.scan()
    (root / "m/d").rename(root / "m/f")
    (root / "m/w.txt").write_bytes(b"written")
    plan = make_plan({"op": "move", "src": "m/d", "dst": "m/f"}, scope="m")
    record(
        store,
        plan,
        OpRecord(0, "move", "m/f", src="m/d", after=Entry("m/f", "dir")),
        OpRecord(1, "write", "m/w.txt", after=Entry("m/w.txt", "file", 7, sha(b"written"))),
    )
    assert watch.scan() == []
    (root / "m/f/e.txt").write_bytes(b"e, edited")  # then someone edits it in its new place
    assert [(c.change, c.path) for c in watch.scan()] == [("edited", "m/f/e.txt")]


def test_a_changed_document_under_a_hold_is_an_alert(root: Path, state: SqlWatchState) -> None:
    """The hold predicate picks the changes that alert: one for the held file, none for the other."""
    alerts: list[OutsideChange] = []
    watch = watcher(root, state, alerts)
    watch.scan()
    (root / "held/h.txt").write_bytes(b"h, edited")
    (root / "m/a.txt").write_bytes(b"a, edited")
    assert len(watch.scan()) == 2
    assert [(c.change, c.path) for c in alerts] == [("edited", "held/h.txt")]


def test_two_watches_racing_record_a_change_once(
    root: Path, state: SqlWatchState, store: SqlAuditStore
) -> None:
    """Of two scans that read the same baseline, the one that settles second records nothing."""
    first, second = watcher(root, state), watcher(root, state)
    first.scan()
    (root / "m/a.txt").write_bytes(b"a, edited")
    base = state.baseline(LocalBackend(root).name)
    assert len(first.scan()) == 1
    assert not state.settle(LocalBackend(root).name, read=base, mark=0, changes=[], files={})
    assert second.scan() == []
    assert len(outside_events(store)) == 1


def test_a_plan_being_applied_is_not_an_outside_change(root: Path, state: SqlWatchState) -> None:
    """Paths of a plan being applied (changed, not yet recorded) wait for the next scan, then count."""
    busy: list[str] = ["m/d"]
    watch = Watcher(LocalBackend(root), state, clock=state._clock, busy=lambda: busy)
    watch.scan()
    (root / "m/d/e.txt").write_bytes(b"e, mid-apply")
    assert watch.scan() == []
    busy.clear()
    assert [(c.change, c.path) for c in watch.scan()] == [("edited", "m/d/e.txt")]
