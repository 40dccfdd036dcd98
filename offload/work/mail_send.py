"""Outbound e-mail: the outbox and the `work.email_send` sweep.

A provider's reply on an item with an e-mail conversation, and an acknowledgement of
new mail, are written as an outbound `EmailMessage` (status pending) in the
transaction of the reply or of the mail's receipt: an answer that exists is owed to
the customer, and none is promised for a change that rolled back. The sweep sends
due rows through Django's mail backend with the threading headers (Message-ID,
In-Reply-To, References), retries with backoff, and marks a row failed after
MAX_ATTEMPTS tries or a permanent refusal (5xx), with an `email_failed` event on
the item.

Like the webhook sweep, it holds no lock while the mail server answers: it claims
due rows in one short transaction by pushing their `next_attempt_at` a lease ahead,
sends outside any transaction, and records each answer in its own short
transaction. Sending is at least once: a worker killed between the server's "250"
and the record leaves the row pending, and it is sent again, with the same
Message-ID, when the lease runs out. The rules are docs/email.md.
"""

from __future__ import annotations

import logging
import smtplib
from collections.abc import Sequence
from datetime import datetime, timedelta
from email.utils import formataddr
from typing import Any

from django.core import mail
from django.db import transaction
from django.utils import timezone

from offload.contracts.models import Channel
from offload.core import sweeps
from offload.work import history, mailparse
from offload.work.models import (
    EmailDirection,
    EmailMessage,
    EmailStatus,
    Mailbox,
    WorkItem,
)

logger = logging.getLogger(__name__)

BATCH = 20
SEND_TIMEOUT_S = 30
# How long a claimed row is reserved for the worker sending it.
LEASE = timedelta(seconds=SEND_TIMEOUT_S * BATCH + 60)
MAX_ATTEMPTS = 8
MAX_BACKOFF = timedelta(hours=6)
ERROR_MAX = 2000
ACK_REASON = "acknowledgement of new mail"
NO_RECIPIENT = "the message has no recipient the backend would send to"
ACK_TEXT = (
    "Hello,\n\n"
    "We received your message and opened request {token}. We will answer as soon as "
    "we can. To add anything, reply to this e-mail and keep {token} in the subject.\n\n"
    "{signature}\n"
)


def backoff(attempts: int) -> timedelta:
    """The wait after the n-th failed attempt: 2**n minutes, at most 6 hours."""
    return min(timedelta(minutes=2 ** min(attempts, 20)), MAX_BACKOFF)


# ------------------------------------------------------------------ the outbox


def _own_addresses(addresses: Sequence[str]) -> set[str]:
    return set(
        Mailbox.objects.filter(address__in=list(addresses)).values_list("address", flat=True)
    )


def _outbound(
    *,
    item: WorkItem,
    mailbox: Mailbox,
    parent: EmailMessage,
    text: str,
    is_auto: bool,
    auto_reason: str = "",
    now: datetime | None = None,
) -> EmailMessage:
    """The answer to `parent` from `mailbox`, pending in the outbox."""
    customer = parent.reply_to or parent.from_address
    others = [a for a in [*parent.to, *parent.cc] if a and a != customer]
    own = _own_addresses([*others, customer])
    cc = [] if is_auto else list(dict.fromkeys(a for a in others if a not in own))
    references = mailparse.references_chain(parent.references.split(), parent.message_id)
    return EmailMessage.objects.create(
        client_id=item.client_id,
        provider_id=item.provider_id,
        item=item,
        mailbox=mailbox,
        direction=EmailDirection.OUTBOUND,
        message_id=mailparse.make_message_id(mailbox.domain),
        in_reply_to=parent.message_id,
        references=" ".join(references),
        from_address=mailbox.address,
        from_name=mailbox.display_name,
        to=[customer],
        cc=cc,
        subject=mailparse.reply_subject(parent.subject or item.subject, item.pk),
        text_body=text,
        is_auto=is_auto,
        auto_reason=auto_reason,
        status=EmailStatus.PENDING,
        next_attempt_at=now or timezone.now(),
    )


def _last_inbound(item: WorkItem) -> EmailMessage | None:
    return (
        EmailMessage.objects.filter(item=item, direction=EmailDirection.INBOUND, is_auto=False)
        .select_related("mailbox")
        .order_by("-id")
        .first()
    )


def reply_enqueue(*, item: WorkItem, text: str) -> EmailMessage | None:
    """The e-mail of a provider's reply: to the customer of the item's latest inbound
    message, from the mailbox it came to. None when the item has no e-mail
    conversation (an item of another channel, or one that came through the API):
    the reply is then recorded only. Called inside the reply's transaction."""
    if item.channel != Channel.EMAIL:
        return None
    parent = _last_inbound(item)
    if parent is None:
        return None
    return _outbound(item=item, mailbox=parent.mailbox, parent=parent, text=text, is_auto=False)


