"""E-mail to approvers over SMTP: the settings' URL, the batch of pending plans one mail lists, sending it.

``PVA_SMTP_URL`` is ``smtp://[user:password@]host[:port]`` (STARTTLS when the
server offers it, port 25 by default) or ``smtps://...`` (TLS from the first
byte, port 465). An approver gets at most one mail a minute: what became
pending for them meanwhile waits, and goes in their next mail together.
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from urllib.parse import unquote, urlsplit

from planner.core.errors import PvaError
from planner.core.preview import terminal_safe
from sidecar.notify.notices import Notice, plan_link, text

SMTP_PORTS = {"smtp": 25, "smtps": 465}


class BadSmtpUrl(PvaError):
    """``PVA_SMTP_URL`` is not an ``smtp://`` or ``smtps://`` URL with a host."""

    exit_code = 2


@dataclass(frozen=True)
class MailSettings:
    """Where mail goes out and whom it is from."""

    host: str
    port: int
    implicit_tls: bool  # smtps://; otherwise STARTTLS when the server offers it
    user: str | None
    password: str | None
    sender: str
    timeout: float = 30.0

    @classmethod
    def from_url(cls, url: str, sender: str) -> MailSettings:
        parts = urlsplit(url)
        if parts.scheme not in SMTP_PORTS or not parts.hostname:
            raise BadSmtpUrl("PVA_SMTP_URL: give smtp://[user:password@]host[:port] or smtps://...")
        return cls(
            host=parts.hostname,
            port=parts.port or SMTP_PORTS[parts.scheme],
            implicit_tls=parts.scheme == "smtps",
            user=None if parts.username is None else unquote(parts.username),
            password=None if parts.password is None else unquote(parts.password),
            sender=sender,
        )


def compose(
    settings: MailSettings, to: str, notices: Sequence[Notice], *, public_url: str | None, now: datetime
) -> EmailMessage:
    """One mail to ``to`` listing the pending plans of ``notices``: title, author, counts, risks, link."""
    message = EmailMessage()
    count = len(notices)
    first = terminal_safe(notices[0].title)  # a header holds no line break: an agent's title may
    message["Subject"] = (
        f"[pva] plan waits for your approval: {first}"
        if count == 1
        else f"[pva] {count} plans wait for your approval"
    )
    message["From"] = settings.sender
    message["To"] = to
    message["Date"] = format_datetime(now)
    message["Message-ID"] = make_msgid(domain=settings.sender.rpartition("@")[2] or None)
    blocks = [text(notice, plan_link(public_url, notice.digest)) for notice in notices]
    footer = "You get this as an approver whose scope holds these plans. Sign in to decide."
    message.set_content("\n\n".join([*blocks, footer]) + "\n")
    return message


def send(settings: MailSettings, message: EmailMessage) -> None:
    """Hand ``message`` to the SMTP server; ``smtplib.SMTPException`` or ``OSError`` when it fails."""
    context = ssl.create_default_context()
    if settings.implicit_tls:
        client: smtplib.SMTP = smtplib.SMTP_SSL(
            settings.host, settings.port, timeout=settings.timeout, context=context
        )
    else:
        client = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)
    with client:
        if not settings.implicit_tls:
            client.ehlo()
            if client.has_extn("starttls"):
                client.starttls(context=context)
                client.ehlo()
        if settings.user is not None:
            client.login(settings.user, settings.password or "")
        client.send_message(message)
