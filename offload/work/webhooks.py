"""Webhooks: item events sent to the client's systems, through an outbox.

`enqueue` writes one `WebhookDelivery` per matching active endpoint in the
transaction that appends the events (offload.work.history calls it), so an event
that exists is owed to its endpoints and none is promised for a change that rolled
back. The `work.webhook_delivery` sweep sends the due rows: a signed JSON POST,
retried with exponential backoff until the first attempt is more than 24 hours old,
then dead. Delivery is at least once and ordered per (endpoint, item): only the
oldest pending delivery of each pair is sent. The contract is docs/webhooks.md.

The sweep holds no lock while it waits on a receiver: it claims due rows in one
short transaction by pushing their `next_attempt_at` a lease ahead (LEASE), sends
outside any transaction, then records each answer in its own short transaction. A
worker killed mid-send leaves its rows pending; they come due again when the lease
runs out and are sent again, with the same delivery id (at least once). A claimed
row is still pending, so the next delivery of the same (endpoint, item) waits for it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from offload.contracts.models import Engagement
from offload.core import errors, safe_http, sweeps
from offload.core.errors import FieldError
from offload.tenancy import audit, visibility
from offload.tenancy.models import Organisation
from offload.tenancy.services import update_model
from offload.tenancy.visibility import Principal
from offload.work import lifecycle
from offload.work.models import (
    DeliveryStatus,
    WebhookDelivery,
    WebhookEndpoint,
    WorkItemEvent,
)

logger = logging.getLogger(__name__)

# The item event types of docs/events.md an endpoint may subscribe to; "*" is all.
EVENT_TYPES = lifecycle.EVENT_TYPES | lifecycle.RESERVED_EVENT_TYPES
ALL = "*"
BATCH = 20
TIMEOUT_S = 10
# How long a claimed delivery is reserved for the worker sending it.
LEASE = timedelta(seconds=TIMEOUT_S * BATCH + 60)
GIVE_UP_AFTER = timedelta(hours=24)
MAX_BACKOFF = timedelta(hours=6)
ERROR_MAX = 2000

ENDPOINT_FIELDS = ["url", "event_types", "is_active"]
BAD_EVENT_TYPE = "'{value}' is not an item event type; use '*' or one of: {allowed}"
NO_EVENT_TYPES = "name at least one event type, or '*'"
NO_SUCH_CLIENT = "no client with this id is served by you"
NO_PROVIDER = "this client has no engagement with a provider"
CLIENT_ONLY = "only a client's own admins or its provider's admins may manage its webhooks"


# ------------------------------------------------------------------ the outbox


def active_endpoints(client_ids: Iterable[int]) -> list[WebhookEndpoint]:
    return list(WebhookEndpoint.objects.filter(client_id__in=set(client_ids), is_active=True))


def delivery_rows(
    event: Mapping[str, Any], endpoints: Sequence[WebhookEndpoint], now: datetime
) -> Iterator[dict[str, Any]]:
    """The outbox rows one event owes, as field values: one per matching active
    endpoint of its client, due now. `event` names its id, client_id, provider_id,
    item_id and type (the bulk COPY path has no model instances)."""
    for endpoint in endpoints:
        if endpoint.client_id == event["client_id"] and endpoint.wants(event["type"]):
            yield {
                "client_id": event["client_id"],
                "provider_id": event["provider_id"],
                "endpoint_id": endpoint.pk,
                "item_id": event["item_id"],
                "event_id": event["id"],
                "next_attempt_at": now,
            }


def enqueue(events: Sequence[WorkItemEvent], *, now: datetime | None = None) -> int:
    """One delivery per (event, matching active endpoint of its client), in bulk.

    Called inside the events' transaction; one query finds the endpoints."""
    if not events:
        return 0
    endpoints = active_endpoints(e.client_id for e in events)
    if not endpoints:
        return 0
    due = now or timezone.now()
    rows = [
        WebhookDelivery(**row)
        for event in events
        for row in delivery_rows(
            {
                "id": event.pk,
                "client_id": event.client_id,
                "provider_id": event.provider_id,
                "item_id": event.item_id,
                "type": event.type,
            },
            endpoints,
            due,
        )
    ]
    WebhookDelivery.objects.bulk_create(rows)
    return len(rows)


