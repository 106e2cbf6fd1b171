"""The watch's memory in the audit database: each store's baseline, its mark, and recording a scan's changes.

A scan reads the baseline and its mark (the audit seq it reflects), the
applies recorded since, and the store; ``settle`` then appends one
``outside_change`` event per difference and writes the new baseline, in one
transaction under the chain's lock, and only if the mark is still the one
the scan read: of two scans racing (two replicas), one records, the other
records nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import delete, func, insert, select, update

from planner.core.entry import Entry
from sidecar import db
from sidecar.audit import payloads
from sidecar.audit.store import append_event
from sidecar.audit.tables import EventRow, OpRecordRow, WatchFileRow, WatchMarkRow
from sidecar.audit.views import OP_VIEW_COLUMNS, OpView


@dataclass(frozen=True)
class Baseline:
    """What the last scan saw of a store (files by path), and the audit seq it reflects; None: no scan yet."""

    files: dict[str, Entry]
    mark: int | None
    scans: int = 0  # how many scans have settled: the next settles only if it is still this


class SqlWatchState(db.SqlStore):
    """Baselines and marks of the stores pva watches."""

    def head(self) -> int:
        """The audit's last seq now."""
        with self._sessions() as session:
            return session.scalar(select(func.coalesce(func.max(EventRow.seq), 0))) or 0

    def baseline(self, store: str) -> Baseline:
        with self._sessions() as session:
            found = session.get(WatchMarkRow, store)
            rows = session.scalars(select(WatchFileRow).where(WatchFileRow.store == store))
            files = {row.path: Entry(row.path, "file", row.size, row.sha256, row.generation) for row in rows}
        return Baseline(files, None, 0) if found is None else Baseline(files, found.seq, found.scans)

    def applied_ops(self, after: int, upto: int) -> list[OpView]:
        """The ops of applies that took effect with seq in (after, upto], in order."""
        columns = OpRecordRow.__table__.c
        query = (
            select(*(columns[name] for name in OP_VIEW_COLUMNS))
            .where(columns.event_seq > after, columns.event_seq <= upto)
            .order_by(columns.event_seq, columns.ordinal)
        )
        with self._sessions() as session:
            return [OpView(*row) for row in session.execute(query)]

    def settle(
        self,
        store: str,
        *,
        read: Baseline,
        mark: int,
        changes: Sequence[payloads.OutsideChange],
        files: Mapping[str, Entry],
    ) -> bool:
        """Record ``changes``, make ``files`` the baseline at ``mark``; False if another scan settled."""
        with db.appending(self._sessions) as session:
            now = session.get(WatchMarkRow, store)
            if (now is None) != (read.mark is None) or (now is not None and now.scans != read.scans):
                return False
            for change in changes:
                append_event(
                    session,
                    self._clock(),
                    kind="outside_change",
                    digest=None,
                    actor=payloads.SYSTEM_ACTOR,
                    payload=change,
                )
            session.execute(delete(WatchFileRow).where(WatchFileRow.store == store))
            rows = list(_rows(store, files.values()))
            if rows:
                session.execute(insert(WatchFileRow), rows)
            if now is None:
                session.execute(insert(WatchMarkRow), [{"store": store, "seq": mark, "scans": 1}])
            else:
                values = {"seq": mark, "scans": read.scans + 1}
                session.execute(update(WatchMarkRow).where(WatchMarkRow.store == store).values(**values))
        return True


def _rows(store: str, entries: Iterable[Entry]) -> Iterable[dict[str, object]]:
    for entry in entries:
        yield {
            "store": store,
            "path": entry.path,
            "size": entry.size,
            "sha256": entry.sha256,
            "generation": entry.generation,
        }
