"""``pva audit verify``: check every link of the chain and every projected row against its event.

One pass in ``seq`` order, a page at a time: each event's link (``chain``),
then the rows its payload projects (``payloads``), compared with the rows the
tables hold; at the end, each plan's status against the last event that set
it, rows no event accounts for, and the mutable tables (``mutable``). The
first problem found is the answer.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import String, func, select, type_coerce
from sqlalchemy.orm import Session

from sidecar.audit import chain, payloads
from sidecar.audit.chain import Break, Link
from sidecar.audit.mutable import mutable_problem
from sidecar.audit.tables import APPROVALS, EVENTS, OPS, PLANS, SCOPES, TRASHED, EventRow
from sidecar.audit.views import ChainReport, parse_payload
from sidecar.errors import DamagedRow

WINDOW = 500  # events whose projected rows are loaded together
PAGE = 1000  # events per round trip
Row = dict[str, Any]
# The stored fields, in Link's order; the time as the database holds it, parsed here,
# so that a row edited to hold no time is reported by its seq instead of failing a whole page.
LINK_COLUMNS = [
    type_coerce(EVENTS.c[name], String).label(name) if name == "time" else EVENTS.c[name]
    for name in Link.__slots__
]


def check(session: Session) -> ChainReport:
    """Check the whole audit; the report's ``broken`` is the first problem, or None."""
    checker = _Checker(session)
    try:
        broken = checker.run()
    except DamagedRow as damaged:
        broken = Break(damaged.seq, damaged.problem)
    return ChainReport(checker.count, checker.head_seq, checker.head_hash, broken)


class _Checker:
    def __init__(self, session: Session) -> None:
        self.session = session
        self.count, self.head_seq, self.head_hash = 0, 0, chain.GENESIS
        self.statuses: dict[str, tuple[str, int]] = {}  # digest -> (status, seq that set it)
        self._window: tuple[int, int] = (0, 0)
        self._rows: dict[str, dict[int, list[Row]]] = {}
        self._plans: dict[str, Row] = {}
        self._scopes: dict[str, list[Row]] = {}

    def run(self) -> Break | None:
        for link, following in chain.pairs(stream_links(self.session)):
            expected = (self.head_seq + 1, self.head_hash)
            problem = chain.link_problem(link, following, *expected, self._link_of_hash)
            problem = problem or self._checked_projection(link)
            if problem is not None:
                return problem
            self.count, self.head_seq, self.head_hash = self.count + 1, link.seq, link.hash
        return (
            self._orphan_problem() or self._status_problem() or mutable_problem(self.session, self.statuses)
        )

    def _link_of_hash(self, value: str) -> Link | None:
        row = self.session.execute(select(*LINK_COLUMNS).where(EVENTS.c.hash == value)).first()
        return None if row is None else _link(row)

    # -- per event ----------------------------------------------------------

    def _checked_projection(self, link: Link) -> Break | None:
        try:
            return self._projection_problem(link)
        except (KeyError, TypeError, ValueError) as error:  # hash-valid, yet not what pva writes
            return Break(link.seq, f"malformed {link.kind} payload ({type(error).__name__}: {error})")

    def _projection_problem(self, link: Link) -> Break | None:
        payload = payloads.decode(link.kind, parse_payload(link.payload))
        digest = link.digest or ""
        expected: dict[str, list[Row]] = {"op_records": [], "trashed_files": [], "approvals": []}
        match payload:
            case payloads.PlanRecorded():
                problem = self._plan_problem(link, payload)
                if problem is not None:
                    return Break(link.seq, problem)
            case payloads.ApplyOutcome():
                if digest not in self.statuses:
                    return Break(link.seq, f"an apply of plan {digest[:12]}, which no earlier event recorded")
                expected["op_records"] = payloads.op_rows(link.seq, digest, link.time, payload)
                expected["trashed_files"] = payloads.trashed_rows(link.seq, digest, payload)
            case payloads.Approval():
                expected["approvals"] = [payloads.approval_row(link.seq, digest, link.time, payload)]
        status = payloads.status_of(payload)
        if link.digest is not None and status is not None:
            self.statuses[link.digest] = (status, link.seq)
        for table, rows in expected.items():
            problem = _diff(table, rows, self._projected(table, link.seq))
            if problem is not None:
                return Break(link.seq, f"{table} do not match the event: {problem}")
        return None

    def _plan_problem(self, link: Link, payload: payloads.PlanRecorded) -> str | None:
        digest = link.digest or ""
        if digest in self.statuses:
            return f"plan {digest[:12]} recorded a second time"
        row = self._plan(link.seq, digest)
        if row is None:
            return f"the plans row of {digest[:12]} is missing"
        if hashlib.sha256(row["body"].encode("utf-8")).hexdigest() != digest:
            return f"plans.body of {digest[:12]} is not the plan with that digest"
        body = json.loads(row["body"])
        expected = payloads.plan_row(digest, row["body"], payload, link.time)
        problem = _diff("plans", [{k: v for k, v in expected.items() if k != "status"}], [row])
        if problem is None:
            scopes = payloads.scope_rows(digest, body["scope"])
            problem = _diff("plan_scopes", scopes, self._scopes.get(digest, []))
        return None if problem is None else f"plans do not match the event: {problem}"

    # -- loading projected rows a window of events at a time ----------------

    def _load(self, seq: int) -> None:
        low, high = seq, seq + WINDOW
        self._window = (low, high)
        self._rows = {}
        for name, table in (("op_records", OPS), ("trashed_files", TRASHED), ("approvals", APPROVALS)):
            grouped: dict[int, list[Row]] = defaultdict(list)
            query = select(table).where(table.c.event_seq >= low, table.c.event_seq < high)
            for row in self.session.execute(query).mappings():
                grouped[row["event_seq"]].append(dict(row))
            self._rows[name] = grouped
        self._load_plans(low, high)

    def _load_plans(self, low: int, high: int) -> None:
        recorded = select(EventRow.digest).where(
            EventRow.seq >= low, EventRow.seq < high, EventRow.kind == "plan_recorded"
        )
        self._plans = {
            row["digest"]: dict(row)
            for row in self.session.execute(select(PLANS).where(PLANS.c.digest.in_(recorded))).mappings()
        }
        self._scopes = defaultdict(list)
        query = select(SCOPES).where(SCOPES.c.digest.in_(recorded)).order_by(SCOPES.c.digest, SCOPES.c.root)
        for row in self.session.execute(query).mappings():
            self._scopes[row["digest"]].append(dict(row))

    def _projected(self, table: str, seq: int) -> list[Row]:
        if not self._window[0] <= seq < self._window[1]:
            self._load(seq)
        return self._rows[table].get(seq, [])

    def _plan(self, seq: int, digest: str) -> Row | None:
        if not self._window[0] <= seq < self._window[1]:
            self._load(seq)
        return self._plans.get(digest)

    # -- after the last event ------------------------------------------------

    def _status_problem(self) -> Break | None:
        query = select(PLANS.c.digest, PLANS.c.status).order_by(PLANS.c.digest)
        for digest, status in self.session.execute(query):
            if digest not in self.statuses:
                return Break(None, f"plans row {digest[:12]} has no plan_recorded event")
            expected, seq = self.statuses[digest]
            if status != expected:
                return Break(
                    seq, f"plans.status of {digest[:12]} is {status!r}, but this event set it to {expected!r}"
                )
        return None

    def _orphan_problem(self) -> Break | None:
        for name, table in (("op_records", OPS), ("trashed_files", TRASHED), ("approvals", APPROVALS)):
            stray = self.session.scalar(
                select(func.min(table.c.event_seq)).where(table.c.event_seq > self.head_seq)
            )
            if stray is not None:
                return Break(
                    stray, f"missing row: the chain ends at seq {self.head_seq}, yet {name} has rows for it"
                )
        return None


