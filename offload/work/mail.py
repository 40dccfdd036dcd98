"""Inbound e-mail: a message to a mailbox becomes an item, or lands on its thread.

`mail_receive` handles one message in one transaction (the mailbox's row locked, so
two deliveries of one message queue up): a Message-ID the mailbox already has
answers the stored message and writes nothing, so SMTP retries and IMAP re-fetches
are harmless. Otherwise the message is threaded (In-Reply-To, then References, then
a `[#<item id>]` subject token, always within the mailbox's client):

- a person's message on a thread is a `replied` from the customer, which resumes an
  item waiting on the client; a completed item is reopened first when its reopen
  window allows, and a closed, cancelled or failed one (or a completed one past the
  window) gets a new item linked to it (`parent`);
- a person's message on no thread is a new item, through intake;
- an automatic message (out-of-office, bounce, our own mail come back, mail from
  another of our mailboxes) is kept on its thread with an internal note, never
  resumes, reopens or starts an item, and is never acknowledged; on no thread it is
  dropped.

The IMAP poller (`work.imap_poll`) feeds the same function. The rules are
docs/email.md.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from email.message import Message
from typing import Any, Protocol

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from offload.contracts.models import Priority
from offload.core import errors, sweeps
from offload.work import (
    attachments,
    history,
    intake,
    lifecycle,
    mail_send,
    mailboxes,
    mailparse,
    services,
)
from offload.work.lifecycle import Action, Status
from offload.work.mailparse import ParsedMail
from offload.work.models import (
    EmailDirection,
    EmailMessage,
    EmailStatus,
    Mailbox,
    Queue,
    WorkItem,
)

logger = logging.getLogger(__name__)

EVENT_TEXT_MAX = 10_000
PAYLOAD_ADDRESSES_MAX = 50
# More than ACK_LIMIT messages from one address to one mailbox within ACK_WINDOW get
# no acknowledgement: two auto-responders answering each other stop here.
ACK_LIMIT = 20
ACK_WINDOW = timedelta(minutes=10)

OWN_MAILBOX = "sent by {address}, a mailbox of this installation (a mail loop)"
REOPEN_REASON = "the customer replied by e-mail"
NO_TEXT = "(an e-mail without text)"
AUTO_NOTE = "Automatic e-mail from {sender} ({reason}): {subject}"
SKIPPED_NOTE = "Not stored from the e-mail of {sender}: {files}"
SKIPPED_FILE = "'{filename}' ({reason})"


# ------------------------------------------------------------------ receiving


def mail_receive(
    *, mailbox: Mailbox, raw: bytes, now: datetime | None = None
) -> EmailMessage | None:
    """Store one message of `mailbox` and apply it to its item; the stored message,
    the one already stored under its Message-ID, or None when it was dropped (an
    automatic message on no thread). Durable when it returns."""
    parsed = mailparse.parse(raw)
    with transaction.atomic():
        locked = (
            Mailbox.objects.select_for_update()
            .select_related("process", "client")
            .get(pk=mailbox.pk)
        )
        return _receive(locked, parsed, now or timezone.now())


def _receive(mailbox: Mailbox, parsed: ParsedMail, now: datetime) -> EmailMessage | None:
    known = EmailMessage.objects.filter(mailbox=mailbox, message_id=parsed.message_id).first()
    if known is not None:
        return known
    ours = EmailMessage.objects.filter(
        direction=EmailDirection.OUTBOUND, message_id=parsed.message_id
    ).first()
    if ours is not None:
        logger.info("mailbox %s: our own message %s came back; dropped", mailbox, ours.pk)
        return ours
    twin = (
        EmailMessage.objects.filter(client_id=mailbox.client_id, message_id=parsed.message_id)
        .select_related("item")
        .first()
    )
    if twin is not None:
        # The same message sent to two mailboxes of the client: one conversation.
        return _store(mailbox, twin.item, parsed, auto=twin.auto_reason if twin.is_auto else "")
    auto = parsed.auto
    if not auto and Mailbox.objects.filter(address=parsed.sender).exists():
        auto = OWN_MAILBOX.format(address=parsed.sender)
    item = _thread(mailbox, parsed)
    if auto:
        return _receive_auto(mailbox, item, parsed, auto)
    return _receive_human(mailbox, item, parsed, now)


def _receive_auto(
    mailbox: Mailbox, item: WorkItem | None, parsed: ParsedMail, auto: str
) -> EmailMessage | None:
    if item is None:
        logger.info("mailbox %s: automatic mail on no thread dropped (%s)", mailbox, auto)
        return None
    message = _store(mailbox, item, parsed, auto=auto)
    if Status(item.status) in lifecycle.TABLE[Action.COMMENT].sources:
        text = AUTO_NOTE.format(
            sender=parsed.sender or "an unknown sender", reason=auto, subject=parsed.subject
        )
        services.work_item_comment(
            actor=None,
            item=item,
            text=text,
            data={
                "channel": "email",
                "email_message": message.pk,
                "auto": True,
                "auto_reason": auto,
            },
        )
    return message


def _receive_human(
    mailbox: Mailbox, item: WorkItem | None, parsed: ParsedMail, now: datetime
) -> EmailMessage:
    if item is not None:
        landing = _landing(item, now)
        if landing is not None:
            return _on_thread(mailbox, landing, parsed)
    new, created = _item_create(mailbox, parsed, parent=item)
    if not created:
        # The client already has an item of this reference (its system used the
        # Message-ID as its own reference): the message belongs to it.
        landing = _landing(new, now)
        if landing is not None:
            return _on_thread(mailbox, landing, parsed)
        new, created = _item_create(
            mailbox, parsed, parent=new, reference=_reference(parsed.message_id, salt=str(new.pk))
        )
    message = _store(mailbox, new, parsed, auto="")
    _attachments(new, parsed, message)
    if created and _may_acknowledge(mailbox, parsed, now):
        mail_send.ack_enqueue(item=new, parent=message)
    return message


def _on_thread(mailbox: Mailbox, item: WorkItem, parsed: ParsedMail) -> EmailMessage:
    message = _store(mailbox, item, parsed, auto="")
    services.work_item_customer_reply(
        item=item,
        text=_event_text(parsed),
        data={"channel": "email", "email_message": message.pk},
    )
    _attachments(item, parsed, message)
    return message


def _landing(item: WorkItem, now: datetime) -> WorkItem | None:
    """The item, locked, if a customer's message may land on it (reopened first when
    it is completed and within its reopen window); None when it needs a new item."""
    locked = WorkItem.objects.select_for_update().select_related("process").get(pk=item.pk)
    status = Status(locked.status)
    if status in lifecycle.TABLE[Action.REPLY].sources:
        return locked
    if status == Status.COMPLETED and locked.completed_at is not None:
        window = timedelta(hours=locked.process.reopen_window_hours)
        if now <= locked.completed_at + window:
            try:
                return services.work_item_reopen(actor=None, item=locked, reason=REOPEN_REASON)
            except errors.Conflict:
                return None
    return None


# ------------------------------------------------------------------ threading


def _thread(mailbox: Mailbox, parsed: ParsedMail) -> WorkItem | None:
    """The item of the client's conversation this message answers, if any."""
    ids = parsed.thread_ids
    if ids:
        rows = EmailMessage.objects.filter(
            client_id=mailbox.client_id, message_id__in=list(ids)
        ).values_list("message_id", "item_id", "mailbox_id")
        best: dict[str, tuple[int, int]] = {}
        for message_id, item_id, mailbox_id in rows:
            held = best.get(message_id)
            if held is None or (mailbox_id == mailbox.pk and held[1] != mailbox.pk):
                best[message_id] = (item_id, mailbox_id)
        for message_id in ids:
            if message_id in best:
                return WorkItem.objects.get(pk=best[message_id][0])
    for item_id in mailparse.subject_item_ids(parsed.subject):
        item = WorkItem.objects.filter(pk=item_id, client_id=mailbox.client_id).first()
        if item is not None and _knows(item, parsed.sender):
            return item
    return None


