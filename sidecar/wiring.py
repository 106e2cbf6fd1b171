"""The composition root: build the sidecar's parts from settings, in one place.

Nothing is built at import time. Commands and the HTTP app call
``open_services`` and close what it returns; tests pass their own clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Self

from sidecar import db
from sidecar.apply.engine import Engine
from sidecar.apply.progress import SqlProgress
from sidecar.audit.custody_source import SqlCustody
from sidecar.audit.store import SqlAuditStore
from sidecar.backends.base import Backend
from sidecar.errors import StoreFault
from sidecar.holds import HoldStore
from sidecar.jobs import Worker
from sidecar.jobs.local import LocalQueue, ThreadWorker
from sidecar.jobs.postgres import PostgresQueue, PostgresWorker
from sidecar.notify.mail import MailSettings
from sidecar.notify.outbox import SqlOutbox
from sidecar.notify.worker import Deliverer, DeliverySettings
from sidecar.policy import Policy, parse_policy
from sidecar.service.blobs import BlobLimits, BlobService, SqlBlobs
from sidecar.service.cases import SqlCaseStore
from sidecar.service.custody import CustodyService
from sidecar.service.holds import HoldService
from sidecar.service.plans import PlanService, WorkflowSettings
from sidecar.service.reads import ReadService
from sidecar.settings import Settings
from sidecar.stores import StoreParts, checkpoint_destination, open_store
from sidecar.tokens import TokenStore


@dataclass
class Services:
    """The live parts: the store, the audit database's stores, the engine, the plan and hold services."""

    store: StoreParts
    audit: SqlAuditStore
    tokens: TokenStore
    engine: Engine
    plans: PlanService
    reads: ReadService
    outbox: SqlOutbox  # notifications: the events the case store writes, webhooks, deliveries
    holds: HoldService
    jobs: LocalQueue | PostgresQueue | None = None  # PVA_APPLY_MODE=jobs: where applies wait for a worker
    database_url: str = ""
    custody: CustodyService | None = None  # signed custody reports
    blobs: BlobService | None = None  # uploads for content_ref writes

    def worker(self, settings: Settings, *, name: str = "pva") -> Worker | None:
        """A worker that runs this process's share of the queued applies (none in 'request' mode)."""
        if isinstance(self.jobs, LocalQueue):
            return ThreadWorker(self.jobs, self.plans)
        if isinstance(self.jobs, PostgresQueue):
            return PostgresWorker(
                self.database_url, self.plans, self.jobs, heartbeat=settings.job_heartbeat, name=name
            )
        return None

    def deliverer(self, settings: Settings, clock: db.Clock = db.utc_now) -> Deliverer | None:
        """This process's notification worker (every process may run one); None when PVA_NOTIFY is off."""
        if not settings.notify:
            return None
        return Deliverer(self.outbox, delivery_settings(settings), clock)

    def require_blobs(self) -> BlobService:
        """The blob service (every sidecar has one; tests may wire services without it)."""
        if self.blobs is None:
            raise StoreFault("", "this sidecar takes no uploads")
        return self.blobs

    @property
    def backend(self) -> Backend:
        return self.store.backend

    @property
    def policy(self) -> Policy:
        return self.plans.policy

    def close(self) -> None:
        if isinstance(self.jobs, PostgresQueue):
            self.jobs.close()
        self.store.close()
        self.audit.close()  # the database's stores share one engine: disposing it once is enough

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def load_policy(path: str | None) -> Policy:
    """The policy in the file at ``path`` (PolicyError names every problem); no file: the empty policy."""
    if path is None:
        return Policy()
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise StoreFault(path, f"cannot read the policy file {path}: {error.strerror}") from None
    return parse_policy(text)


def open_services(
    settings: Settings, *, create_store: bool = False, clock: db.Clock = db.utc_now
) -> Services:
    """Open the store and the audit database named by ``settings``, and wire the service over them."""
    policy = load_policy(settings.policy)
    engine = db.make_engine(settings.database_url, create=False, pool=settings.database_pool)
    try:
        audit = SqlAuditStore(engine, clock=clock)
        tokens = TokenStore(engine, clock=clock)
        cases = SqlCaseStore(engine, clock=clock)
        outbox = SqlOutbox(engine, clock=clock)
        holds = HoldStore(engine, clock=clock)
        store = open_store(
            settings.store,
            create=create_store,
            state_dir=Path(settings.state_dir),
            database=engine,
            lease=settings.lock_lease,
        )
    except BaseException:
        engine.dispose()
        raise
    apply_engine = Engine(
        store.backend,
        audit,
        store.journals,
        locks=store.locks,
        clock=clock,
        progress=SqlProgress(engine, clock=clock),
        holds=holds.held,
    )
    workflow = WorkflowSettings(
        approval_ttl=settings.approval_ttl, auto_apply=settings.auto_apply, apply_lease=settings.apply_lease
    )
    jobs = apply_queue(settings)
    plans = PlanService(apply_engine, audit, cases, policy, clock, workflow, queue=jobs)
    reads = ReadService(audit, cases, store.backend, settings.audit_reads)
    where = checkpoint_destination(settings.checkpoint_dir) if settings.checkpoint_dir else None
    custody = CustodyService.of(SqlCustody(engine, clock=clock), reads, settings, clock, where)
    limits = BlobLimits(settings.max_blob_bytes, settings.blob_quota_bytes, settings.blob_retention)
    blobs = BlobService(SqlBlobs(engine, clock=clock), store.backend, limits)
    return Services(
        store,
        audit,
        tokens,
        apply_engine,
        plans,
        reads,
        outbox,
        HoldService(holds, apply_engine),
        jobs,
        settings.database_url,
        custody,
        blobs,
    )


def delivery_settings(settings: Settings) -> DeliverySettings:
    """How notifications are delivered, from the PVA_* settings."""
    return DeliverySettings(
        interval=settings.notify_interval,
        backoff=settings.webhook_backoff,
        attempts=settings.webhook_attempts,
        timeout=settings.webhook_timeout,
        public_url=settings.public_url,
        mail=mail_settings(settings),
        retention=settings.notify_retention,
    )


def mail_settings(settings: Settings) -> MailSettings | None:
    """Where mail to approvers goes out (PVA_SMTP_URL, PVA_MAIL_FROM); None unless both are set."""
    if settings.smtp_url is None or not settings.mail_from:
        return None
    return MailSettings.from_url(settings.smtp_url.get_secret_value(), settings.mail_from)


def apply_queue(settings: Settings) -> LocalQueue | PostgresQueue | None:
    """Where applies wait: Procrastinate's on PostgreSQL, a thread's on SQLite; none in 'request' mode."""
    if settings.apply_mode == "request":
        return None
    if db.database_url(settings.database_url).get_backend_name() == "postgresql":
        return PostgresQueue(settings.database_url)
    return LocalQueue()
