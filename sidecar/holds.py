"""Legal holds: ``HoldStore`` places, lists and releases them, each change an event of the audit chain.

A hold names a matter, a reason and the store paths it preserves (files or
folders). What a hold forbids is one rule, ``planner.core.holds``; who may
place one and who sees one is the service's and the wall's
(``sidecar.service.holds``, ``sidecar.walls.hold_view``). The ``holds`` table
is updated in place only to release a hold, with a 'hold_released' event in
the same transaction, so ``pva audit verify`` can check every row against
the chain (``audit.mutable``). Its ``bucket`` column is operational state,
not a record: null until the store's own holds (GCS temporary holds) match
the row, so a crash between the row and the bucket is finished later
(``unsettled``, ``settled``).
"""

from __future__ import annotations

import builtins
import json
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Row, insert, select, update
from sqlalchemy.orm import Session

from planner.core.errors import PvaError
from planner.core.holds import Hold
from planner.core.paths import contains, path_problem
from sidecar import db
from sidecar.audit.chain import iso
from sidecar.audit.payloads import HoldPlaced, HoldReleased, Payload, kind_of
from sidecar.audit.store import append_event
from sidecar.audit.tables import HOLDS, HoldRow

ID_PREFIX = "hold_"
MAX_PATHS = 64
MAX_MATTER = 200  # tables.NAME
MAX_REASON = 2000
HOLD_ID = re.compile(r"hold_[0-9a-f]{12}")


class HoldError(PvaError):
    """A hold request the store refuses; the message says why."""

    exit_code = 2


class InvalidHoldRequest(HoldError):
    """Paths, a matter or a reason that a hold cannot have (HTTP 422)."""


class UnknownHold(HoldError):
    """No hold has that id, or none the caller may see (HTTP 404)."""


@dataclass(frozen=True, slots=True)
class HoldInfo:
    """One hold as stored: its paths, matter and reason, who placed it and, once released, who released it."""

    id: str
    matter: str
    reason: str
    paths: tuple[str, ...]
    placed: datetime
    placed_by: str
    released: datetime | None = None
    released_by: str | None = None
    release_reason: str | None = None

    @property
    def active(self) -> bool:
        return self.released is None

    @property
    def held(self) -> tuple[Hold, ...]:
        """What the verifier is given of it: one ``Hold`` per path."""
        return tuple(Hold(self.id, path) for path in self.paths)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "status": "active" if self.active else "released",
            "matter": self.matter,
            "reason": self.reason,
            "paths": list(self.paths),
            "placed": iso(self.placed),
            "placed_by": self.placed_by,
            "released": None if self.released is None else iso(self.released),
            "released_by": self.released_by,
            "release_reason": self.release_reason,
        }


def checked_paths(paths: Iterable[str]) -> tuple[str, ...]:
    """The minimal sorted paths (none inside another); InvalidHoldRequest if none, too many or one is bad."""
    if isinstance(paths, str):
        raise InvalidHoldRequest("paths are a list of store paths, not one string")
    given = sorted(set(paths))
    if not given or len(given) > MAX_PATHS:
        raise InvalidHoldRequest(f"a hold names 1 to {MAX_PATHS} store paths, not {len(given)}")
    for path in given:
        problem = path_problem(path)
        if problem is not None:
            raise InvalidHoldRequest(f"{path!r} is not a store path: {problem}")
    return tuple(p for p in given if not any(o != p and contains(o, p) for o in given))


def checked_text(what: str, text: str, limit: int) -> str:
    """``text`` stripped; InvalidHoldRequest unless it is 1 to ``limit`` printable characters."""
    text = text.strip()
    if not text or len(text) > limit or not text.isprintable():
        raise InvalidHoldRequest(f"a hold's {what}: 1 to {limit} printable characters on one line")
    return text


