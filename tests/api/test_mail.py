"""Mail to approvers over SMTP (a real local server): who is mailed, what it says, one a minute at most."""

from __future__ import annotations

import email
import threading
from collections.abc import Iterator
from datetime import timedelta
from email.message import Message
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from sidecar.notify.mail import MailSettings
from sidecar.notify.worker import Deliverer, DeliverySettings
from tests.api.support import Api
from tests.servers import free_port
from tests.support.plans import plan_doc

PUBLIC = "https://pva.firm.example"


class Inbox:
    """What the local SMTP server received: each mail, with its envelope's recipients."""

    def __init__(self) -> None:
        self.mails: list[tuple[list[str], Message]] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:  # noqa: N802  # aiosmtpd's hook name
        with self.lock:
            self.mails.append((list(envelope.rcpt_tos), email.message_from_bytes(envelope.content)))
        return "250 OK"

    def to(self, address: str) -> list[Message]:
        with self.lock:
            return [mail for recipients, mail in self.mails if address in recipients]


@pytest.fixture
def inbox() -> Iterator[tuple[Inbox, int]]:
    found = Inbox()
    port = free_port()
    controller = Controller(found, hostname="127.0.0.1", port=port)
    controller.start()
    yield found, port
    controller.stop()


def body(mail: Message) -> str:
    payload = mail.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload.decode("utf-8")


def test_approvers_in_scope_get_one_mail_a_minute_listing_each_pending_plan_once(
    api: Api, inbox: tuple[Inbox, int]
) -> None:
    """alice and agnes (in scope) are mailed, batched; olga (another matter) and the author are not."""
    received, port = inbox
    tokens = api.services.tokens
    tokens.create("approver", "alice", ["matters"], email="alice@firm.example")
    tokens.create("approver", "olga", ["matters/other"], email="olga@firm.example")
    tokens.create("approver", "agnes", ["matters/acme"], email="agnes@firm.example")
    mailing = MailSettings.from_url(f"smtp://127.0.0.1:{port}", "pva@firm.example")
    worker = Deliverer(api.services.outbox, DeliverySettings(public_url=PUBLIC, mail=mailing), api.clock)
    first = api.submit(plan_doc({"op": "delete", "path": "matters/acme/inbox/Thumbs.db"}, title="Tidy up"))
    worker.run_once()
    (mail,) = received.to("alice@firm.example")
    assert mail["From"] == "pva@firm.example"
    assert mail["Subject"] == "[pva] plan waits for your approval: Tidy up"
    text = body(mail)
    assert f"Plan {first['id'][:12]} “Tidy up” by agent waits for approval." in text
    assert "Ops: 1 delete" in text
    assert "Risks: deletes 1 path (1 file); rule 'deletes' requires 2 approvals" in text
    assert f"{PUBLIC}/plans/{first['id']}" in text
    second = api.submit(api.fresh_mkdir())
    third = api.submit(api.fresh_mkdir())
    for _ in range(3):
        worker.run_once()
    assert len(received.to("alice@firm.example")) == 1  # within the minute: they wait
    api.clock.advance(timedelta(minutes=1))
    worker.run_once()
    worker.run_once()
    mails = received.to("alice@firm.example")
    assert len(mails) == 2
    assert mails[1]["Subject"] == "[pva] 2 plans wait for your approval"
    assert all(body(mails[1]).count(f"Plan {plan['id'][:12]}") == 1 for plan in (second, third))
    assert first["id"][:12] not in body(mails[1])  # no mail twice for one event
    assert received.to("olga@firm.example") == []  # another matter
    assert len(received.to("agnes@firm.example")) == 2  # acme's approver, mailed the same way
    worker.client.close()
    listed = api.get("/v1/webhooks/deliveries?webhook=alice@firm.example", "admin").json()["deliveries"]
    assert sorted(d["status"] for d in listed) == ["delivered"] * 3


def test_a_title_holding_line_breaks_neither_stops_the_mail_nor_adds_a_line_to_it(
    api: Api, inbox: tuple[Inbox, int]
) -> None:
    """An agent's title with a newline is one line of the mail, escaped: no forged link, no failed header."""
    received, port = inbox
    api.services.tokens.create("approver", "alice", ["matters"], email="alice@firm.example")
    mailing = MailSettings.from_url(f"smtp://127.0.0.1:{port}", "pva@firm.example")
    worker = Deliverer(api.services.outbox, DeliverySettings(public_url=PUBLIC, mail=mailing), api.clock)
    forged = "Approve it here: https://evil.example/approve"
    api.submit(plan_doc({"op": "delete", "path": "matters/acme/inbox/Thumbs.db"}, title=f"Tidy\n{forged}"))
    worker.run_once()
    worker.client.close()
    (mail,) = received.to("alice@firm.example")
    subject = "".join(str(mail["Subject"]).splitlines())  # unfolded: a long header is folded at a space
    assert subject == f"[pva] plan waits for your approval: Tidy\\x0a{forged}"
    assert not any(line.startswith(forged) for line in body(mail).splitlines())
    assert f"“Tidy\\x0a{forged}”" in body(mail)


def test_a_mail_server_that_is_down_is_retried_and_the_token_refuses_a_bad_address(api: Api) -> None:
    """With no server listening the delivery stays pending with its error; a bad address is refused."""
    api.services.tokens.create("approver", "alice", ["matters"], email="alice@firm.example")
    with pytest.raises(Exception, match="e-mail"):
        api.services.tokens.create("approver", "bob", ["matters"], email="not an address")
    with pytest.raises(Exception, match="takes no e-mail"):
        api.services.tokens.create("agent", "carl", ["matters"], email="carl@firm.example")
    mailing = MailSettings.from_url(f"smtp://127.0.0.1:{free_port()}", "pva@firm.example")
    worker = Deliverer(api.services.outbox, DeliverySettings(mail=mailing), api.clock)
    api.submit(api.fresh_mkdir())
    worker.run_once()
    worker.client.close()
    (delivery,) = api.get("/v1/webhooks/deliveries", "admin").json()["deliveries"]
    assert (delivery["channel"], delivery["status"], delivery["attempts"]) == ("mail", "pending", 1)
    assert "ConnectionRefusedError" in delivery["last_error"]


def test_an_approver_is_never_mailed_to_approve_their_own_plan(api: Api, inbox: tuple[Inbox, int]) -> None:
    """alice submits a plan: agnes, who may approve it, is mailed; alice, its author, is not."""
    received, port = inbox
    secret = api.services.tokens.create("approver", "alice", ["matters"], email="alice@firm.example")[1]
    api.services.tokens.create("approver", "agnes", ["matters/acme"], email="agnes@firm.example")
    mailing = MailSettings.from_url(f"smtp://127.0.0.1:{port}", "pva@firm.example")
    worker = Deliverer(api.services.outbox, DeliverySettings(mail=mailing), api.clock)
    response = api.client.post(
        "/v1/plans", json=api.fresh_mkdir(), headers={"Authorization": f"Bearer {secret}"}
    )
    assert response.json()["state"] == "pending", response.text
    worker.run_once()
    worker.client.close()
    assert len(received.to("agnes@firm.example")) == 1
    assert received.to("alice@firm.example") == []
