"""The SMTP listener end to end: real SMTP on loopback (smtplib to aiosmtpd), the
ORM in the listener's worker threads, so the database is used for real
(`transaction=True`), on SQLite and PostgreSQL alike."""

from __future__ import annotations

import asyncio
import email
import email.policy
import json
import os
import signal
import smtplib
import socket
import threading
import time
from collections.abc import Iterator
from email.message import EmailMessage as Mail
from io import StringIO

import pytest
from aiosmtpd.controller import Controller
from django.core import mail as django_mail
from django.core.management import call_command
from django.utils import timezone

from offload.tenancy.tests.factories import api_client, key_for
from offload.work import mail, mail_send, services, smtpd
from offload.work.models import EmailMessage, Mailbox, WorkItem, WorkItemEvent
from offload.work.tests.factories import make_mail, make_mailbox

pytestmark = pytest.mark.django_db(transaction=True)

HOST = "127.0.0.1"
LIMIT = 64 * 1024


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


@pytest.fixture
def listener(settings) -> Iterator[Controller]:
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    django_mail.outbox = []
    controller = smtpd.controller(host=HOST, port=free_port(), limit=LIMIT)
    controller.start()
    yield controller
    controller.stop()


@pytest.fixture
def mailbox() -> Mailbox:
    return make_mailbox(address="support@acme.offload.localhost", display_name="Acme support")


def send(listener: Controller, raw: bytes, *, to: str, sender: str = "jane@example.org") -> None:
    with smtplib.SMTP(HOST, listener.port, timeout=30) as client:
        client.sendmail(sender, [to], raw)


def test_a_customer_writes_an_agent_answers_the_customer_replies_one_item(listener, mailbox):
    # given: the customer writes
    first = Mail()
    first["From"] = "Jane Doe <jane@example.org>"
    first["To"] = mailbox.address
    first["Subject"] = "My router keeps rebooting"
    first["Message-ID"] = "<first-message@example.org>"
    first.set_content("It reboots every hour since Monday.")
    send(listener, first.as_bytes(), to=mailbox.address)
    [item] = WorkItem.objects.all()
    assert (item.reference, item.subject) == ("first-message@example.org", first["Subject"])
    # when: an agent answers through the API and waits on the customer
    agent = api_client(key_for(item.provider, "agent"))
    answer = agent.post(
        f"/api/v1/items/{item.pk}/reply",
        json.dumps({"text": "Please hold the reset button for 10 seconds."}),
        content_type="application/json",
    )
    assert answer.status_code == 200, answer.content
    waited = agent.post(f"/api/v1/items/{item.pk}/wait", "{}", content_type="application/json")
    assert waited.status_code == 200, waited.content
    assert mail_send.email_send_due(timezone.now()) == 1
    [sent] = django_mail.outbox
    sent_mail = sent.message()
    # then the customer replies to what they received
    reply = Mail()
    reply["From"] = "Jane Doe <jane@example.org>"
    reply["To"] = sent_mail["From"]
    reply["Subject"] = f"Re: {sent_mail['Subject']}"
    reply["Message-ID"] = "<second-message@example.org>"
    reply["In-Reply-To"] = sent_mail["Message-ID"]
    reply["References"] = f"{sent_mail['References']} {sent_mail['Message-ID']}"
    reply.set_content(
        "Done, it still reboots.\n\nOn Tue, Acme support wrote:\n> Please hold the reset button"
    )
    send(listener, reply.as_bytes(), to=mailbox.address)
    # then: one item, both inbound messages and the outbound one on it
    assert WorkItem.objects.count() == 1
    item.refresh_from_db()
    assert item.status == "in_progress"
    messages = list(EmailMessage.objects.filter(item=item).order_by("id"))
    assert [(m.direction, m.message_id) for m in messages] == [
        ("inbound", "first-message@example.org"),
        ("outbound", sent_mail["Message-ID"].strip("<>")),
        ("inbound", "second-message@example.org"),
    ]
    outbound = messages[1]
    assert outbound.status == "sent"
    assert sent_mail["In-Reply-To"] == "<first-message@example.org>"
    assert sent_mail["References"] == "<first-message@example.org>"
    assert sent_mail["Subject"] == f"Re: My router keeps rebooting [#{item.pk}]"
    assert messages[2].in_reply_to == outbound.message_id
    assert messages[2].references.split() == ["first-message@example.org", outbound.message_id]
    kinds = list(WorkItemEvent.objects.filter(item=item).values_list("type", flat=True))
    assert kinds == ["created", "queued", "replied", "waiting_on_client", "replied", "resumed"]
    customer = WorkItemEvent.objects.get(item=item, seq=5)
    assert customer.data["from"] == "customer"
    assert customer.data["text"] == "Done, it still reboots."
    assert customer.data["email_message"] == messages[2].pk