def _diff(table: str, expected: list[Row], actual: list[Row]) -> str | None:
    """The first difference between the rows an event projects and the rows stored, or None."""
    if table in ("op_records", "trashed_files"):
        wanted = {row["ordinal"]: row for row in expected}
        found = {row["ordinal"]: row for row in actual}
    else:
        wanted, found = dict(enumerate(expected)), dict(enumerate(actual))
    for position in sorted(wanted.keys() | found.keys()):
        if position not in found:
            return f"row {position} is missing"
        if position not in wanted:
            return f"row {position} is not in the event"
        for column, value in wanted[position].items():
            if found[position].get(column) != value:
                return f"row {position} {column} is {found[position].get(column)!r}, the event says {value!r}"
    return None


def stream_links(session: Session) -> Iterator[Link]:
    """Every event in seq order, by keyset pages (memory stays flat on a long chain)."""
    after = 0
    while True:
        query = select(*LINK_COLUMNS).where(EVENTS.c.seq > after).order_by(EVENTS.c.seq).limit(PAGE)
        rows = session.execute(query).all()
        yield from (_link(row) for row in rows)
        if len(rows) < PAGE:
            return
        after = rows[-1].seq


def _link(row: Any) -> Link:
    seq, time, *rest = row
    return Link(seq, _stored_time(seq, time), *rest)


def _stored_time(seq: int, value: object) -> datetime:
    """An event's time as the database returned it (PostgreSQL: a datetime; SQLite: text), in UTC."""
    if isinstance(value, str):
        text = value
        try:
            value = datetime.fromisoformat(text)
        except ValueError:
            raise DamagedRow(seq, f"events.time is {text[:40]!r}, which is not a time") from None
    if not isinstance(value, datetime):
        raise DamagedRow(seq, f"events.time is {value!r}, which is not a time")
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