def ack_enqueue(*, item: WorkItem, parent: EmailMessage) -> EmailMessage:
    """The acknowledgement of new mail (sent with `Auto-Submitted: auto-replied`)."""
    mailbox = parent.mailbox
    signature = mailbox.display_name or mailbox.address
    text = ACK_TEXT.format(token=mailparse.subject_token(item.pk), signature=signature)
    return _outbound(
        item=item, mailbox=mailbox, parent=parent, text=text, is_auto=True, auto_reason=ACK_REASON
    )


# ------------------------------------------------------------------ sending


def message_of(row: EmailMessage, connection: Any = None) -> mail.EmailMultiAlternatives:
    """The Django message of an outbound row, with its threading headers."""
    headers = {"Message-ID": f"<{row.message_id}>"}
    if row.in_reply_to:
        headers["In-Reply-To"] = f"<{row.in_reply_to}>"
    if row.references:
        headers["References"] = mailparse.header_ids(row.references.split())
    if row.is_auto:
        # RFC 3834: an automatic answer; Exchange is asked not to answer it in turn.
        headers["Auto-Submitted"] = "auto-replied"
        headers["X-Auto-Response-Suppress"] = "All"
    message = mail.EmailMultiAlternatives(
        subject=row.subject,
        body=row.text_body,
        from_email=formataddr((row.from_name, row.from_address)),
        to=list(row.to),
        cc=list(row.cc),
        headers=headers,
        connection=connection,
    )
    if row.html_body:
        message.attach_alternative(row.html_body, "text/html")
    return message


def _permanent(exc: BaseException) -> bool:
    """A refusal that no retry will change: every recipient refused, or a 5xx answer."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return True
    code = getattr(exc, "smtp_code", None)
    return isinstance(code, int) and 500 <= code < 600


def _send(row: EmailMessage, connection: Any) -> tuple[str, bool]:
    """(error, permanent); error is "" when the server took the message."""
    try:
        sent = message_of(row, connection).send()
    # Any failure of one message is recorded on its row; the batch goes on.
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"[:ERROR_MAX], _permanent(exc)
    return ("", False) if sent else (NO_RECIPIENT, True)


@transaction.atomic
def _record(
    row: EmailMessage, lease_until: datetime, now: datetime, error: str, permanent: bool
) -> None:
    """Store one attempt's outcome, unless the row changed hands meanwhile (our lease
    ran out and another worker took it)."""
    locked = EmailMessage.objects.select_for_update().filter(pk=row.pk).first()
    if locked is None or locked.status != EmailStatus.PENDING:
        return
    if locked.next_attempt_at != lease_until:
        return
    locked.attempts += 1
    if not error:
        locked.status, locked.sent_at, locked.next_attempt_at = EmailStatus.SENT, now, None
        locked.last_error = ""
        locked.save()
        return
    locked.last_error = error
    if permanent or locked.attempts >= MAX_ATTEMPTS:
        locked.status, locked.next_attempt_at = EmailStatus.FAILED, None
        locked.save()
        item = WorkItem.objects.select_for_update().get(pk=locked.item_id)
        history.append(
            item,
            "email_failed",
            actor=None,
            data={
                "email_message": locked.pk,
                "to": list(locked.to),
                "error": error[:500],
                "attempts": locked.attempts,
                "auto": locked.is_auto,
            },
            at=now,
        )
        return
    locked.next_attempt_at = now + backoff(locked.attempts)
    locked.save()


def due_messages(now: datetime) -> Any:
    return (
        EmailMessage.objects.filter(
            direction=EmailDirection.OUTBOUND,
            status=EmailStatus.PENDING,
            next_attempt_at__lte=now,
        )
        .select_related("mailbox")
        .order_by("next_attempt_at", "id")
    )


@sweeps.register("work.email_send")
def email_send_due(now: datetime) -> int:
    """Send every due outbound message (up to BATCH) and record each outcome."""
    lease_until = now + LEASE
    due: list[EmailMessage] = sweeps.claim_leased(
        due_messages(now), limit=BATCH, field="next_attempt_at", until=lease_until
    )
    if not due:
        return 0
    outcomes: dict[int, tuple[str, bool]] = {}
    try:
        with mail.get_connection(timeout=SEND_TIMEOUT_S) as connection:
            for row in due:
                outcomes[row.pk] = _send(row, connection)
    # The connection itself failed (opening or closing it): the rest wait for a retry.
    except Exception as exc:
        logger.warning("e-mail connection failed: %s", exc)
        error = f"{type(exc).__name__}: {exc}"[:ERROR_MAX]
        for row in due:
            outcomes.setdefault(row.pk, (error, False))
    for row in due:
        error, permanent = outcomes[row.pk]
        _record(row, lease_until, now, error, permanent)
    return len(due)
