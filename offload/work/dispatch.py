"""Push routing (offers) and a supervisor's manual assignment.

Push: for each push-mode queue, the `work.push_offers` sweep offers each waiting
item without an open offer to one available worker who may take it and has room,
chosen by the queue's strategy (longest idle, round robin, least loaded), never
one who already declined or let an offer of that item lapse, nor one with an open
offer already. The worker accepts (the item is assigned to it, as a pull would) or
declines; an offer not answered within the queue's `offer_timeout_seconds` expires
(the `work.offer_expiry` sweep) and the next pass offers the item to someone else.
Every offer, decline and expiry is an event on the item.

Manual: a team lead, ops manager or admin assigns a waiting item to a named worker,
or takes a held one from its holder and gives it to another. Eligibility and
capacity are checked; `override` with a reason skips them and is recorded.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import F, Max, Q, Sum
from django.utils import timezone

from offload.core import errors, sweeps
from offload.tenancy import visibility
from offload.tenancy.visibility import Principal
from offload.work import history, leases, routing
from offload.work.models import (
    Assignment,
    Offer,
    OfferStatus,
    PushStrategy,
    Queue,
    RoutingMode,
    WorkItem,
)
from offload.workers.models import Presence, Worker

OFFER_BATCH = 200
NO_SUCH_OFFER = "no open offer with this id for you"
OFFER_GONE = "this offer is {status}"
NO_ROOM = "no free capacity on the {channel} channel; finish or release an item first"
NOT_WAITING = "only a queued or escalated item can be offered or assigned (it is {status})"
NOT_ELIGIBLE = (
    "worker {worker} may not take this item ({why}); assign with override and a reason "
    "to do it anyway"
)
OVERRIDE_NEEDS_REASON = "an override needs a reason"
SAME_WORKER = "the item is already held by this worker"


# ------------------------------------------------------------------ offers


def _candidates(queue: Queue, now: datetime) -> list[Worker]:
    """Available, active workers certified on the queue's process with an open slot
    on its channel and no open offer, in the queue's strategy's order."""
    busy = Offer.objects.filter(status=OfferStatus.OPEN).values("worker_id")
    workers = (
        Worker.objects.filter(
            provider_id=queue.provider_id,
            is_active=True,
            presence=Presence.AVAILABLE,
            processes=queue.process_id,
        )
        .exclude(pk__in=busy)
        .prefetch_related("processes", "channels")
    )
    if queue.push_strategy == PushStrategy.LEAST_LOADED:
        workers = workers.annotate(held=Sum("channels__load")).order_by("held", "idle_since", "pk")
    elif queue.push_strategy == PushStrategy.ROUND_ROBIN:
        last = Max("offers__offered_at", filter=Q(offers__item__queue=queue))
        workers = workers.annotate(last_offer=last).order_by(
            F("last_offer").asc(nulls_first=True), "pk"
        )
    else:
        workers = workers.order_by(F("idle_since").asc(nulls_last=True), "pk")
    return list(workers)


def _refused(items: Sequence[WorkItem]) -> dict[int, set[int]]:
    """Per item, the workers who declined it or let its offer lapse (one query)."""
    refused: dict[int, set[int]] = {item.pk: set() for item in items}
    rows = Offer.objects.filter(
        item__in=items, status__in=[OfferStatus.DECLINED, OfferStatus.EXPIRED]
    ).values_list("item_id", "worker_id")
    for item_id, worker_id in rows:
        refused[item_id].add(worker_id)
    return refused


def _offer_one(
    item: WorkItem,
    workers: Sequence[Worker],
    grants: dict[int, list[routing.Grant]],
    refused: set[int],
    now: datetime,
) -> Offer | None:
    waited = now.timestamp() - (item.queued_at or item.created_at).timestamp()
    for worker in workers:
        if worker.pk in refused:
            continue
        mine = [g for g in grants[worker.pk] if g.queue_id == item.queue_id]
        if waited < routing.wait_needed(mine, item.language):
            continue
        queue = item.queue
        offer = Offer.objects.create(
            client_id=item.client_id,
            provider_id=item.provider_id,
            item=item,
            worker=worker,
            offered_at=now,
            expires_at=now + timedelta(seconds=queue.offer_timeout_seconds),
        )
        history.append(
            item,
            "offered",
            actor=None,
            at=now,
            data={
                "worker": worker.pk,
                "offer": offer.pk,
                "expires_at": offer.expires_at.isoformat(),
            },
        )
        return offer
    return None


@sweeps.register("work.push_offers")
def offers_due(now: datetime) -> int:
    """Offer waiting items of push queues to the next worker in line."""
    made = 0
    with transaction.atomic():
        for queue in Queue.objects.filter(routing_mode=RoutingMode.PUSH, is_review=False):
            workers = _candidates(queue, now)
            if not workers:
                continue
            grants = {w.pk: leases.worker_grants(w, queue.pk, mode=None) for w in workers}
            waiting = sweeps.claim_due(
                WorkItem.objects.filter(queue=queue, status__in=leases.BACKLOG)
                .exclude(offers__status=OfferStatus.OPEN)
                .select_related("queue")
                # The queue's own ordering, as a pull from it would take them.
                .order_by(*leases.queue_order_by(queue)),
                limit=OFFER_BATCH,
            )
            refused = _refused(waiting)
            for item in waiting:
                offer = _offer_one(item, workers, grants, refused[item.pk], now)
                if offer is None:
                    continue
                made += 1
                workers = [w for w in workers if w.pk != offer.worker_id]
                if not workers:
                    break
    return made


@sweeps.register("work.offer_expiry")
def offers_expired(now: datetime) -> int:
    """Offers nobody answered in time: expired, so the next pass asks someone else."""
    with transaction.atomic():
        due = sweeps.claim_due(
            Offer.objects.filter(status=OfferStatus.OPEN, expires_at__lte=now).order_by(
                "expires_at"
            ),
            limit=OFFER_BATCH,
        )
        for offer in due:
            offer.status, offer.answered_at = OfferStatus.EXPIRED, now
            offer.save(update_fields=["status", "answered_at", "updated_at"])
            item = WorkItem.objects.select_for_update().get(pk=offer.item_id)
            history.append(
                item,
                "offer_expired",
                actor=None,
                at=now,
                data={"worker": offer.worker_id, "offer": offer.pk},
            )
    return len(due)


def _my_offer(actor: Principal, offer_id: int) -> tuple[Worker, Offer]:
    worker = leases.worker_of(actor)
    offer = Offer.objects.select_for_update().filter(pk=offer_id, worker=worker).first()
    if offer is None:
        raise errors.NotFound(NO_SUCH_OFFER)
    if offer.status != OfferStatus.OPEN:
        raise errors.Conflict(OFFER_GONE.format(status=offer.status), status=offer.status)
    return worker, offer


@transaction.atomic
def offer_accept(*, actor: Principal, offer_id: int, now: datetime | None = None) -> Assignment:
    """Take the offered item: assigned to the caller with a lease, as a pull would."""
    now = now or timezone.now()
    worker, offer = _my_offer(actor, offer_id)
    if offer.expires_at <= now:
        raise errors.Conflict(OFFER_GONE.format(status="expired"), status="expired")
    item = WorkItem.objects.select_for_update().get(pk=offer.item_id)
    if item.status not in leases.BACKLOG:
        raise errors.Conflict(NOT_WAITING.format(status=item.status), current=item.status)
    got = leases.assign(item, worker, actor=actor, how="push", now=now, extra={"offer": offer.pk})
    if got is None:
        raise errors.Conflict(NO_ROOM.format(channel=item.channel))
    offer.status, offer.answered_at = OfferStatus.ACCEPTED, now
    offer.save(update_fields=["status", "answered_at", "updated_at"])
    return got[0]


@transaction.atomic
def offer_decline(
    *, actor: Principal, offer_id: int, reason: str = "", now: datetime | None = None
) -> Offer:
    """Say no: the item goes to the next worker on the next pass."""
    now = now or timezone.now()
    worker, offer = _my_offer(actor, offer_id)
    offer.status, offer.answered_at = OfferStatus.DECLINED, now
    offer.save(update_fields=["status", "answered_at", "updated_at"])
    item = WorkItem.objects.select_for_update().get(pk=offer.item_id)
    data: dict[str, object] = {"worker": worker.pk, "offer": offer.pk}
    if reason:
        data["reason"] = reason
    history.append(item, "offer_declined", actor=actor, at=now, data=data)
    return offer


# ------------------------------------------------------------------ manual assignment


def _why_not(worker: Worker, item: WorkItem) -> str | None:
    """Why the worker may not take the item (None if it may), waits aside: a
    supervisor's assignment does not wait for relaxation steps."""
    if not worker.is_active:
        return "deactivated"
    if not worker.processes.filter(pk=item.process_id).exists():
        return "not certified on the process"
    grants = leases.worker_grants(worker, item.queue_id, mode=None)
    if not grants:
        return "no free capacity on the channel, or skills below the process's levels"
    languages = {g.language for g in grants}
    if item.language and not languages & {item.language, routing.ANY_LANGUAGE}:
        return f"does not speak '{item.language}'"
    return None


