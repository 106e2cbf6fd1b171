"""``CustodyService``: custody reports for a reader, behind the ethical wall, signed with the checkpoint key.

Who: approvers, auditors and admins (the audit's readers), about a document
or a matter's folder inside their scope. What they get holds only what the
wall lets them see (``sidecar.walls``): events of plans every path of which
lies in their scope, outside changes whose every path does, names of the
document inside their scope; an apply that also touched another matter is
left out whole, never shown redacted.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sidecar.audit import payloads
from sidecar.audit.chain import Link
from sidecar.audit.checkpoints import CheckpointError, Destination, Signer, parse_signer
from sidecar.audit.custody import SubjectKind
from sidecar.audit.custody_formats import Format, render
from sidecar.audit.custody_source import SqlCustody, report
from sidecar.service.plans import BadPath, check_read_path
from sidecar.service.reads import AUDIT_ROLES, ReadService
from sidecar.settings import Settings
from sidecar.tokens import Principal
from sidecar.walls import sees_paths
from sidecar.workflow import NotAllowed

NO_KEY = "custody reports are signed with PVA_CHECKPOINT_KEY, which is not set (docs/operations.md)"


class ReportsUnavailable(CheckpointError):
    """No key to sign reports with: PVA_CHECKPOINT_KEY is not set."""


@dataclass
class CustodyService:
    """Signed custody reports, each of what its reader may see."""

    source: SqlCustody
    reads: ReadService
    signer: Signer | None
    origin: str
    publish_to: Path | Destination | None
    clock: Callable[[], datetime]

    @classmethod
    def of(
        cls,
        source: SqlCustody,
        reads: ReadService,
        settings: Settings,
        clock: Callable[[], datetime],
        publish_to: Path | Destination | None = None,
    ) -> CustodyService:
        """The service the settings ask for (the checkpoint key signs; ``publish_to`` gets the checkpoint)."""
        key = settings.checkpoint_key
        signer = None if key is None else parse_signer(key.get_secret_value())
        origin = settings.checkpoint_origin or (signer.name if signer else "")
        return cls(source, reads, signer, origin, publish_to, clock)

    def report(
        self,
        who: Principal,
        kind: SubjectKind,
        target: str,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> dict[str, Any]:
        """The signed report on ``target`` (a document's path, or a matter's folder) for ``who``."""
        if who.role not in AUDIT_ROLES:
            raise NotAllowed(
                f"{who.name} has role {who.role.value}; custody reports are for approvers, auditors, admins"
            )
        check_read_path(target)
        if not who.may_touch(target):
            raise NotAllowed(f"{who.name} may not read {target!r}: it is outside their scope")
        if self.signer is None:
            raise ReportsUnavailable(NO_KEY)
        subject = self.source.subject(kind, target, since=since, until=until, may_see=who.may_touch)
        return report(
            self.source,
            subject,
            self.visible_to(who),
            self.signer,
            origin=self.origin,
            made=self.clock(),
            made_by=who.name,
            publish_to=self.publish_to,
        )

    def visible_to(self, who: Principal) -> Callable[[Link], bool]:
        """The wall, event by event: a plan's events if the reader sees the plan; a change by its paths."""
        sees_plan = self.reads.plan_check(who)

        def visible(link: Link) -> bool:
            if who.whole_store:
                return True
            if link.digest is not None:
                return sees_plan(link.digest)
            if link.kind == "outside_change":
                return sees_paths(who, payloads.decode_outside(json.loads(link.payload)).paths)
            return False  # tokens, incidents of no plan: for whole-store readers

        return visible


@dataclass(frozen=True)
class Download:
    """A report as a file to send: its bytes, its media type, and a file name."""

    body: bytes
    media_type: str
    filename: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Content-Disposition": f'attachment; filename="{self.filename}"'}


MEDIA = {"json": "application/json", "html": "text/html; charset=utf-8", "csv": "text/csv; charset=utf-8"}


def custody_download(
    service: CustodyService | None,
    who: Principal,
    *,
    path: str | None,
    matter: str | None,
    since: datetime | None,
    until: datetime | None,
    fmt: Format,
) -> Download:
    """The report the API and the page send: one of ``path`` or ``matter``, rendered in ``fmt``."""
    if (path is None) == (matter is None):
        raise BadPath("give a document's path or a matter's folder: one of path and matter")
    if service is None:
        raise ReportsUnavailable(NO_KEY)
    kind: SubjectKind = "path" if path is not None else "matter"
    target = path if path is not None else matter
    assert target is not None
    document = service.report(who, kind, target, since=since, until=until)
    made = str(document["made"])[:19].replace(":", "").replace("-", "")
    return Download(render(document, fmt).encode("utf-8"), MEDIA[fmt], f"custody-{made}.{fmt}")
