"""The item event log: every change to an item is an event written in the change's
transaction. KPIs, SLA clocks, QA sampling and billing are computed from these
events; their vocabulary is docs/events.md."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from offload.tenancy.visibility import Principal
from offload.work import webhooks
from offload.work.models import WorkItem, WorkItemEvent

SYSTEM = "system"


def _actor_fields(actor: Principal | None) -> dict[str, Any]:
    return {
        "actor_user": actor.user if actor else None,
        "actor_api_key": actor.api_key if actor else None,
        "actor_label": actor.label if actor else SYSTEM,
    }


def append(
    item: WorkItem,
    type: str,
    *,
    actor: Principal | None,
    data: Mapping[str, Any] | None = None,
    at: datetime | None = None,
) -> WorkItemEvent:
    """Append one event to an item; the caller holds the item's row lock."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("item events must be written in the change's transaction")
    last = WorkItemEvent.objects.filter(item=item).aggregate(m=Max("seq"))["m"] or 0
    event = WorkItemEvent.objects.create(
        item=item,
        client_id=item.client_id,
        provider_id=item.provider_id,
        seq=last + 1,
        type=type,
        at=at or timezone.now(),
        data=dict(data or {}),
        **_actor_fields(actor),
    )
    # The webhook outbox rows commit or roll back with the event.
    webhooks.enqueue([event])
    return event


def new_item_event_rows(
    items: Iterable[Mapping[str, Any]], *, actor: Principal | None, at: datetime
) -> Iterator[dict[str, Any]]:
    """The `created` and `queued` events of freshly inserted items, as field values by
    attribute name (`item_id`), for `WorkItemEvent(**row)` or a COPY.

    `items` are the items' field values by attribute name (`id`, `client_id`,
    `reference`, `priority`, `queue_id`...): a saved instance's `__dict__` will do.
    The rows are made as they are read, so a COPY holds one at a time."""
    who = {
        "actor_user_id": actor.user.pk if actor and actor.user else None,
        "actor_api_key_id": actor.api_key.pk if actor and actor.api_key else None,
        "actor_label": actor.label if actor else SYSTEM,
    }
    for item in items:
        common = {
            "item_id": item["id"],
            "client_id": item["client_id"],
            "provider_id": item["provider_id"],
        }
        yield {
            **common,
            "seq": 1,
            "type": "created",
            "at": at,
            "data": {"reference": item["reference"], "priority": item["priority"]},
            **who,
        }
        yield {
            **common,
            "seq": 2,
            "type": "queued",
            "at": at,
            "data": {"queue": item["queue_id"]},
            **who,
        }


def append_new_items(
    items: Iterable[WorkItem], *, actor: Principal | None, at: datetime | None = None
) -> list[WorkItemEvent]:
    """`created` and `queued` events for freshly inserted items, in one bulk statement."""
    rows = new_item_event_rows([i.__dict__ for i in items], actor=actor, at=at or timezone.now())
    created = WorkItemEvent.objects.bulk_create([WorkItemEvent(**row) for row in rows])
    webhooks.enqueue(created)
    return created