def _knows(item: WorkItem, sender: str) -> bool:
    """Whether `sender` is already part of the item's conversation: a subject token is
    trusted only then, so another system's `[#123]` cannot land on our item 123."""
    if not sender:
        return False
    if item.payload.get("from") == sender:
        return True
    for from_address, reply_to, to, cc in EmailMessage.objects.filter(item=item).values_list(
        "from_address", "reply_to", "to", "cc"
    ):
        if sender in {from_address, reply_to, *(to or []), *(cc or [])}:
            return True
    return False


# ------------------------------------------------------------------ writing


def _clean(value: str) -> str:
    """Text as PostgreSQL stores it: no NUL characters."""
    return value.replace("\x00", "")


def _store(mailbox: Mailbox, item: WorkItem, parsed: ParsedMail, *, auto: str) -> EmailMessage:
    return EmailMessage.objects.create(
        client_id=item.client_id,
        provider_id=item.provider_id,
        item=item,
        mailbox=mailbox,
        direction=EmailDirection.INBOUND,
        message_id=parsed.message_id,
        in_reply_to=parsed.in_reply_to,
        references=" ".join(parsed.references),
        from_address=parsed.sender[:254],
        from_name=_clean(parsed.sender_name)[:200],
        reply_to=parsed.reply_to[:254],
        to=list(parsed.to),
        cc=list(parsed.cc),
        subject=_clean(parsed.subject)[:998],
        text_body=_clean(parsed.text),
        html_body=_clean(parsed.html),
        headers={k: _clean(v) for k, v in parsed.headers.items()},
        is_auto=bool(auto),
        auto_reason=auto[:300],
        status=EmailStatus.RECEIVED,
    )


