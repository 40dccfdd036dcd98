"""The item event log: every change to an item is an event written in the change's
transaction. KPIs, SLA clocks, QA sampling and billing are computed from these
events; their vocabulary is docs/events.md."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from offload.sla.clock import SignalKind
from offload.tenancy.visibility import Principal
from offload.work import clocks, lifecycle, pgcopy, webhooks
from offload.work.models import WebhookDelivery, WorkItem, WorkItemEvent

SYSTEM = "system"


def _actor_fields(actor: Principal | None) -> dict[str, Any]:
    return {
        "actor_user": actor.user if actor else None,
        "actor_api_key": actor.api_key if actor else None,
        "actor_label": actor.label if actor else SYSTEM,
    }


def _actor_ids(actor: Principal | None) -> dict[str, Any]:
    """`_actor_fields` by id, for rows written without model instances."""
    return {
        "actor_user_id": actor.user.pk if actor and actor.user else None,
        "actor_api_key_id": actor.api_key.pk if actor and actor.api_key else None,
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
    clocks_follow(item, event)
    return event


def append_many(
    entries: Sequence[tuple[WorkItem, str, Mapping[str, Any], datetime]],
    *,
    actor: Principal | None = None,
) -> None:
    """Append events to many locked items in bulk: (item, type, data, at) in order.
    For the system's own events (the SLA sweep's), which move no clock. Many of them
    go by COPY on PostgreSQL, ids reserved first so the outbox rows can name their
    events (as the intake's COPY path does)."""
    if not entries:
        return
    last = dict(
        WorkItemEvent.objects.filter(item_id__in={item.pk for item, *_ in entries})
        .values("item_id")
        .annotate(m=Max("seq"))
        .values_list("item_id", "m")
    )
    who = _actor_ids(actor)
    rows: list[dict[str, Any]] = []
    for item, type, data, at in entries:
        last[item.pk] = last.get(item.pk, 0) + 1
        rows.append(
            {
                "item_id": item.pk,
                "client_id": item.client_id,
                "provider_id": item.provider_id,
                "seq": last[item.pk],
                "type": type,
                "at": at,
                "data": dict(data),
                **who,
            }
        )
    if not (pgcopy.available() and len(rows) >= COPY_FROM):
        webhooks.enqueue(WorkItemEvent.objects.bulk_create([WorkItemEvent(**r) for r in rows]))
        return
    now = timezone.now()
    (ids,) = pgcopy.ids_reserve((WorkItemEvent, len(rows)))
    for row, pk in zip(rows, ids, strict=True):
        row["id"] = pk
    pgcopy.rows_copy(WorkItemEvent, rows, now=now)
    endpoints = webhooks.active_endpoints({row["client_id"] for row in rows})
    if endpoints:
        outbox = [d for row in rows for d in webhooks.delivery_rows(row, endpoints, now)]
        pgcopy.rows_copy(WebhookDelivery, outbox, now=now, with_pk=False)


# From this many events on, append_many writes by COPY on PostgreSQL.
COPY_FROM = 200


def clocks_follow_written(item: WorkItem, event_type: str, at: datetime) -> None:
    """The clocks follow an event one of pgcycle's statements wrote: its type and
    time are what they read."""
    event = WorkItemEvent(item=item, type=event_type, at=at, data={"to_status": event_type})
    clocks_follow(item, event)


def clocks_follow(item: WorkItem, event: WorkItemEvent) -> None:
    """Advance the item's SLA clocks by a new event (saved, or written by one of
    the statements of offload.work.pgcycle) and record what they signal: a warning
    or breach reached at a stop, a turnaround reopened. Escalation rules run on
    signals of items still open (a stopped clock's breach is recorded, not acted on)."""
    signals_record(item, clocks.clocks_advance(item, event))


def signals_record(item: WorkItem, fired: Sequence[clocks.Fired]) -> None:
    """Record clock signals as events on a locked item, and escalate on them."""
    for fired_one in fired:
        append(
            item,
            fired_one.event_type,
            actor=None,
            data=fired_one.event_data,
            at=fired_one.signal.at,
        )
        signal = fired_one.signal
        if signal.kind is not SignalKind.REOPENED and item.status in lifecycle.OPEN:
            # Imported here: escalations acts through services, which import history.
            from offload.work import escalations

            escalations.signal_escalate(
                item=item, metric=signal.metric.value, percent=signal.percent, at=signal.at
            )


def new_item_event_rows(
    items: Iterable[Mapping[str, Any]], *, actor: Principal | None, at: datetime
) -> Iterator[dict[str, Any]]:
    """The `created` and `queued` events of freshly inserted items, as field values by
    attribute name (`item_id`), for `WorkItemEvent(**row)` or a COPY.

    `items` are the items' field values by attribute name (`id`, `client_id`,
    `reference`, `priority`, `queue_id`...): a saved instance's `__dict__` will do.
    The rows are made as they are read, so a COPY holds one at a time."""
    who = _actor_ids(actor)
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
    at = at or timezone.now()
    items = list(items)
    rows = new_item_event_rows([i.__dict__ for i in items], actor=actor, at=at)
    created = WorkItemEvent.objects.bulk_create([WorkItemEvent(**row) for row in rows])
    webhooks.enqueue(created)
    due = clocks.clocks_start([clocks.facts(i) for i in items], at=at)
    for item in items:
        if item.pk in due:
            item.due_at = due[item.pk]
    return created
