"""offload/work/mail_send.py: replies and acknowledgements through the outbox, sent by
the `work.email_send` sweep with Django's locmem backend."""

from __future__ import annotations

import json
import smtplib
from datetime import timedelta
from typing import Any

import pytest
from django.core import mail as django_mail
from django.utils import timezone

from offload.tenancy.tests.factories import api_client, key_for
from offload.work import mail, mail_send, services
from offload.work.models import EmailMessage, WorkItem, WorkItemEvent
from offload.work.tests.factories import make_item, make_mail, make_mailbox

pytestmark = pytest.mark.django_db

LOCMEM = "django.core.mail.backends.locmem.EmailBackend"


@pytest.fixture(autouse=True)
def locmem(settings):
    settings.EMAIL_BACKEND = LOCMEM
    django_mail.outbox = []


def conversation(**mailbox: Any) -> EmailMessage:
    box = make_mailbox(display_name="Acme support", **mailbox)
    raw = make_mail(
        to=box.address,
        sender="Jane Doe <jane@example.org>",
        subject="Bill too high",
        message_id="<first@example.org>",
        references="<older@example.org>",
        headers={"Cc": f"{box.address}, boss@example.org"},
    )
    message = mail.mail_receive(mailbox=box, raw=raw)
    assert message is not None
    return message


def reply(item: WorkItem, text: str = "We refunded the difference.") -> Any:
    return api_client(key_for(item.provider, "agent")).post(
        f"/api/v1/items/{item.pk}/reply",
        json.dumps({"text": text}),
        content_type="application/json",
    )


def test_a_providers_reply_on_an_email_item_writes_a_pending_outbound_message():
    # given
    first = conversation()
    # when
    response = reply(first.item)
    # then
    assert response.status_code == 200, response.content
    [out] = EmailMessage.objects.filter(direction="outbound")
    assert (out.status, out.item_id, out.mailbox_id) == ("pending", first.item_id, first.mailbox_id)
    assert out.to == ["jane@example.org"]
    assert out.cc == ["boss@example.org"]  # reply-all, without our own mailbox
    assert out.in_reply_to == "first@example.org"
    assert out.references == "older@example.org first@example.org"
    assert out.subject == f"Re: Bill too high [#{first.item_id}]"
    assert out.message_id.endswith("@" + first.mailbox.domain)
    assert (out.from_address, out.from_name) == (first.mailbox.address, "Acme support")
    replied = WorkItemEvent.objects.filter(item=first.item, type="replied").get()
    assert replied.data == {
        "text": "We refunded the difference.",
        "public": True,
        "from": "provider",
        "channel": "email",
        "email_message": out.pk,
    }


def test_a_reply_goes_to_the_reply_to_address_of_the_latest_message():
    # given
    first = conversation()
    later = make_mail(
        to=first.mailbox.address,
        headers={"Reply-To": "jane.work@example.com"},
        in_reply_to=f"<{first.message_id}>",
    )
    mail.mail_receive(mailbox=first.mailbox, raw=later)
    # when
    services.work_item_reply(actor=None, item=first.item, text="Noted.")
    # then
    out = EmailMessage.objects.filter(direction="outbound").get()
    assert out.to == ["jane.work@example.com"]


def test_no_mail_for_a_clients_reply_or_an_item_without_a_conversation():
    # given
    first = conversation()
    api_item = make_item(first.mailbox.process, reference="API-1")
    client = api_client(key_for(first.item.client, "client_admin"))
    # when
    answer = client.post(
        f"/api/v1/items/{first.item_id}/reply",
        json.dumps({"text": "The customer called us instead."}),
        content_type="application/json",
    )
    services.work_item_reply(actor=None, item=api_item, text="Done.")
    # then
    assert answer.status_code == 200, answer.content
    assert EmailMessage.objects.filter(direction="outbound").count() == 0
    replies = WorkItemEvent.objects.filter(type="replied").values_list("data", flat=True)
    assert [d for d in replies if "email_message" in d] == []


def test_a_reply_that_fails_writes_no_outbound_message():
    # given: a cancelled item takes no reply
    first = conversation()
    services.work_item_cancel(actor=None, item=first.item, reason="Spam")
    # when
    response = reply(first.item)
    # then
    assert response.status_code == 409
    assert EmailMessage.objects.filter(direction="outbound").count() == 0


# ------------------------------------------------------------------ the sweep