def _event_text(parsed: ParsedMail) -> str:
    """The new part of the message (quoted history cut), for the item's timeline."""
    text = _clean(mailparse.reply_text(parsed.text))
    return text[:EVENT_TEXT_MAX] if text.strip() else NO_TEXT


def _attachments(item: WorkItem, parsed: ParsedMail, message: EmailMessage) -> None:
    """Store the message's files on the item; a refused one is named in a note and
    skipped, never the reason to lose the message."""
    skipped: list[str] = []
    for part in parsed.attachments:
        try:
            attachments.attachment_add(
                actor=None,
                item=item,
                filename=part.filename,
                data=part.data,
                content_type=part.content_type,
                source="email",
            )
        except errors.ValidationFailed as exc:
            reason = "; ".join(e.message for e in exc.errors)
            skipped.append(SKIPPED_FILE.format(filename=part.filename, reason=reason))
        except errors.Conflict as exc:
            skipped.append(SKIPPED_FILE.format(filename=part.filename, reason=exc.detail))
    if skipped:
        services.work_item_comment(
            actor=None,
            item=item,
            text=SKIPPED_NOTE.format(
                sender=parsed.sender or "an unknown sender", files="; ".join(skipped)
            ),
            data={"channel": "email", "email_message": message.pk},
        )


def _reference(message_id: str, *, salt: str = "") -> str:
    """The item reference of a message: its Message-ID, within the column's 200
    characters (a longer one, or a salted one, ends in a hash of the whole)."""
    limit = intake.REFERENCE_MAX
    if not salt and len(message_id) <= limit:
        return message_id
    digest = hashlib.sha256(f"{message_id}#{salt}".encode()).hexdigest()[:16]
    return f"{message_id[: limit - len(digest) - 1]}~{digest}"


def _payload(parsed: ParsedMail) -> dict[str, Any]:
    return {
        "from": parsed.sender,
        "to": list(parsed.to)[:PAYLOAD_ADDRESSES_MAX],
        "cc": list(parsed.cc)[:PAYLOAD_ADDRESSES_MAX],
    }


def _item_create(
    mailbox: Mailbox, parsed: ParsedMail, *, parent: WorkItem | None, reference: str = ""
) -> tuple[WorkItem, bool]:
    """A new item of the mailbox's process, through intake when the process's
    item_schema takes the mail's payload; (item, created) as intake answers."""
    process = mailbox.process
    payload = _payload(parsed)
    fields: dict[str, Any] = {
        "reference": reference or _reference(parsed.message_id),
        "subject": _clean(parsed.subject)[: intake.SUBJECT_MAX],
        "payload": payload,
    }
    if not intake.payload_problems(process, payload):
        return intake.work_item_create(
            actor=None, client=mailbox.client, process=process, parent=parent, **fields
        )
    return _item_insert(mailbox, parent=parent, **fields)


def _item_insert(
    mailbox: Mailbox,
    *,
    parent: WorkItem | None,
    reference: str,
    subject: str,
    payload: dict[str, Any],
) -> tuple[WorkItem, bool]:
    """Intake's insert without the item_schema check: mail cannot carry the fields a
    process's schema asks API callers for (an account number), and a message must not
    be refused for them. The same queue choice, idempotency and events as intake."""
    process, client = mailbox.process, mailbox.client
    existing = WorkItem.objects.filter(client=client, reference=reference).first()
    if existing is not None:
        return existing, False
    queue = intake.queue_choose(list(Queue.objects.filter(process=process)), "")
    item = WorkItem(
        client_id=client.pk,
        provider_id=process.provider_id,
        process=process,
        queue=queue or intake.queue_default(process),
        reference=reference,
        priority=Priority.P3,
        channel=process.channel,
        subject=subject,
        payload=payload,
        status=Status.QUEUED,
        parent=parent,
    )
    try:
        with transaction.atomic():
            item.save()
    except IntegrityError:
        return WorkItem.objects.get(client=client, reference=reference), False
    history.append_new_items([item], actor=None)
    return item, True


def _may_acknowledge(mailbox: Mailbox, parsed: ParsedMail, now: datetime) -> bool:
    """An acknowledgement goes to new mail of a person, from a mailbox that sends them,
    unless the sender is over the per-mailbox rate (a loop guard)."""
    if not (mailbox.auto_acknowledge and mailbox.is_active and parsed.customer):
        return False
    if parsed.no_reply:
        return False
    recent = EmailMessage.objects.filter(
        mailbox=mailbox,
        direction=EmailDirection.INBOUND,
        from_address=parsed.sender,
        created_at__gte=now - ACK_WINDOW,
    ).count()
    if recent > ACK_LIMIT:
        logger.warning(
            "mailbox %s: %d messages from %s in %s; no acknowledgement",
            mailbox,
            recent,
            parsed.sender,
            ACK_WINDOW,
        )
        return False
    return True


