"""What follows an apply's last step, for the engine and for recovery alike.

``Finisher.finish`` records the outcome in the audit once (idempotent by the
journal's ``audited`` record), reads the touched paths back and compares them
with the prediction (a difference is an incident), cleans up staging and
retires the journal. Recovery needs this and the journal, not the engine.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime

from planner.core.entry import Entry
from planner.core.footprint import Read
from sidecar.apply.journal import Journal, JournalStore
from sidecar.apply.journal_records import Audited, Checked, Done, Intent
from sidecar.audit.log import AuditLog
from sidecar.audit.records import ApplyRecord, ApplyStatus, Incident
from sidecar.backends.base import STAGING, Backend
from sidecar.errors import StoreError

Hook = Callable[[str], None]


@dataclass(frozen=True)
class Finisher:
    """Settles one store's applies past their last step: the audit, the check, the clean-up."""

    backend: Backend
    audit: AuditLog
    journals: JournalStore
    clock: Callable[[], datetime]
    hook: Hook

    def finish(
        self,
        journal: Journal,
        intent: Intent,
        *,
        status: ApplyStatus,
        recovered: bool,
        message: str = "",
        incidents: tuple[str, ...] = (),
    ) -> ApplyRecord:
        """Record the outcome once, check the result, clean up and retire the journal.

        The record returned carries the incidents recorded on the way (also
        audit events of their own), so the person applying sees them.
        """
        kinds = journal.kinds
        applied = status == "applied"
        record = ApplyRecord(
            digest=intent.digest,
            status=status,
            actor=intent.actor,
            started=intent.started,
            finished=self.clock(),
            ops=intent.ops if applied else (),
            trashed=intent.trashed if applied else (),
            diagnostics=intent.warnings if applied else (),
            message=message or ("applied" if applied else "rolled back"),
            store=self.backend.name,
            recovered=recovered,
            attempt=intent.attempt,
            inverse=intent.inverse if applied else None,
        )
        if Audited not in kinds:
            self.audit.record_apply(record)
            self.hook("audited")
            journal.append(Audited())
        if applied and Checked not in kinds:
            wrong = self._after_commit(intent.digest, "read back", lambda: self._check_prediction(intent))
            incidents = (*incidents, *([wrong] if wrong else []))
            journal.append(Checked())
            self.hook("checked")
        staging = f"{STAGING}/{intent.digest}"
        if applied:
            left = self._after_commit(intent.digest, "cleaned up", lambda: self.backend.discard(staging))
            incidents = (*incidents, *([left] if left else []))
        else:
            self.backend.discard(staging)
        journal.append(Done())
        self.hook("done")
        self.journals.retire(journal)
        return replace(record, incidents=incidents) if incidents else record

    def _after_commit(self, digest: str, what: str, check: Callable[[], str | None]) -> str | None:
        """Run a check or a clean-up after the commit point: a store error there is an incident.

        The plan is applied and audited by then, so a failure (a folder
        swapped for a symlink, say) must not read like a refusal.
        """
        try:
            return check()
        except StoreError as error:
            message = f"the applied plan's paths could not be {what} after the commit: {error}"
            self.audit.record_incident(Incident(digest, message, (error.path,)))
            return message

    def _check_prediction(self, intent: Intent) -> str | None:
        """Read the touched paths back; a difference from the prediction is an incident (its message)."""
        predicted = intent.prediction
        # Hash only what the prediction can be compared with (a moved file's hash may be unknown):
        # nothing else is compared, so the others need no content identity either.
        reads = [
            Read(path, hashed=entry is not None and entry.sha256 is not None, identified=False)
            for path, entry in predicted.items()
        ]
        actual = self.backend.read_tree(reads)
        wrong = sorted(path for path, entry in predicted.items() if not _same(entry, actual.stat(path)))
        if wrong:
            message = f"after apply, {len(wrong)} paths differ from the verified prediction: {wrong[:10]}"
            self.audit.record_incident(Incident(intent.digest, message, tuple(wrong)))
            return message
        return None


def _same(predicted: Entry | None, actual: Entry | None) -> bool:
    if predicted is None or actual is None:
        return predicted is actual
    if predicted.kind != actual.kind or (predicted.size is not None and predicted.size != actual.size):
        return False
    return predicted.sha256 is None or predicted.sha256 == actual.sha256