@transaction.atomic
def work_item_assign(
    *,
    actor: Principal,
    item: WorkItem,
    worker: Worker,
    override: bool = False,
    reason: str = "",
    now: datetime | None = None,
) -> Assignment:
    """A supervisor gives an item to a named worker (taking it from its holder if held)."""
    visibility.require(actor, "work_item.assign")
    if override and not reason.strip():
        raise errors.ValidationFailed.single("reason", OVERRIDE_NEEDS_REASON)
    now = now or timezone.now()
    locked = visibility.visible(actor, WorkItem.objects.select_for_update()).get(pk=item.pk)
    current = leases.open_lease(locked)
    if current is not None and current.worker_id == worker.pk:
        raise errors.Conflict(SAME_WORKER)
    if current is None and locked.status not in leases.BACKLOG:
        raise errors.Conflict(NOT_WAITING.format(status=locked.status), current=locked.status)
    why = _why_not(worker, locked)
    if why and not override:
        raise errors.ValidationFailed.single(
            "worker_id", NOT_ELIGIBLE.format(worker=worker.pk, why=why)
        )
    if current is not None:
        # Taken from its holder: the holder's lease ends and its capacity is freed.
        leases.requeue(
            locked, current, actor=actor, event="released", reason=f"reassigned: {reason}", now=now
        )
    extra: dict[str, object] = {"by": actor.label}
    if override:
        extra.update({"override": True, "reason": reason, "ineligible": why or ""})
    elif reason:
        extra["reason"] = reason
    Offer.objects.filter(item=locked, status=OfferStatus.OPEN).update(
        status=OfferStatus.WITHDRAWN, answered_at=now
    )
    got = leases.assign(
        locked, worker, actor=actor, how="manual", now=now, extra=extra, force_capacity=override
    )
    if got is None:
        raise errors.ValidationFailed.single(
            "worker_id", NOT_ELIGIBLE.format(worker=worker.pk, why="no free capacity")
        )
    return got[0]