# ------------------------------------------------------------------ SMTP recipients


def mailbox_for(address: str) -> Mailbox | None:
    """The active mailbox of a recipient address (a `+tag` after the local part is
    ignored: support+billing@ reaches support@)."""
    address = address.strip().strip("<>").lower()
    found = Mailbox.objects.filter(address=address, is_active=True).first()
    if found is None and "+" in address.partition("@")[0]:
        local, _, domain = address.partition("@")
        found = Mailbox.objects.filter(
            address=f"{local.partition('+')[0]}@{domain}", is_active=True
        ).first()
    return found


# ------------------------------------------------------------------ IMAP polling


class ImapMessage(Protocol):
    @property
    def uid(self) -> str | None: ...

    @property
    def obj(self) -> Message: ...


class ImapBox(Protocol):
    """The part of imap-tools' MailBox the poller uses."""

    def fetch(
        self, criteria: Any = ..., *, mark_seen: bool = ..., limit: Any = ..., bulk: Any = ...
    ) -> Iterator[Any]: ...

    def flag(self, uid_list: Any, flag_set: Any, value: bool) -> Any: ...


POLL_BATCH = 5
POLL_LIMIT = 100
POLL_LEASE = timedelta(minutes=10)
POLL_ERROR_WAIT = timedelta(minutes=5)
IMAP_TIMEOUT_S = 30
SEEN = "\\Seen"


def poll_interval() -> timedelta:
    return timedelta(seconds=int(getattr(settings, "OFFLOAD_IMAP_POLL_SECONDS", 60)))


def imap_connect(mailbox: Mailbox) -> AbstractContextManager[ImapBox]:
    """A logged-in IMAP session on the mailbox's folder (imap-tools). Tests replace
    this module-level factory with a fake; there is no IMAP server to test against."""
    from imap_tools import MailBox, MailBoxUnencrypted

    cls = MailBox if mailbox.imap_use_ssl else MailBoxUnencrypted
    box = cls(mailbox.imap_host, mailbox.imap_port, timeout=IMAP_TIMEOUT_S)
    password = mailboxes.password_decrypt(mailbox.imap_password_encrypted)
    session: AbstractContextManager[ImapBox] = box.login(
        mailbox.imap_username, password, initial_folder=mailbox.imap_folder
    )
    return session


def _unseen(box: ImapBox) -> Iterable[Any]:
    return box.fetch("UNSEEN", mark_seen=False, limit=POLL_LIMIT, bulk=True)


def mailbox_poll(*, mailbox: Mailbox, now: datetime | None = None) -> int:
    """Fetch the mailbox's unseen messages (at most POLL_LIMIT), receive each, and
    flag it seen only once its receipt committed: a crash leaves it unseen, to be
    fetched again (and recognised by its Message-ID). Returns how many were received."""
    now = now or timezone.now()
    received, error = 0, ""
    try:
        with imap_connect(mailbox) as box:
            for message in _unseen(box):
                try:
                    mail_receive(mailbox=mailbox, raw=message.obj.as_bytes())
                # One message failing leaves it unseen for the next poll; the rest go on.
                except Exception as exc:
                    logger.exception("mailbox %s: message %s failed", mailbox, message.uid)
                    error = f"message {message.uid}: {type(exc).__name__}: {exc}"
                    continue
                box.flag(message.uid, SEEN, True)
                received += 1
    # The server, the login or the connection failed: recorded on the mailbox, tried later.
    except Exception as exc:
        logger.warning("mailbox %s: IMAP poll failed: %s", mailbox, exc)
        error = f"{type(exc).__name__}: {exc}"
    wait = max(poll_interval(), POLL_ERROR_WAIT) if error else poll_interval()
    Mailbox.objects.filter(pk=mailbox.pk).update(
        last_polled_at=now, last_poll_error=error[:2000], next_poll_at=now + wait
    )
    return received


@sweeps.register("work.imap_poll")
def imap_poll_due(now: datetime) -> int:
    """Poll the active IMAP mailboxes that are due. They are claimed in a short
    transaction (next_poll_at pushed a lease ahead), then polled outside it, each
    message in its own transaction."""
    due: list[Mailbox] = sweeps.claim_leased(
        Mailbox.objects.filter(is_active=True, next_poll_at__lte=now)
        .exclude(imap_host="")
        .order_by("next_poll_at", "id"),
        limit=POLL_BATCH,
        field="next_poll_at",
        until=now + POLL_LEASE,
    )
    for mailbox in due:
        mailbox_poll(mailbox=mailbox, now=now)
    return len(due)