class HoldStore(db.SqlStore):
    """Holds in the audit database (SQLite or PostgreSQL)."""

    def place(self, paths: Iterable[str], *, matter: str, reason: str, actor: str) -> HoldInfo:
        """Place a new hold on ``paths``; its 'hold_placed' event is written in the same transaction."""
        info = HoldInfo(
            id=ID_PREFIX + secrets.token_hex(6),
            matter=checked_text("matter", matter, MAX_MATTER),
            reason=checked_text("reason", reason, MAX_REASON),
            paths=checked_paths(paths),
            placed=self._now(),
            placed_by=actor,
        )
        with db.appending(self._sessions) as session:
            session.execute(insert(HoldRow), [_row(info)])
            payload = HoldPlaced(info.id, info.matter, info.reason, info.paths)
            self._record(session, actor, payload)
        return info

    def release(self, hold_id: str, *, reason: str, actor: str) -> HoldInfo:
        """Release a hold; releasing a released hold changes nothing and returns it as it is."""
        reason, now = checked_text("release reason", reason, MAX_REASON), self._now()
        with db.appending(self._sessions) as session:
            released = session.execute(
                update(HoldRow)
                .where(HoldRow.id == hold_id, HoldRow.released.is_(None))
                .values(released=now, released_by=actor, release_reason=reason, bucket=None)
            )
            if released.rowcount == 1:  # type: ignore[attr-defined]
                self._record(session, actor, HoldReleased(hold_id, reason))
            row = session.get(HoldRow, hold_id)
        if row is None:
            raise UnknownHold(f"no hold {hold_id}")
        return _info(row)

    def get(self, hold_id: str) -> HoldInfo:
        """The hold with this id; UnknownHold if there is none."""
        with self._sessions() as session:
            row = session.get(HoldRow, hold_id) if HOLD_ID.fullmatch(hold_id) else None
        if row is None:
            raise UnknownHold(f"no hold {hold_id}")
        return _info(row)

    def list(self, *, active: bool = False) -> builtins.list[HoldInfo]:
        """Every hold (only those in force with ``active``), oldest first."""
        query = select(HOLDS).order_by(HOLDS.c.placed, HOLDS.c.id)
        if active:
            query = query.where(HOLDS.c.released.is_(None))
        with db.reading(self.engine) as connection:  # Core: every verify and submit asks (held)
            return [_info(row) for row in connection.execute(query)]

    def unsettled(self) -> builtins.list[HoldInfo]:
        """Holds whose bucket state is still to catch up with them (placed or released, then a crash)."""
        query = select(HoldRow).where(HoldRow.bucket.is_(None)).order_by(HoldRow.placed, HoldRow.id)
        with self._sessions() as session:
            return [_info(row) for row in session.scalars(query)]

    def settled(self, hold_id: str, bucket: str) -> None:
        """Record that the store's own holds now match the hold: 'held', 'cleared' or 'none'."""
        with self._sessions() as session, session.begin():
            session.execute(update(HoldRow).where(HoldRow.id == hold_id).values(bucket=bucket))

    def held(self) -> tuple[Hold, ...]:
        """Every path under a hold in force, for the verifier (read anew each time: a hold wins at once)."""
        return tuple(hold for info in self.list(active=True) for hold in info.held)

    def _record(self, session: Session, actor: str, payload: Payload) -> None:
        append_event(session, self._now(), kind=kind_of(payload), digest=None, actor=actor, payload=payload)

    def _now(self) -> datetime:
        now = self._clock()
        if now.tzinfo is None:
            raise ValueError("the hold clock must return timezone-aware times")
        return now.astimezone(UTC)


def _row(info: HoldInfo) -> dict[str, Any]:
    return {
        "id": info.id,
        "matter": info.matter,
        "reason": info.reason,
        "paths": json.dumps(info.paths, ensure_ascii=False),
        "placed": info.placed,
        "placed_by": info.placed_by,
    }


def _info(row: HoldRow | Row[Any]) -> HoldInfo:
    """A hold from its row: mapped (ORM) or as selected (Core)."""
    paths = json.loads(row.paths)
    return HoldInfo(
        row.id,
        row.matter,
        row.reason,
        tuple(paths),
        row.placed,
        row.placed_by,
        row.released,
        row.released_by,
        row.release_reason,
    )
