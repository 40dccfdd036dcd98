"""Intake and reads of work items: `/items`, `/items/bulk`, `/items/{id}`, its events."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Query, Router, Status

from offload.core.pagination import DEFAULT_LIMIT, page
from offload.core.schemas import Page, resolve
from offload.tenancy import visibility
from offload.tenancy.api import principal_of
from offload.work import intake, selectors
from offload.work.models import WorkItem, WorkItemEvent
from offload.work.schemas import (
    WorkItemBulkIn,
    WorkItemBulkOut,
    WorkItemEventOut,
    WorkItemFilter,
    WorkItemIn,
    WorkItemOut,
)

router = Router(tags=["work"])


@router.post("/items", response={200: WorkItemOut, 201: WorkItemOut})
def work_item_create(request: HttpRequest, payload: WorkItemIn) -> Status[WorkItem]:
    """Create and queue an item: 201; a reference the client already has answers its item: 200."""
    principal = principal_of(request)
    client = intake.client_resolve(
        actor=principal,
        client_slug=payload.client,
        process_slugs=[payload.process],
        field="process",
    )
    process = intake.process_resolve(actor=principal, client=client, slug=payload.process)
    parent = None
    if payload.parent_id is not None:
        parent = resolve(
            visibility.visible(principal, WorkItem.objects.filter(client=client)),
            field="parent_id",
            pk=payload.parent_id,
        )
    item, created = intake.work_item_create(
        actor=principal,
        client=client,
        process=process,
        parent=parent,
        **payload.model_dump(include={"reference", "subject", "payload", "language", "tags"}),
        priority=payload.priority.value,
    )
    return Status(201 if created else 200, item)


@router.post("/items/bulk", response={200: WorkItemBulkOut, 207: WorkItemBulkOut})
def work_items_bulk_create(request: HttpRequest, payload: WorkItemBulkIn) -> Status[Any]:
    """Up to 10,000 items: each row accepted, a duplicate, or an error by index;
    200 when no row is an error, 207 otherwise."""
    principal = principal_of(request)
    slugs = {r["process"] for r in payload.items if isinstance(r.get("process"), str)}
    client = intake.client_resolve(
        actor=principal, client_slug=payload.client, process_slugs=slugs, field="client"
    )
    result = intake.work_items_bulk_create(actor=principal, client=client, rows=payload.items)
    return Status(200 if result.complete else 207, result)


@router.get("/items", response=Page[WorkItemOut])
def work_item_list(
    request: HttpRequest,
    filters: Query[WorkItemFilter],
    cursor: str | None = None,
    limit: int = DEFAULT_LIMIT,
) -> dict[str, object]:
    qs = selectors.work_item_list(principal=principal_of(request), **filters.model_dump())
    return page(qs, cursor=cursor, limit=limit)


@router.get("/items/{item_id}", response=WorkItemOut)
def work_item_get(request: HttpRequest, item_id: int) -> WorkItem:
    return selectors.work_item_get(principal=principal_of(request), item_id=item_id)


@router.get("/items/{item_id}/events", response=list[WorkItemEventOut])
def work_item_events(request: HttpRequest, item_id: int) -> list[WorkItemEvent]:
    item = selectors.work_item_get(principal=principal_of(request), item_id=item_id)
    return list(selectors.work_item_events(item=item))
