"""``Deliverer``: the notification worker ``pva serve`` runs in a thread, safe to run in every replica.

Each round it fans new outbox events out into deliveries, then sends the
webhook deliveries that are due, then the mail (``sidecar.notify.mail``):
one mail per approver, listing what became pending for them, at most one
a minute.
A try that fails is tried again after an exponential backoff (``backoff``,
doubling up to an hour) until ``attempts`` tries, then given up: ``pva
webhook deliveries`` shows it failed, with the last error. Several
deliverers (threads, processes, replicas) share the work through the
outbox's row claims; none sends a delivery another holds.
"""

from __future__ import annotations

import logging
import smtplib
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx

from sidecar.notify import mail, webhooks
from sidecar.notify.mail import MailSettings
from sidecar.notify.notices import plan_link
from sidecar.notify.outbox import Claimed, SqlOutbox

log = logging.getLogger("pva.notify")
MAX_DELAY = timedelta(hours=1)


@dataclass(frozen=True)
class DeliverySettings:
    """How deliveries go: the round's interval, retries, the webhook timeout, the plan pages' address."""

    interval: timedelta = timedelta(seconds=2)
    backoff: timedelta = timedelta(seconds=10)  # the first retry's delay; each next one doubles it
    attempts: int = 10  # tries before a delivery is given up
    timeout: timedelta = timedelta(seconds=10)  # one webhook request's
    public_url: str | None = None  # PVA_PUBLIC_URL: the plan pages' links start with it
    mail: MailSettings | None = None  # PVA_SMTP_URL and PVA_MAIL_FROM; None: no mail
    mail_every: timedelta = timedelta(minutes=1)  # at most one mail per approver this often
    retention: timedelta = timedelta(days=30)  # PVA_NOTIFY_RETENTION: settled deliveries and events kept
    prune_every: timedelta = timedelta(hours=1)  # how often a worker deletes what outlived the retention


def retry_delay(attempts: int, backoff: timedelta) -> timedelta:
    """The wait after the ``attempts``-th failed try: ``backoff``, doubled each time, at most an hour."""
    delay: timedelta = backoff * (2 ** max(0, attempts - 1))
    return min(MAX_DELAY, delay)


class Deliverer:
    """Sends the outbox's deliveries: ``run_once`` is one round (tests call it), ``start`` runs rounds."""

    def __init__(
        self,
        outbox: SqlOutbox,
        settings: DeliverySettings,
        clock: Callable[[], datetime],
        *,
        client: httpx.Client | None = None,
    ) -> None:
        self.outbox = outbox
        self.settings = settings
        self.clock = clock
        seconds = settings.timeout.total_seconds()
        self.client = client or httpx.Client(timeout=seconds, follow_redirects=False)
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, name="pva-notify", daemon=True)
        self.pruned: datetime | None = None  # when this worker last pruned

    @property
    def lease(self) -> timedelta:
        """How long a claim holds: long enough for a try to time out, and some."""
        return self.settings.timeout * 3

    def run_once(self) -> int:
        """One round: dispatch new events, send what is due; how many deliveries were tried.

        At most once per ``prune_every``, the round first deletes deliveries
        settled (delivered or given up) and events dispatched longer than the
        retention ago (every replica may: a delete of what another deleted is
        a no-op).
        """
        now = self.clock()
        if self.pruned is None or now - self.pruned >= self.settings.prune_every:
            deliveries, events = self.outbox.prune(now - self.settings.retention)
            self.pruned = now
            if deliveries or events:
                log.info("pruned %d deliveries and %d events past the retention", deliveries, events)
        mailing = self.settings.mail
        self.outbox.dispatch(mail=mailing is not None)
        tried = 0
        for taken in self.outbox.claim("webhook", lease=self.lease):
            link = plan_link(self.settings.public_url, taken.notice.digest)
            answer = webhooks.send(self.client, taken, link=link, now=self.clock())
            self._finish(taken, delivered=answer.delivered, status=answer.status, error=answer.error)
            tried += 1
        if mailing is not None:
            for address, batch in self.outbox.claim_mail(
                lease=self.lease, every=self.settings.mail_every
            ).items():
                self._mail(mailing, address, batch)
                tried += len(batch)
        return tried

    def _mail(self, mailing: MailSettings, address: str, batch: list[Claimed]) -> None:
        """One mail to ``address`` listing the batch's plans; each delivery settled by how it went."""
        notices = [taken.notice for taken in batch]
        message = mail.compose(
            mailing, address, notices, public_url=self.settings.public_url, now=self.clock()
        )
        try:
            mail.send(mailing, message)
        except (smtplib.SMTPException, OSError) as error:
            code = error.smtp_code if isinstance(error, smtplib.SMTPResponseException) else None
            for taken in batch:
                self._finish(taken, delivered=False, status=code, error=f"{type(error).__name__}: {error}")
            return
        for taken in batch:
            self._finish(taken, delivered=True, status=250, error=None)

    def _finish(self, taken: Claimed, *, delivered: bool, status: int | None, error: str | None) -> None:
        retry_at = None
        if not delivered and taken.attempts < self.settings.attempts:
            retry_at = self.clock() + retry_delay(taken.attempts, self.settings.backoff)
        if not delivered:
            log.warning(
                "delivery %s to %s failed (try %d): %s", taken.id, taken.target, taken.attempts, error
            )
        if not self.outbox.finish(taken, delivered=delivered, status=status, error=error, retry_at=retry_at):
            log.warning(
                "delivery %s: its claim ran out before the try ended; another worker has it", taken.id
            )

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()
        if self.thread.is_alive():
            self.thread.join()
        self.client.close()

    def _run(self) -> None:
        while not self.stopping.is_set():
            try:
                busy = self.run_once() > 0
            except Exception:  # the next round tries again; an operator reads the log
                log.exception("a round of notification deliveries failed")
                busy = False
            if not busy:
                self.stopping.wait(self.settings.interval.total_seconds())
