"""Queues: `GET/POST /queues`, `GET/PATCH /queues/{queue_id}`."""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Router, Status

from offload.contracts.models import Process
from offload.core.pagination import DEFAULT_LIMIT, page
from offload.core.schemas import Page, resolve
from offload.tenancy import visibility
from offload.tenancy.api import principal_of
from offload.work import services
from offload.work.action_schemas import QueueIn, QueueOut, QueuePatch
from offload.work.models import Queue

router = Router(tags=["work"])


@router.get("/queues", response=Page[QueueOut])
def queue_list(
    request: HttpRequest,
    process_id: int | None = None,
    cursor: str | None = None,
    limit: int = DEFAULT_LIMIT,
) -> dict[str, object]:
    qs = visibility.visible(principal_of(request), Queue.objects.prefetch_related("team_leads"))
    if process_id is not None:
        qs = qs.filter(process_id=process_id)
    return page(qs, cursor=cursor, limit=limit)


@router.get("/queues/{queue_id}", response=QueueOut)
def queue_get(request: HttpRequest, queue_id: int) -> Queue:
    return visibility.get_visible(
        principal_of(request), Queue.objects.prefetch_related("team_leads"), pk=queue_id
    )


@router.post("/queues", response={201: QueueOut})
def queue_create(request: HttpRequest, payload: QueueIn) -> Status[Queue]:
    principal = principal_of(request)
    process = resolve(
        visibility.visible(principal, Process.objects.all()),
        field="process_id",
        pk=payload.process_id,
    )
    queue = services.queue_create(
        actor=principal,
        process=process,
        name=payload.name,
        slug=payload.slug or "",
        languages=payload.languages,
        is_review=payload.is_review,
        routing_mode=payload.routing_mode,
        ordering=payload.ordering,
        team_lead_ids=payload.team_lead_ids,
    )
    return Status(201, queue)


@router.patch("/queues/{queue_id}", response=QueueOut)
def queue_update(request: HttpRequest, queue_id: int, payload: QueuePatch) -> Queue:
    principal = principal_of(request)
    queue = visibility.get_visible(principal, Queue.objects.all(), pk=queue_id)
    data = {
        k: v
        for k, v in payload.model_dump(exclude_unset=True, exclude={"team_lead_ids"}).items()
        if v is not None
    }
    return services.queue_update(
        actor=principal, queue=queue, data=data, team_lead_ids=payload.team_lead_ids
    )
