"""Mailboxes and an item's e-mails: `GET/POST /mailboxes`, `GET/PATCH
/mailboxes/{mailbox_id}`, `GET /items/{item_id}/emails`. The contract is
docs/email.md."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from django.http import HttpRequest
from ninja import Router, Schema, Status
from pydantic import Field, StringConstraints

from offload.contracts.models import Process
from offload.core.pagination import DEFAULT_LIMIT, page
from offload.core.schemas import Page, PatchIn, StrictIn, resolve
from offload.tenancy import visibility
from offload.tenancy.api import principal_of
from offload.work import mailboxes
from offload.work.models import EmailMessage, Mailbox, WorkItem

router = Router(tags=["email"])

Address = Annotated[str, StringConstraints(min_length=3, max_length=254)]
Text200 = Annotated[str, StringConstraints(max_length=200)]
Text255 = Annotated[str, StringConstraints(max_length=255)]
Folder = Annotated[str, StringConstraints(min_length=1, max_length=255)]
Password = Annotated[str, StringConstraints(max_length=1000)]
Port = Annotated[int, Field(ge=1, le=65535)]
Id = Annotated[int, Field(ge=1, le=2**63 - 1)]


class MailboxIn(StrictIn):
    process_id: Id = Field(description="A process of channel email")
    address: Address = Field(description="Where the customers write; unique, lower-cased")
    display_name: Text200 = ""
    is_active: bool = True
    auto_acknowledge: bool = Field(
        default=False, description='Answer new mail with "we received your request"'
    )
    imap_host: Text255 = Field(default="", description="Poll this IMAP server (empty: SMTP only)")
    imap_port: Port = 993
    imap_username: Text255 = ""
    imap_password: Password = Field(default="", description="Write-only; stored encrypted")
    imap_folder: Folder = "INBOX"
    imap_use_ssl: bool = True


class MailboxPatch(PatchIn):
    address: Address | None = None
    display_name: Text200 | None = None
    is_active: bool | None = None
    auto_acknowledge: bool | None = None
    imap_host: Text255 | None = None
    imap_port: Port | None = None
    imap_username: Text255 | None = None
    imap_password: Password | None = Field(default=None, description='Write-only; "" clears it')
    imap_folder: Folder | None = None
    imap_use_ssl: bool | None = None


class MailboxOut(Schema):
    id: int
    client_id: int
    provider_id: int
    process_id: int
    address: str
    display_name: str
    is_active: bool
    auto_acknowledge: bool
    imap_host: str
    imap_port: int
    imap_username: str
    has_imap_password: bool
    imap_folder: str
    imap_use_ssl: bool
    next_poll_at: datetime | None
    last_polled_at: datetime | None
    last_poll_error: str
    created_at: datetime
    updated_at: datetime

    @staticmethod
    def resolve_has_imap_password(obj: Mailbox) -> bool:
        return bool(obj.imap_password_encrypted)


class EmailMessageOut(Schema):
    id: int
    item_id: int
    mailbox_id: int
    direction: str
    message_id: str
    in_reply_to: str
    references: list[str]
    from_address: str
    from_name: str
    reply_to: str
    to: list[str]
    cc: list[str]
    subject: str
    text_body: str
    html_body: str = Field(description="As received; sanitise before display")
    is_auto: bool
    auto_reason: str
    status: str
    attempts: int
    next_attempt_at: datetime | None
    sent_at: datetime | None
    last_error: str
    created_at: datetime

    @staticmethod
    def resolve_references(obj: EmailMessage) -> list[str]:
        return obj.references.split()


@router.get("/mailboxes", response=Page[MailboxOut])
def mailbox_list(
    request: HttpRequest, cursor: str | None = None, limit: int = DEFAULT_LIMIT
) -> dict[str, object]:
    qs = visibility.visible(principal_of(request), Mailbox.objects.all())
    return page(qs, cursor=cursor, limit=limit)


@router.post(
    "/mailboxes",
    response={201: MailboxOut},
    description="Provider admins. 422 names `process_id` (not a visible process of channel "
    "email), `address` (not an address, or taken) or an IMAP field missing beside "
    "`imap_host`.",
)
def mailbox_create(request: HttpRequest, payload: MailboxIn) -> Status[Mailbox]:
    principal = principal_of(request)
    process = resolve(
        visibility.visible(principal, Process.objects.all()),
        field="process_id",
        pk=payload.process_id,
    )
    data = payload.model_dump(exclude={"process_id"})
    mailbox = mailboxes.mailbox_create(actor=principal, process=process, **data)
    return Status(201, mailbox)


@router.get("/mailboxes/{mailbox_id}", response=MailboxOut)
def mailbox_get(request: HttpRequest, mailbox_id: int) -> Mailbox:
    return visibility.get_visible(principal_of(request), Mailbox.objects.all(), pk=mailbox_id)


@router.patch("/mailboxes/{mailbox_id}", response=MailboxOut)
def mailbox_update(request: HttpRequest, mailbox_id: int, payload: MailboxPatch) -> Mailbox:
    principal = principal_of(request)
    mailbox = visibility.get_visible(principal, Mailbox.objects.all(), pk=mailbox_id)
    data: dict[str, Any] = payload.model_dump(exclude_unset=True)
    return mailboxes.mailbox_update(actor=principal, mailbox=mailbox, data=data)


@router.get("/items/{item_id}/emails", response=Page[EmailMessageOut])
def email_message_list(
    request: HttpRequest, item_id: int, cursor: str | None = None, limit: int = DEFAULT_LIMIT
) -> dict[str, object]:
    """The item's e-mails, inbound and outbound, oldest first, with their bodies."""
    principal = principal_of(request)
    item = visibility.get_visible(principal, WorkItem.objects.all(), pk=item_id)
    return page(EmailMessage.objects.filter(item=item), cursor=cursor, limit=limit)