def test_a_retried_delivery_is_stored_once(listener, mailbox):
    # given
    raw = make_mail(to=mailbox.address, message_id="<retried@example.org>")
    # when: the sender's server did not see our 250 and sends it again
    send(listener, raw, to=mailbox.address)
    send(listener, raw, to=mailbox.address)
    # then
    assert EmailMessage.objects.count() == 1
    assert WorkItem.objects.count() == 1


def test_an_unknown_recipient_is_refused_with_550(listener, mailbox):
    # when
    with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
        send(listener, make_mail(to="nobody@acme.offload.localhost"), to="nobody@acme.example")
    # then
    [(code, text)] = refused.value.recipients.values()
    assert (code, text) == (550, b"5.1.1 no such mailbox")
    assert WorkItem.objects.count() == 0


def test_an_inactive_mailbox_takes_no_mail(listener, mailbox):
    # given
    Mailbox.objects.filter(pk=mailbox.pk).update(is_active=False)
    # then
    with pytest.raises(smtplib.SMTPRecipientsRefused):
        send(listener, make_mail(to=mailbox.address), to=mailbox.address)


def test_a_message_over_the_limit_is_refused_with_552(listener, mailbox):
    # given
    raw = make_mail(to=mailbox.address, text="x" * (LIMIT + 1000))
    # when
    with pytest.raises((smtplib.SMTPSenderRefused, smtplib.SMTPDataError)) as refused:
        send(listener, raw, to=mailbox.address)
    # then
    assert refused.value.smtp_code == 552
    assert WorkItem.objects.count() == 0


def test_the_handler_refuses_an_oversize_message_itself():
    # given: a sender that ignores SIZE (the handler is the second line)
    handler = smtpd.MailHandler(limit=10)

    class Envelope:
        original_content = b"x" * 11
        content = original_content
        rcpt_tos: list[str] = []
        mail_from = "a@b"

    # when
    answer = asyncio.run(handler.handle_DATA(None, None, Envelope()))
    # then
    assert answer == "552 5.3.4 message too big: the limit is 10 bytes"


def test_attachments_arrive_as_files_of_the_item(listener, mailbox):
    # given
    raw = make_mail(
        to=mailbox.address, attachments=[("invoice.pdf", "application/pdf", b"%PDF-1.4 bill")]
    )
    # when
    send(listener, raw, to=mailbox.address)
    # then
    [item] = WorkItem.objects.all()
    [attachment] = item.attachments.all()
    assert (attachment.filename, attachment.source, attachment.size) == ("invoice.pdf", "email", 13)


def test_a_failure_while_storing_answers_451_so_the_sender_retries(listener, mailbox, monkeypatch):
    # given
    def broken(**kwargs: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(mail, "mail_receive", broken)
    # when
    with pytest.raises(smtplib.SMTPDataError) as refused:
        send(listener, make_mail(to=mailbox.address), to=mailbox.address)
    # then
    assert refused.value.smtp_code == 451


def test_the_smtpd_command_serves_until_sigterm(mailbox, settings):
    # given
    port = free_port()
    sent: list[str] = []

    def customer() -> None:
        try:
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                try:
                    with smtplib.SMTP(HOST, port, timeout=10) as client:
                        client.sendmail("jane@example.org", [mailbox.address], raw)
                        sent.append("ok")
                        return
                except OSError:
                    time.sleep(0.05)
        finally:
            os.kill(os.getpid(), signal.SIGTERM)

    raw = make_mail(to=mailbox.address, message_id="<by-command@example.org>")
    out = StringIO()
    thread = threading.Thread(target=customer)
    thread.start()
    # when
    call_command("smtpd", host=HOST, port=port, stdout=out)
    thread.join()
    # then
    assert sent == ["ok"]
    assert f"listening on {HOST}:{port}" in out.getvalue()
    assert WorkItem.objects.get().reference == "by-command@example.org"


def test_a_parsed_copy_of_the_sent_answer_threads_like_the_original(listener, mailbox):
    """What a mail client does: it parses the answer it got and replies to it."""
    # given
    send(listener, make_mail(to=mailbox.address, message_id="<a@example.org>"), to=mailbox.address)
    item = WorkItem.objects.get()
    services.work_item_reply(actor=None, item=item, text="Answer")
    mail_send.email_send_due(timezone.now())
    received = email.message_from_bytes(
        django_mail.outbox[0].message().as_bytes(), policy=email.policy.default
    )
    # when
    reply = make_mail(
        to=mailbox.address,
        subject=f"Re: {received['Subject']}",
        in_reply_to=str(received["Message-ID"]),
    )
    send(listener, reply, to=mailbox.address)
    # then
    assert WorkItem.objects.count() == 1
    assert EmailMessage.objects.filter(item=item, direction="inbound").count() == 2