# ------------------------------------------------------------------ signing


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The `Offload-Signature` header: `t=<unix ts>,v1=<hex HMAC-SHA256 of "ts.body">`."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def payload(delivery: WebhookDelivery) -> dict[str, Any]:
    event, item = delivery.event, delivery.item
    return {
        "id": delivery.pk,
        "event": {
            "type": event.type,
            "seq": event.seq,
            "at": event.at.isoformat(),
            "data": event.data,
        },
        "item": {"id": item.pk, "reference": item.reference, "status": item.status},
    }


def backoff(attempts: int) -> timedelta:
    """The wait after the n-th failed attempt: 2**n minutes, at most 6 hours."""
    return min(timedelta(minutes=2 ** min(attempts, 20)), MAX_BACKOFF)


# ------------------------------------------------------------------ sending


def _send(delivery: WebhookDelivery, now: datetime) -> tuple[int | None, str]:
    body = json.dumps(payload(delivery), separators=(",", ":"), default=str).encode()
    ts = int(now.timestamp())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "Offload-Webhooks/1",
        "Offload-Delivery": str(delivery.pk),
        "Offload-Signature": signature(delivery.endpoint.secret, ts, body),
    }
    return safe_http.post(delivery.endpoint.url, body, headers, timeout=TIMEOUT_S)


@transaction.atomic
def _record(
    delivery: WebhookDelivery, lease_until: datetime, now: datetime, code: int | None, error: str
) -> None:
    """Store one attempt's answer, unless the row changed hands meanwhile (a manual
    redelivery reset it, or our lease ran out and another worker took it)."""
    row = WebhookDelivery.objects.select_for_update().filter(pk=delivery.pk).first()
    if row is None or row.status != DeliveryStatus.PENDING or row.next_attempt_at != lease_until:
        return
    row.first_attempt_at = row.first_attempt_at or now
    row.last_status_code = code
    row.attempts += 1
    if not error:
        row.status = DeliveryStatus.DELIVERED
        row.delivered_at = now
    else:
        row.last_error = error[:ERROR_MAX]
        if now - row.first_attempt_at > GIVE_UP_AFTER:
            row.status = DeliveryStatus.DEAD
        else:
            row.next_attempt_at = now + backoff(row.attempts)
    row.save()


def due_deliveries(now: datetime) -> Any:
    """Pending, due, and the oldest pending one of their (endpoint, item)."""
    older = WebhookDelivery.objects.filter(
        endpoint_id=OuterRef("endpoint_id"),
        item_id=OuterRef("item_id"),
        status=DeliveryStatus.PENDING,
        id__lt=OuterRef("id"),
    )
    return (
        WebhookDelivery.objects.filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=now)
        .exclude(Exists(older))
        .select_related("endpoint", "event", "item")
        .order_by("next_attempt_at", "id")
    )


@sweeps.register("work.webhook_delivery")
def webhook_deliveries_due(now: datetime) -> int:
    """Send every due delivery (up to BATCH) and record the answers."""
    lease_until = now + LEASE
    due = sweeps.claim_leased(
        due_deliveries(now), limit=BATCH, field="next_attempt_at", until=lease_until
    )
    for delivery in due:
        code, error = _send(delivery, now)
        _record(delivery, lease_until, now, code, error)
    return len(due)


# ------------------------------------------------------------------ endpoints


def _problems(data: Mapping[str, Any]) -> list[FieldError]:
    problems: list[FieldError] = []
    if "url" in data and (problem := safe_http.url_problem(str(data["url"]))):
        problems.append(FieldError("url", problem))
    if "event_types" in data:
        types = data["event_types"]
        if not types:
            problems.append(FieldError("event_types", NO_EVENT_TYPES))
        allowed = ", ".join(sorted(EVENT_TYPES))
        for i, value in enumerate(types or []):
            if value != ALL and value not in EVENT_TYPES:
                problems.append(
                    FieldError(
                        f"event_types[{i}]", BAD_EVENT_TYPE.format(value=value, allowed=allowed)
                    )
                )
    return problems


