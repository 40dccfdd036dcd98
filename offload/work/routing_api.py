"""Routing over HTTP: pull the next item, keep or give back a lease, end a wrap-up.

`POST /work/next` answers 200 with the item the calling worker now holds, or 204
when nothing it may take is waiting (or it has no free capacity).
`POST /work/{id}/complete-and-next` completes the item the worker holds and pulls
its next one in one request. The caller is the worker whose login or key makes the
request (docs/routing.md).
"""

from __future__ import annotations

from datetime import datetime

from django.http import HttpRequest
from ninja import Field, Router, Schema, Status

from offload.core.pagination import DEFAULT_LIMIT, page
from offload.core.schemas import Page, StrictIn, resolve
from offload.tenancy import visibility
from offload.tenancy.api import principal_of
from offload.work import dispatch, leases, services
from offload.work.action_schemas import WorkItemCompleteIn
from offload.work.models import Assignment, Offer, OfferStatus, Queue, WorkItem
from offload.work.schemas import WorkItemOut
from offload.workers.models import Worker
from offload.workers.selectors import worker_for_principal

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


class WorkCompleteNextOut(Schema):
    completed: WorkItemOut
    next: WorkClaimOut | None = Field(
        description="The item the caller now holds; null when nothing it may take is "
        "waiting, it has no free capacity, or it may not pull now (not available)"
    )


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
def work_item_claim(request: HttpRequest, payload: WorkNextIn) -> Status[object]:
    """Assign the caller the best item it may take now: 200 with it, or 204."""
    principal = principal_of(request)
    queue = None
    if payload.queue_id is not None:
        queue = visibility.get_visible(principal, Queue.objects.all(), pk=payload.queue_id)
    visibility.require(principal, "work_item.act")
    claim = leases.work_item_claim(actor=principal, queue=queue)
    if claim is None:
        return Status(204, None)
    return Status(200, {"item": claim.item, "lease": _lease_out(claim.assignment)})


@router.post(
    "/work/{item_id}/complete-and-next",
    response=WorkCompleteNextOut,
    description=(
        "The caller completes the item it holds (as `POST /items/{item_id}/complete`) and "
        "pulls its next one (as `POST /work/next`), in one request. 403 when the caller "
        "is not a worker; 404 or 409 as the complete answers, and then nothing is pulled."
    ),
)
def work_item_complete_and_claim(
    request: HttpRequest, item_id: int, payload: WorkItemCompleteIn
) -> dict[str, object]:
    """A worker's loop in one round trip: complete, then the next item."""
    done, claim = services.work_item_complete_and_claim(
        actor=principal_of(request),
        item_id=item_id,
        outcome=payload.outcome,
        result=payload.result,
        handle_seconds=payload.handle_seconds,
    )
    following = (
        None if claim is None else {"item": claim.item, "lease": _lease_out(claim.assignment)}
    )
    return {"completed": done, "next": following}


def _visible_item(request: HttpRequest, item_id: int) -> int:
    principal = principal_of(request)
    return visibility.get_visible(principal, WorkItem.objects.all(), pk=item_id).pk


@router.post(
    "/work/{item_id}/heartbeat",
    response=LeaseOut,
    description="409 when the caller does not hold the item.",
)
def lease_heartbeat(request: HttpRequest, item_id: int) -> LeaseOut:
    """Extend the caller's lease on an item it holds."""
    principal = principal_of(request)
    lease = leases.lease_heartbeat(actor=principal, item_id=_visible_item(request, item_id))
    return _lease_out(lease)


@router.post(
    "/work/{item_id}/release",
    response=WorkItemOut,
    description="409 when the caller does not hold the item.",
)
def lease_release(request: HttpRequest, item_id: int, payload: ReleaseIn) -> WorkItem:
    """Give a held item back to its queue (a `released` event)."""
    principal = principal_of(request)
    return leases.lease_release(
        actor=principal, item_id=_visible_item(request, item_id), reason=payload.reason
    )


@router.post("/work/wrap-up/done", response=WrapUpOut)
def wrap_up_end(request: HttpRequest) -> WrapUpOut:
    """End the caller's wrap-up: its capacity is free for the next item."""
    return WrapUpOut(ended=leases.wrap_up_end(actor=principal_of(request)))


# ------------------------------------------------------------------ push offers


class OfferOut(Schema):
    id: int
    item: WorkItemOut
    worker_id: int
    status: str
    offered_at: datetime
    expires_at: datetime


class DeclineIn(StrictIn):
    reason: str = Field(default="", max_length=2000)


@router.get("/work/offers", response=Page[OfferOut])
def work_offers(
    request: HttpRequest,
    mine: bool = False,
    status: OfferStatus | None = None,
    cursor: str | None = None,
    limit: int = DEFAULT_LIMIT,
) -> dict[str, object]:
    """Offers of push queues the caller may see; `mine=true` for the calling worker's
    own (`status=open` for those waiting for an answer)."""
    principal = principal_of(request)
    qs = visibility.visible(principal, Offer.objects.select_related("item__process", "item__queue"))
    if mine:
        worker = worker_for_principal(principal)
        qs = qs.filter(worker=worker) if worker is not None else qs.none()
    if status is not None:
        qs = qs.filter(status=status)
    return page(qs, cursor=cursor, limit=limit)


@router.post(
    "/work/offers/{offer_id}/accept",
    response=WorkClaimOut,
    description="409 when the offer is no longer open or the caller has no free capacity.",
)
def work_offer_accept(request: HttpRequest, offer_id: int) -> dict[str, object]:
    principal = principal_of(request)
    visibility.get_visible(principal, Offer.objects.all(), pk=offer_id)
    lease = dispatch.offer_accept(actor=principal, offer_id=offer_id)
    item = WorkItem.objects.select_related("process", "queue").get(pk=lease.item_id)
    return {"item": item, "lease": _lease_out(lease)}


@router.post("/work/offers/{offer_id}/decline", response=OfferOut)
def work_offer_decline(request: HttpRequest, offer_id: int, payload: DeclineIn) -> Offer:
    principal = principal_of(request)
    visibility.get_visible(principal, Offer.objects.all(), pk=offer_id)
    offer = dispatch.offer_decline(actor=principal, offer_id=offer_id, reason=payload.reason)
    return Offer.objects.select_related("item__process", "item__queue").get(pk=offer.pk)


# ------------------------------------------------------------------ manual assignment


class AssignIn(StrictIn):
    worker_id: int = Field(ge=1, le=2**63 - 1)
    override: bool = Field(
        default=False, description="Assign although the worker is ineligible or full"
    )
    reason: str = Field(default="", max_length=2000, description="Required with override")


@router.post(
    "/items/{item_id}/assign",
    response=WorkClaimOut,
    description="Team leads, ops managers and admins. 422 names `worker_id` when the worker "
    "may not take the item (unless `override` with a `reason`); a held item is taken from "
    "its holder.",
)
def work_item_assign(request: HttpRequest, item_id: int, payload: AssignIn) -> dict[str, object]:
    principal = principal_of(request)
    item = visibility.get_visible(principal, WorkItem.objects.all(), pk=item_id)
    worker = resolve(
        visibility.visible(principal, Worker.objects.all()), field="worker_id", pk=payload.worker_id
    )
    lease = dispatch.work_item_assign(
        actor=principal,
        item=item,
        worker=worker,
        override=payload.override,
        reason=payload.reason,
    )
    item = WorkItem.objects.select_related("process", "queue").get(pk=item.pk)
    return {"item": item, "lease": _lease_out(lease)}
