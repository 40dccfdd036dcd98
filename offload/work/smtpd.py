"""The SMTP listener of `offload smtpd`: aiosmtpd, taking mail for the mailboxes only.

`RCPT TO` an address that is no active mailbox is refused (`550 5.1.1`), so the
listener is never an open relay. `DATA` is answered `250` only after every recipient
mailbox's `mail.mail_receive` committed, so a message the sender saw accepted is
durable; a failure answers `451` and the sender's server tries again later (the
Message-ID makes the retry harmless). The ORM runs in worker threads
(`asyncio.to_thread`), never on the event loop. A message over
OFFLOAD_SMTPD_MAX_BYTES is refused with `552`, by aiosmtpd while it reads DATA (and
announced with the SIZE extension). The set-up is docs/email.md.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiosmtpd.controller import Controller
from django.conf import settings
from django.db import close_old_connections

from offload.work import mail

logger = logging.getLogger(__name__)

OK = "250 2.0.0 OK: message accepted"
RCPT_OK = "250 2.1.5 OK"
NO_SUCH_MAILBOX = "550 5.1.1 no such mailbox"
TOO_BIG = "552 5.3.4 message too big: the limit is {limit} bytes"
TRY_LATER = "451 4.3.0 temporary failure; try again later"


def max_bytes() -> int:
    return int(settings.OFFLOAD_SMTPD_MAX_BYTES)


def _mailbox_id(address: str) -> int | None:
    close_old_connections()
    try:
        found = mail.mailbox_for(address)
        return found.pk if found is not None else None
    finally:
        close_old_connections()


def deliver(raw: bytes, recipients: list[str]) -> int:
    """Receive one message for each distinct recipient mailbox; returns how many."""
    close_old_connections()
    try:
        done: set[int] = set()
        for address in recipients:
            mailbox = mail.mailbox_for(address)
            if mailbox is None or mailbox.pk in done:
                continue
            mail.mail_receive(mailbox=mailbox, raw=raw)
            done.add(mailbox.pk)
        return len(done)
    finally:
        close_old_connections()


class MailHandler:
    """aiosmtpd's handler: the hooks it calls for RCPT and DATA."""

    def __init__(self, *, limit: int | None = None) -> None:
        self.limit = limit if limit is not None else max_bytes()

    async def handle_RCPT(  # noqa: N802 (aiosmtpd's hook name)
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        try:
            mailbox_id = await asyncio.to_thread(_mailbox_id, address)
        except Exception:
            logger.exception("smtpd: looking up %s failed", address)
            return TRY_LATER
        if mailbox_id is None:
            return NO_SUCH_MAILBOX
        envelope.rcpt_tos.append(address)
        return RCPT_OK

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        raw = envelope.original_content or envelope.content or b""
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogateescape")
        if len(raw) > self.limit:
            return TOO_BIG.format(limit=self.limit)
        try:
            await asyncio.to_thread(deliver, bytes(raw), list(envelope.rcpt_tos))
        except Exception:
            logger.exception("smtpd: a message from %s failed", envelope.mail_from)
            return TRY_LATER
        return OK


def controller(*, host: str, port: int, limit: int | None = None) -> Controller:
    """The listener, not yet started: `start()` serves in a thread, `stop()` ends it."""
    size = limit if limit is not None else max_bytes()
    return Controller(
        MailHandler(limit=size),
        hostname=host,
        port=port,
        data_size_limit=size,
        enable_SMTPUTF8=True,
        ident="Offload smtpd",
    )
