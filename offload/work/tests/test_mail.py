"""offload/work/mail.py: inbound mail becomes items and lands on their threads; the
IMAP poller, through a fake of imap-tools' MailBox."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from email import message_from_bytes
from email.message import Message
from typing import Any

import pytest
from django.utils import timezone

from offload.contracts.tests.factories import make_engagement
from offload.work import mail, mailparse, services
from offload.work.models import (
    Attachment,
    EmailMessage,
    Mailbox,
    WorkItem,
    WorkItemEvent,
)
from offload.work.tests.factories import make_mail, make_mailbox, make_process

pytestmark = pytest.mark.django_db

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


def events(item: WorkItem) -> list[tuple[str, dict[str, Any]]]:
    return [(e.type, e.data) for e in WorkItemEvent.objects.filter(item=item).order_by("seq")]


def types(item: WorkItem) -> list[str]:
    return [t for t, _ in events(item)]


def receive(mailbox: Mailbox, **kwargs: Any) -> EmailMessage:
    message = mail.mail_receive(mailbox=mailbox, raw=make_mail(to=mailbox.address, **kwargs))
    assert message is not None
    return message


def answered(message: EmailMessage, text: str = "Please restart it and tell us.") -> EmailMessage:
    """The provider's reply to the message's item, as the outbound row it wrote."""
    services.work_item_reply(actor=None, item=message.item, text=text)
    return EmailMessage.objects.filter(item=message.item, direction="outbound").latest("id")


# ------------------------------------------------------------------ new mail


def test_new_mail_becomes_a_queued_item_of_the_mailboxs_process():
    # given
    mailbox = make_mailbox(display_name="Support")
    # when
    message = receive(
        mailbox,
        message_id="<first-1@example.org>",
        sender="Jane Doe <Jane@Example.org>",
        subject="Bill too high",
        headers={"Cc": "boss@example.org"},
    )
    # then
    item = message.item
    assert (item.reference, item.subject, item.channel, item.status) == (
        "first-1@example.org",
        "Bill too high",
        "email",
        "queued",
    )
    assert item.process_id == mailbox.process_id
    assert item.payload == {
        "from": "jane@example.org",
        "to": [mailbox.address],
        "cc": ["boss@example.org"],
    }
    assert types(item) == ["created", "queued"]
    assert (message.direction, message.message_id, message.from_address, message.from_name) == (
        "inbound",
        "first-1@example.org",
        "jane@example.org",
        "Jane Doe",
    )
    assert message.text_body.startswith("Hello, my router")
    assert message.headers["message-id"] == "<first-1@example.org>"


def test_a_duplicate_delivery_answers_the_stored_message_and_writes_nothing():
    # given
    mailbox = make_mailbox()
    raw = make_mail(to=mailbox.address, attachments=[("shot.png", "image/png", PNG)])
    first = mail.mail_receive(mailbox=mailbox, raw=raw)
    counts = (WorkItem.objects.count(), WorkItemEvent.objects.count(), Attachment.objects.count())
    # when: the sender's server retries (it never saw our 250), or IMAP fetches it again
    again = mail.mail_receive(mailbox=mailbox, raw=raw)
    # then
    assert again == first
    assert EmailMessage.objects.count() == 1
    after = (WorkItem.objects.count(), WorkItemEvent.objects.count(), Attachment.objects.count())
    assert after == counts


def test_a_process_schema_made_for_api_payloads_does_not_refuse_mail():
    # given: the schema asks for an account number no e-mail carries
    schema = {
        "type": "object",
        "required": ["account_number"],
        "properties": {"account_number": {"type": "string"}},
        "additionalProperties": False,
    }
    mailbox = make_mailbox(make_process(item_schema=schema))
    # when
    message = receive(mailbox, message_id="<strict@example.org>")
    # then: the item exists, queued in the process's default queue, with its events
    item = message.item
    assert (item.reference, item.status, item.queue.slug) == (
        "strict@example.org",
        "queued",
        mailbox.process.slug,
    )
    assert item.payload["from"] == "jane@example.org"
    assert types(item) == ["created", "queued"]


def test_a_message_id_longer_than_a_reference_is_shortened_with_a_hash():
    # given
    mailbox = make_mailbox()
    long_id = "x" * 250 + "@example.org"
    # when
    message = receive(mailbox, message_id=f"<{long_id}>")
    # then
    assert message.message_id == long_id
    assert len(message.item.reference) == 200
    assert message.item.reference.startswith("x" * 150)


def test_attachments_are_stored_and_a_refused_one_is_named_in_a_note():
    # given
    mailbox = make_mailbox()
    # when
    message = receive(
        mailbox,
        attachments=[
            ("screen.png", "image/png", PNG),
            ("setup.exe", "application/x-msdownload", b"MZ\x90\x00binary"),
        ],
    )
    # then
    item = message.item
    [stored] = Attachment.objects.filter(item=item)
    assert (stored.filename, stored.source, stored.content_type) == (
        "screen.png",
        "email",
        "image/png",
    )
    assert types(item) == ["created", "queued", "attachment_added", "commented"]
    note = events(item)[-1][1]
    assert note["from"] == "system"
    assert note["email_message"] == message.pk
    assert "'setup.exe'" in note["text"]
    assert "application/x-msdownload" in note["text"]


# ------------------------------------------------------------------ threading


def test_a_reply_to_our_answer_lands_on_the_item_and_resumes_it():
    # given: the customer wrote, an agent answered and waits on the customer
    mailbox = make_mailbox()
    first = receive(mailbox)
    answer = answered(first)
    services.work_item_wait(actor=None, item=first.item, note="Asked to restart")
    # when
    reply = receive(
        mailbox,
        subject=f"Re: {answer.subject}",
        text="Restarted, still broken.\n\nOn Mon, Support wrote:\n> Please restart",
        in_reply_to=f"<{answer.message_id}>",
        references=f"<{first.message_id}> <{answer.message_id}>",
    )
    # then
    item = WorkItem.objects.get(pk=first.item_id)
    assert reply.item_id == item.pk
    assert item.status == "in_progress"
    assert WorkItem.objects.count() == 1
    (replied_type, replied), (resumed_type, resumed) = events(item)[-2:]
    assert (replied_type, resumed_type) == ("replied", "resumed")
    assert replied == {
        "text": "Restarted, still broken.",
        "public": True,
        "from": "customer",
        "channel": "email",
        "email_message": reply.pk,
    }
    assert resumed == {
        "from_status": "waiting_on_client",
        "to_status": "in_progress",
        "from": "customer",
    }


def test_references_thread_a_reply_whose_in_reply_to_is_unknown():
    # given
    mailbox = make_mailbox()
    first = receive(mailbox)
    # when
    reply = receive(
        mailbox,
        in_reply_to="<unknown@elsewhere.example>",
        references=f"<{first.message_id}> <unknown@elsewhere.example>",
    )
    # then
    assert reply.item_id == first.item_id
    assert types(first.item)[-1] == "replied"


def test_a_subject_token_threads_mail_from_someone_already_on_the_conversation():
    # given: a mail client that drops In-Reply-To and References
    mailbox = make_mailbox()
    first = receive(mailbox)
    # when
    reply = receive(mailbox, subject=f"Re: anything {mailparse.subject_token(first.item_id)}")
    # then
    assert reply.item_id == first.item_id


def test_a_subject_token_from_a_stranger_or_of_another_client_starts_a_new_item():
    # given
    mailbox = make_mailbox()
    first = receive(mailbox)
    other = make_mailbox()
    token = mailparse.subject_token(first.item_id)
    # when: another sender quotes the token; another client's customer too
    stranger = receive(mailbox, sender="mallory@example.net", subject=f"Re: [#x] {token}")
    foreign = receive(other, subject=f"Re: {token}")
    # then
    assert stranger.item_id != first.item_id
    assert foreign.item_id != first.item_id
    assert foreign.item.client_id == other.client_id


def test_threading_never_crosses_to_another_clients_items():
    # given: another client's conversation with the same ids
    mailbox, other = make_mailbox(), make_mailbox()
    first = receive(mailbox, message_id="<shared@example.org>")
    # when: the same customer writes to the other client's mailbox, answering that id
    reply = receive(other, in_reply_to="<shared@example.org>")
    # then
    assert reply.item_id != first.item_id
    assert reply.item.client_id == other.client_id


def test_one_message_to_two_mailboxes_of_one_client_is_one_item():
    # given
    engagement = make_engagement()
    support = make_mailbox(make_process(engagement=engagement))
    billing = make_mailbox(make_process(engagement=engagement))
    raw = make_mail(to=f"{support.address}, {billing.address}")
    # when
    first = mail.mail_receive(mailbox=support, raw=raw)
    second = mail.mail_receive(mailbox=billing, raw=raw)
    # then
    assert first is not None
    assert second is not None
    assert second.item_id == first.item_id
    assert WorkItem.objects.count() == 1
    assert types(first.item) == ["created", "queued"]


def test_one_message_to_mailboxes_of_two_clients_is_an_item_of_each():
    # given
    acme, globex = make_mailbox(), make_mailbox()
    raw = make_mail(to=f"{acme.address}, {globex.address}")
    # when
    first = mail.mail_receive(mailbox=acme, raw=raw)
    second = mail.mail_receive(mailbox=globex, raw=raw)
    # then
    assert first is not None
    assert second is not None
    assert first.item.client_id == acme.client_id
    assert second.item.client_id == globex.client_id


@pytest.mark.parametrize("final", ["cancel", "close"])
def test_a_reply_to_a_closed_or_cancelled_item_starts_a_linked_item(final):
    # given
    mailbox = make_mailbox()
    first = receive(mailbox)
    item = first.item
    if final == "cancel":
        services.work_item_cancel(actor=None, item=item, reason="Duplicate")
    else:
        WorkItem.objects.filter(pk=item.pk).update(status="closed")
    # when
    reply = receive(mailbox, in_reply_to=f"<{first.message_id}>")
    # then
    assert reply.item_id != item.pk
    assert reply.item.parent_id == item.pk
    assert reply.item.status == "queued"
    assert reply.item.reference == reply.message_id


def test_a_reply_to_a_completed_item_reopens_it_within_the_window():
    # given
    mailbox = make_mailbox()
    first = receive(mailbox)
    services.work_item_complete(actor=None, item=first.item, outcome="resolved")
    # when
    reply = receive(mailbox, in_reply_to=f"<{first.message_id}>", text="It broke again.")
    # then
    item = WorkItem.objects.get(pk=first.item_id)
    assert reply.item_id == item.pk
    assert item.status == "queued"
    assert types(item)[-2:] == ["reopened", "replied"]
    assert events(item)[-2][1]["reason"] == mail.REOPEN_REASON


def test_a_reply_to_a_completed_item_past_its_window_starts_a_linked_item():
    # given
    mailbox = make_mailbox()
    first = receive(mailbox)
    services.work_item_complete(actor=None, item=first.item, outcome="resolved")
    long_ago = timezone.now() - timedelta(days=30)
    WorkItem.objects.filter(pk=first.item_id).update(completed_at=long_ago)
    # when
    reply = receive(mailbox, in_reply_to=f"<{first.message_id}>")
    # then
    assert reply.item.parent_id == first.item_id
    assert WorkItem.objects.get(pk=first.item_id).status == "completed"


# ------------------------------------------------------------------ loops


OUT_OF_OFFICE = {"Auto-Submitted": "auto-replied", "X-Auto-Response-Suppress": "All"}


def test_an_out_of_office_on_a_thread_is_recorded_and_does_not_resume():
    # given
    mailbox = make_mailbox(auto_acknowledge=True)
    first = receive(mailbox)
    answer = answered(first)
    services.work_item_wait(actor=None, item=first.item)
    outbound = EmailMessage.objects.filter(direction="outbound").count()
    # when
    ooo = receive(
        mailbox,
        subject=f"Automatic reply: {answer.subject}",
        text="I am away until Monday.",
        in_reply_to=f"<{answer.message_id}>",
        headers=OUT_OF_OFFICE,
    )
    # then
    item = WorkItem.objects.get(pk=first.item_id)
    assert ooo.item_id == item.pk
    assert (ooo.is_auto, ooo.auto_reason) == (True, "Auto-Submitted: auto-replied")
    assert item.status == "waiting_on_client"
    kind, note = events(item)[-1]
    assert kind == "commented"
    assert note["auto"] is True
    assert note["email_message"] == ooo.pk
    assert note["public"] is False
    assert EmailMessage.objects.filter(direction="outbound").count() == outbound


def test_automatic_mail_on_no_thread_is_dropped():
    # given
    mailbox = make_mailbox(auto_acknowledge=True)
    # when
    result = mail.mail_receive(
        mailbox=mailbox, raw=make_mail(to=mailbox.address, headers=OUT_OF_OFFICE)
    )
    # then
    assert result is None
    assert (WorkItem.objects.count(), EmailMessage.objects.count()) == (0, 0)


def test_a_mailer_daemon_bounce_of_our_answer_lands_on_its_item_as_a_note():
    # given
    mailbox = make_mailbox()
    first = receive(mailbox)
    answer = answered(first)
    bounce = (
        "From: MAILER-DAEMON@mx.example.org\r\n"
        f"To: {mailbox.address}\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        "Message-ID: <bounce-1@mx.example.org>\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n'
        "\r\n--b\r\nContent-Type: text/plain\r\n\r\nUser unknown.\r\n"
        "--b\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"Message-ID: <{answer.message_id}>\r\nSubject: {answer.subject}\r\n\r\n--b--\r\n"
    ).encode()
    # when
    result = mail.mail_receive(mailbox=mailbox, raw=bounce)
    # then
    assert result is not None
    assert result.item_id == first.item_id
    assert result.is_auto
    assert events(first.item)[-1][0] == "commented"
    assert events(first.item)[-1][1]["auto"] is True
    assert WorkItem.objects.count() == 1


def test_our_own_message_coming_back_is_dropped():
    # given: a customer whose address forwards everything back to us
    mailbox = make_mailbox()
    first = receive(mailbox)
    answer = answered(first)
    before = WorkItemEvent.objects.count()
    # when
    came_back = mail.mail_receive(
        mailbox=mailbox,
        raw=make_mail(
            to=mailbox.address, sender=mailbox.address, message_id=f"<{answer.message_id}>"
        ),
    )
    # then
    assert came_back == answer
    assert EmailMessage.objects.count() == 2
    assert WorkItemEvent.objects.count() == before


def test_mail_from_another_of_our_mailboxes_is_a_loop_and_starts_nothing():
    # given
    mailbox, other = make_mailbox(auto_acknowledge=True), make_mailbox()
    # when
    result = mail.mail_receive(
        mailbox=mailbox, raw=make_mail(to=mailbox.address, sender=other.address)
    )
    # then
    assert result is None
    assert WorkItem.objects.count() == 0


# ------------------------------------------------------------------ acknowledgements


def test_new_mail_is_acknowledged_when_the_mailbox_says_so():
    # given
    mailbox = make_mailbox(auto_acknowledge=True, display_name="Acme support")
    # when
    first = receive(mailbox, sender="Jane <jane@example.org>", subject="Bill too high")
    # then
    [ack] = EmailMessage.objects.filter(direction="outbound")
    assert (ack.is_auto, ack.status, ack.to, ack.in_reply_to) == (
        True,
        "pending",
        ["jane@example.org"],
        first.message_id,
    )
    assert ack.subject == f"Re: Bill too high [#{first.item_id}]"
    assert f"[#{first.item_id}]" in ack.text_body
    assert ack.from_address == mailbox.address


def test_replies_and_bulk_mail_are_not_acknowledged():
    # given
    mailbox = make_mailbox(auto_acknowledge=True)
    first = receive(mailbox)
    EmailMessage.objects.filter(direction="outbound").delete()
    # when: a reply on the thread, and a newsletter
    receive(mailbox, in_reply_to=f"<{first.message_id}>")
    receive(mailbox, sender="news@shop.example", headers={"List-Unsubscribe": "<mailto:u@x>"})
    # then
    assert EmailMessage.objects.filter(direction="outbound").count() == 0


def test_a_sender_over_the_rate_gets_no_more_acknowledgements():
    # given: another auto-responder writing to us again and again without our headers
    mailbox = make_mailbox(auto_acknowledge=True)
    # when
    for n in range(mail.ACK_LIMIT + 3):
        receive(mailbox, sender="robot@example.net", subject=f"Ticket {n}")
    # then
    assert EmailMessage.objects.filter(direction="outbound").count() == mail.ACK_LIMIT
    assert WorkItem.objects.count() == mail.ACK_LIMIT + 3


# ------------------------------------------------------------------ SMTP recipients


def test_recipients_resolve_to_active_mailboxes_with_plus_tags():
    # given
    mailbox = make_mailbox(address="help@acme.example")
    make_mailbox(address="old@acme.example", is_active=False)
    # then
    assert mail.mailbox_for("<Help@Acme.example>") == mailbox
    assert mail.mailbox_for("help+billing@acme.example") == mailbox
    assert mail.mailbox_for("old@acme.example") is None
    assert mail.mailbox_for("nobody@acme.example") is None


# ------------------------------------------------------------------ IMAP


@dataclass
class FakeMessage:
    uid: str
    obj: Message


@dataclass
class FakeImap:
    """imap-tools' MailBox as the poller uses it: fetch (unseen, not marked) and flag."""

    messages: dict[str, bytes]
    seen: set[str] = field(default_factory=set)
    fetches: list[dict[str, Any]] = field(default_factory=list)

    def fetch(self, criteria: Any = "ALL", **kwargs: Any) -> Iterator[FakeMessage]:
        self.fetches.append({"criteria": criteria, **kwargs})
        assert (criteria, kwargs["mark_seen"]) == ("UNSEEN", False)
        for uid, raw in self.messages.items():
            if uid not in self.seen:
                yield FakeMessage(uid, message_from_bytes(raw))

    def flag(self, uid_list: Any, flag_set: Any, value: bool) -> None:
        assert (flag_set, value) == ("\\Seen", True)
        self.seen.add(uid_list)


