"""Builders for work-item tests: queues and items, items made through intake."""

from __future__ import annotations

import email.message
import email.utils
import itertools
from typing import Any

from offload.contracts import services as contract_services
from offload.contracts.models import Process
from offload.contracts.tests.factories import make_engagement
from offload.work import intake, mailboxes
from offload.work.models import Mailbox, Queue, WorkItem

_seq = itertools.count(1)


def make_process(**overrides: Any) -> Process:
    """A process of a new engagement (a new client and provider) unless one is given."""
    engagement = overrides.pop("engagement", None) or make_engagement()
    n = next(_seq)
    return contract_services.process_create(
        actor=None,
        engagement=engagement,
        name=overrides.pop("name", f"Process {n}"),
        channel=overrides.pop("channel", "email"),
        **overrides,
    )


def make_queue(process: Process, **overrides: Any) -> Queue:
    n = next(_seq)
    fields: dict[str, Any] = {
        "name": f"Queue {n}",
        "slug": f"queue-{n}",
        "languages": [],
        "is_review": False,
        **overrides,
    }
    return Queue.objects.create(
        client_id=process.client_id, provider_id=process.provider_id, process=process, **fields
    )


def make_item(process: Process | None = None, **overrides: Any) -> WorkItem:
    """A queued item, created through intake as the system (actor None)."""
    process = process or make_process()
    fields: dict[str, Any] = {"reference": f"REF-{next(_seq)}", **overrides}
    item, _ = intake.work_item_create(actor=None, client=process.client, process=process, **fields)
    return item


def make_mailbox(process: Process | None = None, **overrides: Any) -> Mailbox:
    """A mailbox of an e-mail process (a new one unless given), made by the service."""
    process = process or make_process()
    fields: dict[str, Any] = {"address": f"support-{next(_seq)}@mail.example.com", **overrides}
    return mailboxes.mailbox_create(actor=None, process=process, **fields)


def make_mail(
    *,
    to: str,
    sender: str = "Jane Doe <jane@example.org>",
    subject: str = "My router keeps rebooting",
    text: str = "Hello, my router keeps rebooting every hour.",
    message_id: str | None = None,
    in_reply_to: str = "",
    references: str = "",
    headers: dict[str, str] | None = None,
    attachments: list[tuple[str, str, bytes]] | None = None,
) -> bytes:
    """The bytes of a customer's message, as a mail client would send them."""
    message = email.message.EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = email.utils.format_datetime(email.utils.localtime())
    message["Message-ID"] = message_id or email.utils.make_msgid(domain="example.org")
    if in_reply_to:
        message["In-Reply-To"] = in_reply_to
    if references:
        message["References"] = references
    for name, value in (headers or {}).items():
        message[name] = value
    message.set_content(text)
    for filename, content_type, data in attachments or []:
        maintype, subtype = content_type.split("/")
        message.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return message.as_bytes()


# ------------------------------------------------------------------ invoices, for the bots

INVOICE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["supplier_tax_id", "invoice_number", "net_amount", "lines"],
    "properties": {
        "supplier_tax_id": {"type": "string"},
        "invoice_number": {"type": "string"},
        "currency": {"type": "string"},
        "net_amount": {"type": "string"},
        "tax_rate": {"type": "string"},
        "tax_amount": {"type": "string"},
        "total_amount": {"type": "string"},
        "lines": {"type": "array"},
    },
}


def make_invoice_process(**overrides: Any) -> Process:
    """A back-office process whose items are supplier invoices (the invoice check's)."""
    return make_process(
        channel=overrides.pop("channel", "back_office"),
        item_schema=overrides.pop("item_schema", INVOICE_SCHEMA),
        **overrides,
    )


def invoice_payload(**changes: Any) -> dict[str, Any]:
    """A valid invoice (GB VAT id, 20 %), with `changes`; a None value drops the field."""
    payload: dict[str, Any] = {
        "supplier_tax_id": "GB434031494",
        "invoice_number": f"INV-{next(_seq)}",
        "currency": "GBP",
        "net_amount": "155.50",
        "tax_rate": "20",
        "tax_amount": "31.10",
        "total_amount": "186.60",
        "lines": [{"amount": "120.00"}, {"amount": "35.50"}],
        **changes,
    }
    return {k: v for k, v in payload.items() if v is not None}