def _check(problems: list[FieldError]) -> None:
    if problems:
        raise errors.ValidationFailed(problems)


def client_and_provider(
    principal: Principal, client_id: int | None
) -> tuple[Organisation, Organisation]:
    """The client an endpoint is for (a client's own by default) and its provider,
    found through an engagement the principal may see; else a 422 on `client_id`."""
    engagements = visibility.visible(
        principal, Engagement.objects.select_related("client", "provider")
    )
    if principal.is_client:
        client_id = client_id or principal.organisation.pk
    if client_id is None:
        raise errors.ValidationFailed.single("client_id", NO_SUCH_CLIENT)
    engagement = engagements.filter(client_id=client_id).order_by("id").first()
    if engagement is None:
        own = principal.is_client and client_id == principal.organisation.pk
        raise errors.ValidationFailed.single("client_id", NO_PROVIDER if own else NO_SUCH_CLIENT)
    return engagement.client, engagement.provider


def _require(actor: Principal, client: Organisation) -> None:
    visibility.require(actor, "webhook.manage")
    if actor.is_client and actor.organisation.pk != client.pk:
        raise errors.PermissionDenied(CLIENT_ONLY)


@transaction.atomic
def webhook_endpoint_create(
    *,
    actor: Principal | None,
    client: Organisation,
    provider: Organisation,
    url: str,
    event_types: Iterable[str],
    is_active: bool = True,
) -> WebhookEndpoint:
    """A new endpoint; its `secret` is generated here and shown to the caller once."""
    if actor is not None:
        _require(actor, client)
    data = {"url": url, "event_types": list(event_types), "is_active": is_active}
    _check(_problems(data))
    endpoint = WebhookEndpoint.objects.create(
        client=client, provider=provider, secret=secrets.token_urlsafe(32), **data
    )
    audit.record_created(
        organisation=client,
        actor=actor,
        action="webhook.create",
        obj=endpoint,
        fields=ENDPOINT_FIELDS,
    )
    return endpoint


@transaction.atomic
def webhook_endpoint_update(
    *, actor: Principal, endpoint: WebhookEndpoint, data: Mapping[str, Any]
) -> WebhookEndpoint:
    _require(actor, endpoint.client)
    _check(_problems(data))
    if "event_types" in data:
        data = {**data, "event_types": list(data["event_types"])}
    return update_model(
        actor=actor,
        organisation=endpoint.client,
        obj=endpoint,
        data=data,
        action="webhook.update",
    )


@transaction.atomic
def webhook_endpoint_delete(*, actor: Principal, endpoint: WebhookEndpoint) -> None:
    """Delete an endpoint and its delivery log."""
    _require(actor, endpoint.client)
    audit.record_deleted(
        organisation=endpoint.client,
        actor=actor,
        action="webhook.delete",
        obj=endpoint,
        fields=ENDPOINT_FIELDS,
    )
    endpoint.delete()


@transaction.atomic
def webhook_delivery_redeliver(
    *,
    actor: Principal | None,
    delivery: WebhookDelivery,
    reason: str = "",
    now: datetime | None = None,
) -> WebhookDelivery:
    """Send a delivery again (dead, delivered or pending): pending and due now, with a
    fresh 24-hour retry window. Its id stays, so the receiver can dedupe."""
    locked = (
        WebhookDelivery.objects.select_for_update().select_related("client").get(pk=delivery.pk)
    )
    if actor is not None:
        _require(actor, locked.client)
    before = {"status": locked.status, "attempts": locked.attempts}
    locked.status = DeliveryStatus.PENDING
    locked.next_attempt_at = now or timezone.now()
    locked.first_attempt_at = None
    locked.attempts = 0
    locked.save()
    audit.record(
        organisation=locked.client,
        actor=actor,
        action="webhook.redeliver",
        obj=locked,
        changes={
            **audit.diff(before, {"status": locked.status, "attempts": 0}),
            **({"reason": [None, reason]} if reason else {}),
        },
    )
    return locked
