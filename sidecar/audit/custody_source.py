"""Finding a custody report's events in the audit database, proving each, and signing the report.

The events of a report on some names (``custody.Subject``): every apply
whose ops touched one of them (through the op_records indexes) and every
outside change that names one, within the time window; then, for each plan
among those applies, its record, decisions, state changes, other applies and
incidents (whenever they happened: they explain the apply). The caller's
``visible`` decides, event by event, what the reader may see (the ethical
wall); the rest is left out whole.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from sidecar.audit import checkpoints, custody, payloads
from sidecar.audit.chain import Link
from sidecar.audit.checkpoints import Checkpoint, Signer
from sidecar.audit.custody import Subject, SubjectKind
from sidecar.audit.store import SqlAuditStore, overlaps
from sidecar.audit.tables import EventRow, OpRecordRow
from sidecar.audit.tree import SqlAuditTree
from sidecar.errors import AuditError

Visible = Callable[[Link], bool]
EXPLAINING = ("plan_recorded", "approval", "workflow", "apply", "incident")
MAX_EVENTS = 20_000  # a report larger than this is refused: narrow it by time


class ReportTooLarge(AuditError):
    """A report would hold more events than one document can carry: give --from and --to."""

    exit_code = 2


class SqlCustody(SqlAuditStore):
    """The audit database, read for custody reports."""

    def subject(
        self,
        kind: SubjectKind,
        target: str,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        may_see: Callable[[str], bool] = lambda _: True,
    ) -> Subject:
        """A report's subject: a matter's folder, or a document's every name (its history, followed).

        ``may_see`` keeps only names the reader may see: a name behind the
        wall is not shown, even as a name.
        """
        names: list[str] = [target]
        if kind == "path":
            found = self.history(target)
            for item in found.items:
                names.extend(name for name in (item.name_before, item.name_after) if name is not None)
            names.extend((*found.origins, *found.current))
        kept = tuple(name for name in dict.fromkeys(names) if may_see(name))
        return Subject(kind, target, kept, since, until)

    def links_about(self, subject: Subject, visible: Visible) -> list[Link]:
        """The events of a report on ``subject`` the reader may see, in chain order."""
        with self._sessions() as session:
            touching = [*self._applies_touching(session, subject), *self._outside_touching(session, subject)]
            shown = {link.seq: link for link in touching if visible(link)}
            digests = sorted({link.digest for link in shown.values() if link.digest is not None})
            for start in range(0, len(digests), 500):
                query = select(EventRow).where(
                    EventRow.digest.in_(digests[start : start + 500]), EventRow.kind.in_(EXPLAINING)
                )
                for row in session.scalars(query):
                    link = _link(row)
                    if link.seq not in shown and visible(link):
                        shown[link.seq] = link
        if len(shown) > MAX_EVENTS:
            raise ReportTooLarge(
                f"the report would hold {len(shown)} events, more than {MAX_EVENTS}: narrow it by time"
            )
        return [shown[seq] for seq in sorted(shown)]

    def _applies_touching(self, session: Session, subject: Subject) -> list[Link]:
        if not subject.names:
            return []
        near = [
            overlaps(column, name) for name in subject.names for column in (OpRecordRow.path, OpRecordRow.src)
        ]
        seqs = select(OpRecordRow.event_seq).where(or_(*near)).distinct()
        query = _windowed(select(EventRow).where(EventRow.seq.in_(seqs)), subject)
        return [_link(row) for row in session.scalars(query)]

    def _outside_touching(self, session: Session, subject: Subject) -> list[Link]:
        """Outside changes naming one of the names (no index: outside changes are few, read and filtered)."""
        query = _windowed(select(EventRow).where(EventRow.kind == "outside_change"), subject)
        found = []
        for row in session.scalars(query):
            change = payloads.decode_outside(json.loads(row.payload))
            if any(subject.touches(path) for path in change.paths):
                found.append(_link(row))
        return found


def report(
    source: SqlCustody,
    subject: Subject,
    visible: Visible,
    signer: Signer,
    *,
    origin: str,
    made: datetime,
    made_by: str,
    publish_to: Path | checkpoints.Destination | None = None,
) -> dict[str, Any]:
    """The signed report on ``subject``: its events, each proven against a checkpoint signed now.

    The checkpoint is also published to ``publish_to`` when given (the
    series of published checkpoints then holds it). The report is checked
    as ``pva custody verify`` would before it is returned: an event edited in
    the database behind pva's back fails here, it is never signed.
    """
    links = source.links_about(subject, visible)
    tree = SqlAuditTree(source.engine)
    head, proofs = tree.proofs(link.seq for link in links)
    checkpoint = Checkpoint(origin, head.size, head.root)
    note = checkpoints.sign(checkpoint, signer)
    if publish_to is not None and head.size:
        checkpoints.publish(note, checkpoint, publish_to)
    document = custody.make(
        subject, [(link, proofs[link.seq]) for link in links], note, signer, made=made, made_by=made_by
    )
    checked = custody.check(document, signer.verifier)
    if not checked.ok:
        raise AuditError(f"the audit does not hold for this report: {'; '.join(checked.problems[:3])}")
    return document


def _windowed(query: Any, subject: Subject) -> Any:
    if subject.since is not None:
        query = query.where(EventRow.time >= subject.since)
    if subject.until is not None:
        query = query.where(EventRow.time < subject.until)
    return query.order_by(EventRow.seq)


def _link(row: EventRow) -> Link:
    return Link(row.seq, row.time, row.kind, row.digest, row.actor, row.payload, row.prev_hash, row.hash)
