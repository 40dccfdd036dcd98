"""Routing over HTTP: pull the next item, keep or give back a lease, end a wrap-up.

`POST /work/next` answers 200 with the item the calling worker now holds, or 204
when nothing it may take is waiting (or it has no free capacity). The caller is
the worker whose login or key makes the request (docs/routing.md).
"""

from __future__ import annotations

from datetime import datetime

from django.http import HttpRequest
from ninja import Field, Router, Schema, Status

from offload.core.schemas import StrictIn
from offload.tenancy import visibility
from offload.tenancy.api import principal_of
from offload.work import routing
from offload.work.models import Assignment, Queue, WorkItem
from offload.work.schemas import WorkItemOut

router = Router(tags=["routing"])


class WorkNextIn(StrictIn):
    queue_id: int | None = Field(
        default=None,
        ge=1,
        le=2**63 - 1,
        description="Pull from this queue only (its ordering applies); any queue by default",
    )


class LeaseOut(Schema):
    assignment_id: int
    item_id: int
    worker_id: int
    how: str
    assigned_at: datetime
    lease_expires_at: datetime


class WorkClaimOut(Schema):
    item: WorkItemOut
    lease: LeaseOut


class ReleaseIn(StrictIn):
    reason: str = Field(default="", max_length=2000)


class WrapUpOut(Schema):
    ended: int


def _lease_out(lease: Assignment) -> LeaseOut:
    return LeaseOut(
        assignment_id=lease.pk,
        item_id=lease.item_id,
        worker_id=lease.worker_id,
        how=lease.how,
        assigned_at=lease.assigned_at,
        lease_expires_at=lease.lease_expires_at,
    )


@router.post(
    "/work/next",
    response={200: WorkClaimOut, 204: None},
    description="403 when the caller is not an active worker; 409 when it is not available.",
)
def work_next(request: HttpRequest, payload: WorkNextIn) -> Status[object]:
    """Assign the caller the best item it may take now: 200 with it, or 204."""
    principal = principal_of(request)
    queue = None
    if payload.queue_id is not None:
        queue = visibility.get_visible(principal, Queue.objects.all(), pk=payload.queue_id)
    visibility.require(principal, "work_item.act")
    claim = routing.claim_next(actor=principal, queue=queue)
    if claim is None:
        return Status(204, None)
    return Status(200, {"item": claim.item, "lease": _lease_out(claim.assignment)})


def _visible_item(request: HttpRequest, item_id: int) -> int:
    principal = principal_of(request)
    return visibility.get_visible(principal, WorkItem.objects.all(), pk=item_id).pk


@router.post(
    "/work/{item_id}/heartbeat",
    response=LeaseOut,
    description="409 when the caller does not hold the item.",
)
def work_heartbeat(request: HttpRequest, item_id: int) -> LeaseOut:
    """Extend the caller's lease on an item it holds."""
    principal = principal_of(request)
    lease = routing.heartbeat(actor=principal, item_id=_visible_item(request, item_id))
    return _lease_out(lease)


@router.post(
    "/work/{item_id}/release",
    response=WorkItemOut,
    description="409 when the caller does not hold the item.",
)
def work_release(request: HttpRequest, item_id: int, payload: ReleaseIn) -> WorkItem:
    """Give a held item back to its queue (a `released` event)."""
    principal = principal_of(request)
    return routing.release(
        actor=principal, item_id=_visible_item(request, item_id), reason=payload.reason
    )


@router.post("/work/wrap-up/done", response=WrapUpOut)
def work_wrap_up_done(request: HttpRequest) -> WrapUpOut:
    """End the caller's wrap-up: its capacity is free for the next item."""
    return WrapUpOut(ended=routing.wrap_up_done(actor=principal_of(request)))
