"""Webhook endpoints and their delivery log: `GET/POST /webhooks`,
`GET/PATCH/DELETE /webhooks/{endpoint_id}`, `GET /webhooks/{endpoint_id}/deliveries`,
`POST /webhooks/deliveries/{delivery_id}/redeliver`. The contract is docs/webhooks.md."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from django.http import HttpRequest
from ninja import Router, Schema, Status
from pydantic import Field, StringConstraints

from offload.core.pagination import DEFAULT_LIMIT, page
from offload.core.schemas import Page, PatchIn, StrictIn
from offload.tenancy import visibility
from offload.tenancy.api import principal_of
from offload.work import webhooks
from offload.work.models import WebhookDelivery, WebhookEndpoint

router = Router(tags=["webhooks"])


Url = Annotated[str, StringConstraints(min_length=1, max_length=2000)]
EventType = Annotated[str, StringConstraints(min_length=1, max_length=32)]
Id = Annotated[int, Field(ge=1, le=2**63 - 1)]


class WebhookEndpointIn(StrictIn):
    client_id: Id | None = Field(
        default=None, description="The client whose item events are sent; a client's own by default"
    )
    url: Url
    event_types: list[EventType] = Field(
        min_length=1, max_length=32, description='Item event types (docs/events.md), or ["*"]'
    )
    is_active: bool = True


class WebhookEndpointPatch(PatchIn):
    url: Url | None = None
    event_types: list[EventType] | None = Field(default=None, min_length=1, max_length=32)
    is_active: bool | None = None


class WebhookDeliveryRedeliverIn(StrictIn):
    reason: Annotated[str, StringConstraints(max_length=2000)] = Field(
        default="", description="Why it is sent again (kept in the audit trail)"
    )


class WebhookEndpointOut(Schema):
    id: int
    client_id: int
    provider_id: int
    url: str
    event_types: list[str]
    is_active: bool
    created_at: datetime
    updated_at: datetime


class WebhookEndpointCreatedOut(WebhookEndpointOut):
    secret: str = Field(description="Signs every delivery; shown only in this answer")


class WebhookDeliveryOut(Schema):
    id: int
    endpoint_id: int
    item_id: int
    event_id: int
    status: str
    attempts: int
    next_attempt_at: datetime
    last_error: str
    last_status_code: int | None
    delivered_at: datetime | None
    created_at: datetime


@router.get("/webhooks", response=Page[WebhookEndpointOut])
def webhook_endpoint_list(
    request: HttpRequest, cursor: str | None = None, limit: int = DEFAULT_LIMIT
) -> dict[str, object]:
    qs = visibility.visible(principal_of(request), WebhookEndpoint.objects.all())
    return page(qs, cursor=cursor, limit=limit)


@router.post("/webhooks", response={201: WebhookEndpointCreatedOut})
def webhook_endpoint_create(
    request: HttpRequest, payload: WebhookEndpointIn
) -> Status[WebhookEndpoint]:
    principal = principal_of(request)
    visibility.require(principal, "webhook.manage")
    client, provider = webhooks.client_and_provider(principal, payload.client_id)
    endpoint = webhooks.webhook_endpoint_create(
        actor=principal,
        client=client,
        provider=provider,
        url=payload.url,
        event_types=payload.event_types,
        is_active=payload.is_active,
    )
    return Status(201, endpoint)


@router.get("/webhooks/{endpoint_id}", response=WebhookEndpointOut)
def webhook_endpoint_get(request: HttpRequest, endpoint_id: int) -> WebhookEndpoint:
    return visibility.get_visible(
        principal_of(request), WebhookEndpoint.objects.all(), pk=endpoint_id
    )


@router.patch("/webhooks/{endpoint_id}", response=WebhookEndpointOut)
def webhook_endpoint_update(
    request: HttpRequest, endpoint_id: int, payload: WebhookEndpointPatch
) -> WebhookEndpoint:
    principal = principal_of(request)
    endpoint = visibility.get_visible(
        principal, WebhookEndpoint.objects.select_related("client"), pk=endpoint_id
    )
    data: dict[str, Any] = payload.model_dump(exclude_unset=True)
    return webhooks.webhook_endpoint_update(actor=principal, endpoint=endpoint, data=data)


@router.delete("/webhooks/{endpoint_id}", response={204: None})
def webhook_endpoint_delete(request: HttpRequest, endpoint_id: int) -> Status[None]:
    principal = principal_of(request)
    endpoint = visibility.get_visible(
        principal, WebhookEndpoint.objects.select_related("client"), pk=endpoint_id
    )
    webhooks.webhook_endpoint_delete(actor=principal, endpoint=endpoint)
    return Status(204, None)


@router.get("/webhooks/{endpoint_id}/deliveries", response=Page[WebhookDeliveryOut])
def webhook_delivery_list(
    request: HttpRequest,
    endpoint_id: int,
    status: str | None = None,
    cursor: str | None = None,
    limit: int = DEFAULT_LIMIT,
) -> dict[str, object]:
    principal = principal_of(request)
    endpoint = visibility.get_visible(principal, WebhookEndpoint.objects.all(), pk=endpoint_id)
    qs = visibility.visible(principal, WebhookDelivery.objects.filter(endpoint=endpoint))
    if status is not None:
        qs = qs.filter(status=status)
    return page(qs, cursor=cursor, limit=limit)


@router.post("/webhooks/deliveries/{delivery_id}/redeliver", response=WebhookDeliveryOut)
def webhook_delivery_redeliver(
    request: HttpRequest, delivery_id: int, payload: WebhookDeliveryRedeliverIn
) -> WebhookDelivery:
    principal = principal_of(request)
    delivery = visibility.get_visible(principal, WebhookDelivery.objects.all(), pk=delivery_id)
    return webhooks.webhook_delivery_redeliver(
        actor=principal, delivery=delivery, reason=payload.reason
    )