@pytest.fixture
def imap(monkeypatch) -> dict[str, Any]:
    """Replaces the module-level factory; `box` is what the next poll connects to."""
    state: dict[str, Any] = {"box": None, "logins": []}

    @contextmanager
    def connect(mailbox: Mailbox) -> Iterator[FakeImap]:
        state["logins"].append(mailbox.address)
        if isinstance(state["box"], Exception):
            raise state["box"]
        yield state["box"]

    monkeypatch.setattr(mail, "imap_connect", connect)
    return state


def imap_mailbox() -> Mailbox:
    return make_mailbox(
        imap_host="imap.example.org", imap_username="support", imap_password="app password"
    )


def test_the_poller_receives_unseen_mail_and_flags_it_seen_after_it_is_stored(imap):
    # given
    mailbox = imap_mailbox()
    box = FakeImap({"1": make_mail(to=mailbox.address), "2": make_mail(to=mailbox.address)})
    imap["box"] = box
    now = timezone.now()
    # when
    handled = mail.imap_poll_due(now)
    # then
    assert handled == 1
    assert box.seen == {"1", "2"}
    assert WorkItem.objects.count() == 2
    mailbox.refresh_from_db()
    assert mailbox.last_poll_error == ""
    assert mailbox.next_poll_at == now + mail.poll_interval()
    # and: it is not due again until then
    assert mail.imap_poll_due(now) == 0