def test_the_sweep_sends_with_threading_headers_and_never_twice():
    # given
    first = conversation()
    reply(first.item)
    out = EmailMessage.objects.get(direction="outbound")
    now = timezone.now()
    # when
    sent = mail_send.email_send_due(now)
    again = mail_send.email_send_due(now + timedelta(hours=1))
    # then
    assert (sent, again) == (1, 0)
    [message] = django_mail.outbox
    headers = message.message()
    assert headers["Message-ID"] == f"<{out.message_id}>"
    assert headers["In-Reply-To"] == "<first@example.org>"
    assert headers["References"] == "<older@example.org> <first@example.org>"
    assert headers["Auto-Submitted"] is None
    assert headers["From"] == f"Acme support <{first.mailbox.address}>"
    assert message.to == ["jane@example.org"]
    assert message.cc == ["boss@example.org"]
    assert message.subject == f"Re: Bill too high [#{first.item_id}]"
    assert message.body == "We refunded the difference."
    out.refresh_from_db()
    assert (out.status, out.attempts, out.sent_at, out.next_attempt_at) == ("sent", 1, now, None)


def test_an_acknowledgement_is_sent_as_an_automatic_reply():
    # given
    conversation(auto_acknowledge=True)
    # when
    mail_send.email_send_due(timezone.now())
    # then
    [ack] = django_mail.outbox
    assert ack.message()["Auto-Submitted"] == "auto-replied"
    assert ack.message()["X-Auto-Response-Suppress"] == "All"
    assert ack.cc == []


class Refusing:
    """A mail backend whose server refuses every message with `error`."""

    error: Exception = smtplib.SMTPServerDisconnected("connection lost")

    def __init__(self, **kwargs: Any) -> None:
        pass

    def open(self) -> None:
        pass

    def close(self) -> None:
        pass

    def __enter__(self) -> Refusing:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def send_messages(self, messages: list[Any]) -> int:
        raise self.error


@pytest.fixture
def refusing(settings) -> type[Refusing]:
    settings.EMAIL_BACKEND = f"{__name__}.Refusing"
    Refusing.error = smtplib.SMTPServerDisconnected("connection lost")
    return Refusing


def test_a_temporary_failure_is_retried_with_backoff_then_marked_failed(refusing):
    # given
    first = conversation()
    reply(first.item)
    out = EmailMessage.objects.get(direction="outbound")
    now = timezone.now()
    # when: the first attempt fails
    mail_send.email_send_due(now)
    # then
    out.refresh_from_db()
    assert (out.status, out.attempts) == ("pending", 1)
    assert out.next_attempt_at == now + mail_send.backoff(1)
    assert out.last_error == "SMTPServerDisconnected: connection lost"
    # when: every later attempt fails too
    for _ in range(mail_send.MAX_ATTEMPTS - 1):
        now = out.next_attempt_at
        mail_send.email_send_due(now)
        out.refresh_from_db()
    # then
    assert (out.status, out.attempts) == ("failed", mail_send.MAX_ATTEMPTS)
    assert out.next_attempt_at is None
    failed = WorkItemEvent.objects.filter(item=first.item, type="email_failed").get()
    assert failed.data == {
        "email_message": out.pk,
        "to": ["jane@example.org"],
        "error": "SMTPServerDisconnected: connection lost",
        "attempts": mail_send.MAX_ATTEMPTS,
        "auto": False,
    }
    assert failed.actor_label == "system"


def test_a_permanent_refusal_fails_at_once(refusing):
    # given
    refusing.error = smtplib.SMTPRecipientsRefused({"jane@example.org": (550, b"no such user")})
    first = conversation()
    reply(first.item)
    # when
    mail_send.email_send_due(timezone.now())
    # then
    out = EmailMessage.objects.get(direction="outbound")
    assert (out.status, out.attempts) == ("failed", 1)
    assert WorkItemEvent.objects.filter(type="email_failed").count() == 1


def test_a_row_taken_over_after_its_lease_is_recorded_once(monkeypatch):
    # given: a worker stalls past its lease while sending; another claims and sends
    first = conversation()
    reply(first.item)
    now = timezone.now()
    later = now + mail_send.LEASE + timedelta(seconds=1)
    real_send = mail_send._send

    def slow_send(row: EmailMessage, connection: Any) -> tuple[str, bool]:
        monkeypatch.setattr(mail_send, "_send", real_send)
        assert mail_send.email_send_due(later) == 1  # the second worker
        return real_send(row, connection)

    monkeypatch.setattr(mail_send, "_send", slow_send)
    # when
    mail_send.email_send_due(now)
    # then: sent twice (at least once), recorded by the worker holding the lease only
    out = EmailMessage.objects.get(direction="outbound")
    assert len(django_mail.outbox) == 2
    assert (out.status, out.attempts, out.sent_at) == ("sent", 1, later)
