"""Attended bots over HTTP: `POST /items/{item_id}/bots/invoice-check` (docs/bots.md)."""

from __future__ import annotations

from datetime import datetime

from django.http import HttpRequest
from ninja import Router, Schema

from offload.tenancy import visibility
from offload.tenancy.api import principal_of
from offload.work.bots import attended
from offload.work.models import WorkItem

router = Router(tags=["bots"])


class FindingOut(Schema):
    code: str
    field: str
    message: str


class BotCheckOut(Schema):
    bot: str
    item_id: int
    ok: bool
    findings: list[FindingOut]
    figures: dict[str, str]
    event_seq: int
    at: datetime


@router.post(
    "/items/{item_id}/bots/invoice-check",
    response=BotCheckOut,
    description=(
        "Run the invoice check on the item and record it as a `bot_checked` event; the "
        "status does not change. 403 for a client or a viewer; 409 when another worker "
        "holds the item, the item is closed or cancelled, or its process is not an "
        "invoice process."
    ),
)
def work_item_invoice_check(request: HttpRequest, item_id: int) -> BotCheckOut:
    principal = principal_of(request)
    item = visibility.get_visible(principal, WorkItem.objects.all(), pk=item_id)
    result, event = attended.work_item_invoice_check(actor=principal, item=item)
    body = result.as_dict()
    return BotCheckOut(
        bot=body["bot"],
        item_id=item.pk,
        ok=result.ok,
        findings=[FindingOut(**f) for f in body["findings"]],
        figures=body["figures"],
        event_seq=event.seq,
        at=event.at,
    )