def test_a_message_that_fails_stays_unseen_and_is_fetched_again(imap, monkeypatch):
    # given
    mailbox = imap_mailbox()
    box = FakeImap({"1": make_mail(to=mailbox.address), "2": make_mail(to=mailbox.address)})
    imap["box"] = box
    real = mail.mail_receive
    calls = {"n": 0}

    def crash_once(**kwargs: Any) -> EmailMessage | None:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("database went away")
        return real(**kwargs)

    monkeypatch.setattr(mail, "mail_receive", crash_once)
    # when
    mail.mailbox_poll(mailbox=mailbox)
    # then: the first was not flagged; the next poll takes it, and nothing doubles
    assert box.seen == {"2"}
    mailbox.refresh_from_db()
    assert "database went away" in mailbox.last_poll_error
    mail.mailbox_poll(mailbox=mailbox)
    assert box.seen == {"1", "2"}
    assert WorkItem.objects.count() == 2


def test_a_login_failure_is_recorded_on_the_mailbox_and_tried_later(imap):
    # given
    mailbox = imap_mailbox()
    imap["box"] = ConnectionRefusedError("imap.example.org:993 refused")
    now = timezone.now()
    # when
    mail.imap_poll_due(now)
    # then
    mailbox.refresh_from_db()
    assert mailbox.last_poll_error == "ConnectionRefusedError: imap.example.org:993 refused"
    assert mailbox.next_poll_at == now + mail.POLL_ERROR_WAIT


def test_the_poller_skips_inactive_mailboxes_and_those_without_imap(imap):
    # given
    make_mailbox()  # SMTP only
    inactive = imap_mailbox()
    Mailbox.objects.filter(pk=inactive.pk).update(is_active=False)
    imap["box"] = FakeImap({})
    # when
    handled = mail.imap_poll_due(timezone.now() + timedelta(minutes=1))
    # then
    assert handled == 0
    assert imap["logins"] == []
