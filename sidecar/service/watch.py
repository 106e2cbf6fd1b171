"""``Watcher``: notices changes made to the store behind pva's back, each recorded as one ``outside_change``.

What the audit expects is the last scan's baseline with every apply recorded
since replayed onto it (``replay``: a folder moved, copied or deleted carries
its files). A scan lists the store (every file, hashed), compares
(``differences``: edited, deleted, added; a deleted and an added file with
the same content are one ``moved``), records each difference and makes what
it saw the new baseline, in one transaction (``SqlWatchState.settle``). So a
second scan of an unchanged store records nothing, and a change is recorded
once. The first scan of a store only sets its baseline: what changed before
pva watched is not known. Paths an apply touched while the store was being
listed, and the paths of plans being applied then (``busy``: an apply
changes the store before it records its event), are not judged this round;
the audit's word stands for them. What no plan can name (a link, a
special or hard-linked file, a name that is not UTF-8) is passed by, as
listings pass it by; a document that became one is kept as it was, logged.

A store that lists no file where the audit expects some is not believed:
an unmounted disk shows its empty mount point, and recording every
document deleted would put a false line per document in an append-only
audit. The scan fails instead (``allow_empty`` believes it).

A change to a document under a legal hold is an alert: ``held`` says which
paths are held (by default none: the holds live elsewhere) and ``on_held``
is told (the sidecar counts it in /metrics and logs it).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from dataclasses import replace
from datetime import datetime, timedelta

from planner.core.entry import Entry
from planner.core.paths import contains, rebase
from sidecar.audit.payloads import OutsideChange, OutsideKind
from sidecar.audit.views import OpView
from sidecar.audit.watch_state import SqlWatchState
from sidecar.backends.base import Backend
from sidecar.errors import Refused, StoreFault

Held = Callable[[str], bool]  # is this store path under a legal hold?
OnChange = Callable[[OutsideChange], None]
log = logging.getLogger("pva.watch")
SHOWN = 10  # refused paths named in the scan's warning; the rest are counted


def no_holds(_: str) -> bool:
    """The default hold predicate: nothing is held."""
    return False


def log_held(change: OutsideChange) -> None:
    """The default alert: a log line at WARNING."""
    log.warning(
        "a document under a legal hold was %s outside pva: %s", change.change, ", ".join(change.paths)
    )


class Watcher:
    """Compares one store with what the audit expects, and records the differences."""

    def __init__(
        self,
        backend: Backend,
        state: SqlWatchState,
        *,
        clock: Callable[[], datetime],
        held: Held = no_holds,
        on_held: OnChange = log_held,
        on_change: OnChange | None = None,
        busy: Callable[[], Iterable[str]] = tuple,
        allow_empty: bool = False,
    ) -> None:
        self.backend, self.state, self.clock = backend, state, clock
        self.allow_empty = allow_empty  # a store that lists nothing is believed (else: not mounted?)
        self.held, self.on_held, self.on_change = held, on_held, on_change
        self.busy = busy  # the paths of plans being applied now

    def scan(self) -> list[OutsideChange]:
        """One scan: the changes recorded (none on a store's first scan, or when another scan won)."""
        store = self.backend.name
        base = self.state.baseline(store)
        start, applying = self.state.head(), list(self.busy())
        actual = {entry.path: entry for entry in self.backend.entries("", hashed=True) if not entry.is_dir}
        end = self.state.head()
        applying.extend(self.busy())
        if base.mark is None:
            self.state.settle(store, read=base, mark=start, changes=[], files=actual)
            return []
        expected = replay(base.files, self.state.applied_ops(base.mark, end))
        if expected and not actual and not self.allow_empty:
            raise StoreFault(
                "",
                f"the store lists no file where the audit expects {len(expected):,}: is it mounted? "
                "Nothing is recorded until it lists some ('pva watch --allow-empty' records them "
                "all deleted, if it was emptied on purpose)",
            )
        racing = [p for op in self.state.applied_ops(start, end) for p in (op.path, op.src) if p is not None]
        racing.extend(applying)
        refused = set(self._refused(p for p in expected if p not in actual))  # files: looked up, not scanned

        def unsure(path: str) -> bool:
            return path in refused or any(contains(p, path) for p in racing)

        changes = differences(expected, actual, unsure, noticed=self.clock(), store=store)
        seen = {p: e for p, e in actual.items() if not unsure(p)} | {
            p: e for p, e in expected.items() if unsure(p)
        }
        if not self.state.settle(store, read=base, mark=end, changes=changes, files=seen):
            return []
        for change in changes:
            log.info("outside change recorded: %s %s", change.change, " -> ".join(change.paths))
            if self.on_change is not None:
                self.on_change(change)
            if any(self.held(path) for path in change.paths):
                self.on_held(change)
        return changes

    def _refused(self, missing: Iterable[str]) -> list[str]:
        """The paths of ``missing`` that are there but refused: a link, a special or hard-linked file.

        The listing passes them by, as no plan can name them; the document
        was not deleted, so it is judged as it was until it is one again.
        """
        refused: dict[str, str] = {}  # path -> why
        for path in missing:
            try:
                self.backend.stat(path)
            except Refused as error:
                refused[path] = str(error)
        if refused:  # one line a scan, however many: a folder swapped for a link refuses all it held
            shown = "; ".join(f"{path!r} ({why})" for path, why in list(refused.items())[:SHOWN])
            more = f"; and {len(refused) - SHOWN:,} more" if len(refused) > SHOWN else ""
            log.warning(
                "the watch keeps %d path(s) as they were, refused by the store: %s%s",
                len(refused),
                shown,
                more,
            )
        return list(refused)


def replay(files: Mapping[str, Entry], ops: Iterable[OpView]) -> dict[str, Entry]:
    """The files after ``ops`` (applies that took effect) are done to ``files``, as the audit records them."""
    state = dict(files)
    for op in ops:
        after = None if op.after_sha256 is None else Entry(op.path, "file", op.after_size, op.after_sha256)
        match op.kind:
            case "move" | "rename" | "copy":
                assert op.src is not None
                below = {p: e for p, e in state.items() if contains(op.src, p)}
                if op.kind != "copy":
                    for p in below:
                        del state[p]
                for p, e in below.items():
                    moved = rebase(p, op.src, op.path)
                    state[moved] = replace(e, path=moved)
            case "delete":
                for p in [p for p in state if contains(op.path, p)]:
                    del state[p]
        if after is not None and op.kind != "delete":
            state[op.path] = after
    return state


def differences(
    expected: Mapping[str, Entry],
    actual: Mapping[str, Entry],
    unsure: Held,
    *,
    noticed: datetime,
    store: str,
) -> list[OutsideChange]:
    """Every difference, once: edits, moves (a delete and an add of the same content), deletes, adds."""
    gone = sorted(p for p in expected if p not in actual and not unsure(p))
    new = sorted(p for p in actual if p not in expected and not unsure(p))
    edited = sorted(
        p for p in expected.keys() & actual.keys() if not unsure(p) and _differ(expected[p], actual[p])
    )

    def change(
        kind: OutsideKind, path: str, src: str | None, before: Entry | None, after: Entry | None
    ) -> OutsideChange:
        return OutsideChange(kind, path, src, before, after, noticed, store)

    found = [change("edited", p, None, expected[p], _plain(actual[p])) for p in edited]
    arrivals: dict[str | None, list[str]] = {}
    for p in new:
        arrivals.setdefault(actual[p].sha256, []).append(p)
    for p in gone:
        sha = expected[p].sha256
        if sha is not None and arrivals.get(sha):
            to = arrivals[sha].pop(0)
            found.append(change("moved", to, p, expected[p], _plain(actual[to])))
        else:
            found.append(change("deleted", p, None, expected[p], None))
    found.extend(
        change("added", p, None, None, _plain(actual[p])) for paths in arrivals.values() for p in paths
    )
    return found


def _differ(before: Entry, after: Entry) -> bool:
    if before.sha256 is not None and after.sha256 is not None:
        return before.sha256 != after.sha256
    return before.size != after.size


def _plain(entry: Entry) -> Entry:
    """An entry as an event records it: without its mtime (the store's clock, not evidence)."""
    return replace(entry, mtime=None)


@contextlib.asynccontextmanager
async def watching(watcher: Watcher | None, every: timedelta | None) -> AsyncIterator[None]:
    """For a running sidecar: scan every ``every`` while it runs (nothing when either is None)."""
    if watcher is None or every is None:
        yield
        return
    task = asyncio.create_task(_poll(watcher, every.total_seconds()))
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _poll(watcher: Watcher, seconds: float) -> None:
    while True:
        try:
            await asyncio.to_thread(watcher.scan)
        except Exception:
            log.exception("the watch's scan failed; retrying at the next")
        await asyncio.sleep(seconds)
