"""Routing: who holds which item, as leases, and how items get to workers.

An assignment is a lease: a row of `Assignment` with an expiry, at most one open
per item (a partial unique index makes a second owner impossible, whatever the
code does). Working the item or a heartbeat extends it; the `work.lease_expiry`
sweep returns expired items to their queue and frees the worker's capacity.

Pull (`work_item_claim`) picks the best item the worker may take and assigns it. The
pick is the policy of offload.work.routing compiled into SQL: the worker's
grants (queue, item language, minimum wait) are joined to the backlog. On
PostgreSQL the pick, the capacity check, the item update, its event and the lease
are one statement (data-modifying CTEs, the pick with SKIP LOCKED); SQLite runs
the same pick in its single-writer transaction through the ORM.

Capacity is `WorkerChannel.load` against `capacity`: taken when a lease opens,
given back when it ends (or when wrap-up ends, for agents).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone

from offload.contracts.models import Process
from offload.core import errors, sweeps
from offload.tenancy.visibility import Principal
from offload.work import history, pgcycle, routing
from offload.work.models import Assignment, Queue, RoutingMode, WorkItem, WorkItemEvent
from offload.work.routing import Grant, QueuePolicy, RelaxStep, WorkerView
from offload.workers.models import Presence, Worker, WorkerChannel, WorkerKind
from offload.workers.selectors import worker_for_principal

# Statuses from which an item may be claimed.
BACKLOG = ("queued", "escalated")
EXPIRY_BATCH = 200
PRIORITY_RANK = {"P1": 1, "P2": 2, "P3": 3, "P4": 4}

NOT_A_WORKER = "the caller is not a worker; pulling work needs a worker's login or key"
INACTIVE = "this worker is deactivated"
NOT_AVAILABLE = "set your presence to available to take work (it is {presence})"
NOT_HOLDER = "this item is not held by you"


# ------------------------------------------------------------------ policies


def queue_policy(queue: Queue, process: Process) -> QueuePolicy:
    steps = tuple(
        RelaxStep(
            after_s=int(step.get("after_minutes", 0)) * 60,
            skill_drop=int(step.get("skill_drop", 0)),
            languages=frozenset(step.get("languages", [])),
        )
        for step in (queue.relaxation or [])
    )
    ordering = tuple(queue.ordering or routing.DEFAULT_ORDERING)
    return QueuePolicy(
        queue_id=queue.pk,
        process_id=process.pk,
        channel=process.channel,
        required_skills=dict(process.required_skills or {}),
        ordering=ordering,
        relaxation=steps,
    )


def policies_for(worker: Worker, mode: str | None = RoutingMode.PULL) -> list[QueuePolicy]:
    """The policies of the queues (of `mode`; any if None) of the processes the worker
    is certified on. Items of push queues are offered, never pulled."""
    process_ids = [p.pk for p in worker.processes.all()]
    queues = Queue.objects.filter(process_id__in=process_ids, is_review=False)
    if mode is not None:
        queues = queues.filter(routing_mode=mode)
    return [queue_policy(q, q.process) for q in queues.select_related("process")]


def worker_view(worker: Worker, *, capacity_free: bool = True) -> WorkerView:
    """The worker as the pure policy sees it. With capacity_free False every channel
    it has capacity on counts as free: the claim statement checks the load itself."""
    channels = list(worker.channels.all())  # prefetched by the worker's selectors
    skills = {} if worker.kind == WorkerKind.BOT else dict(worker.skills or {})
    languages = frozenset(worker.languages or [])
    return WorkerView(
        id=worker.pk,
        skills=skills,
        languages=languages,
        certified=frozenset(p.pk for p in worker.processes.all()),
        free={c.channel: c.capacity - (c.load if capacity_free else 0) for c in channels},
    )


def worker_grants(
    worker: Worker,
    queue_id: int | None = None,
    mode: str | None = RoutingMode.PULL,
    *,
    capacity_free: bool = True,
    policies: list[QueuePolicy] | None = None,
) -> list[Grant]:
    """What the worker may take, per queue and language; `policies` when the caller
    has already read the worker's (of `mode`)."""
    if policies is None:
        policies = policies_for(worker, mode)
    if queue_id is not None:
        policies = [p for p in policies if p.queue_id == queue_id]
    view = worker_view(worker, capacity_free=capacity_free)
    if worker.kind == WorkerKind.BOT:
        # A bot's eligibility is its processes: skills and languages are an agent's.
        policies = [
            QueuePolicy(p.queue_id, p.process_id, p.channel, {}, p.ordering, ()) for p in policies
        ]
        view = WorkerView(view.id, {}, frozenset(), view.certified, view.free)
        return [g for g in routing.grants(policies, view) if g.language == ""] + [
            Grant(p.queue_id, routing.ANY_LANGUAGE, 0)
            for p in policies
            if p.process_id in view.certified and view.free.get(p.channel, 0) > 0
        ]
    return routing.grants(policies, view)


# ------------------------------------------------------------------ the worker


def worker_of(actor: Principal) -> Worker:
    worker = worker_for_principal(actor)
    if worker is None:
        raise errors.PermissionDenied(NOT_A_WORKER)
    if not worker.is_active:
        raise errors.PermissionDenied(INACTIVE)
    return worker


# ------------------------------------------------------------------ claim


@dataclass(frozen=True)
class Claim:
    item: WorkItem
    assignment: Assignment


def _lease_seconds(queue_id: int) -> int:
    return int(Queue.objects.filter(pk=queue_id).values_list("lease_seconds", flat=True)[0])


# ------------------------------------------------------------------ routing contexts


# After a pull that found nothing for its worker in the provider's head, this many
# of its pulls read past the head at once before the head alone is tried again.
PULLS_PAST_THE_HEAD = 16


class HeadHint:
    """Whether a worker's next pull reads the provider's head alone
    (pgcycle.Pull.head_only), a statement a fifth smaller. A worker whose work is
    at the head saves that on every pull; one whose work lies past it would pay a
    wasted statement on every pull, so after a miss it reads past the head for its
    next PULLS_PAST_THE_HEAD. A hint only: threads racing on it cost a statement,
    never a wrong pick."""

    def __init__(self) -> None:
        self.pulls_past_the_head = 0

    def next_reads_head_alone(self) -> bool:
        """Whether the next pull reads the head alone; it counts as that pull."""
        if self.pulls_past_the_head > 0:
            self.pulls_past_the_head -= 1
            return False
        return True

    def missed(self) -> None:
        self.pulls_past_the_head = PULLS_PAST_THE_HEAD


@dataclass(frozen=True)
class RoutingContext:
    """What a worker's pulls need to know, kept between pulls: who it is and what it
    may take. Free capacity is not in it: the claim statement reads it fresh."""

    worker_id: int
    user_id: int
    provider_id: int  # the worker's: its pulls read this provider's backlog
    # What it was made from: the claim statement refuses it once either moved.
    worker_updated_at: datetime
    routing_version: int  # pgcycle.routing_version
    grants: tuple[Grant, ...]
    # Each granted queue's channel (its process's), which the routing version covers.
    queue_channels: Mapping[int, str]
    # Some of its processes have an SLA policy: their items' clocks follow the
    # cycle's events, so its statements run in a transaction (pgcycle's `alone`).
    clocked: bool = True
    head: HeadHint = field(default_factory=HeadHint, compare=False, repr=False)

    @functools.cached_property
    def arrays(self) -> pgcycle.GrantArrays:
        """All its grants as the claim statement's parameters, made once."""
        return pgcycle.grant_arrays(self.grants, self.queue_channels)

    def pull(
        self,
        arrays: pgcycle.GrantArrays | None = None,
        ordering: tuple[str, ...] = routing.DEFAULT_ORDERING,
        per_grant: int | None = pgcycle.CANDIDATES_PER_GRANT,
        head_only: bool | None = None,
    ) -> pgcycle.Pull:
        """A pull's inputs: by default the fast pull across all its grants, of the
        head alone as its hint says."""
        return pgcycle.Pull(
            worker_id=self.worker_id,
            user_id=self.user_id,
            provider_id=self.provider_id,
            worker_updated_at=self.worker_updated_at,
            routing_version=self.routing_version,
            arrays=self.arrays if arrays is None else arrays,
            ordering=ordering,
            per_grant=per_grant,
            head_only=self.head.next_reads_head_alone() if head_only is None else head_only,
        )


_contexts: dict[tuple[int, int], RoutingContext] = {}


def routing_context_kept(actor: Principal) -> RoutingContext | None:
    """The caller's routing context if one is kept; never made here."""
    if actor.user is None:
        return None
    return _contexts.get((actor.user.pk, actor.organisation.pk))


def routing_context(actor: Principal) -> RoutingContext | None:
    """The caller's routing context, from memory if it has one. The claim statement
    checks it is still fresh, and a stale one is forgotten and made again."""
    if actor.user is None:
        return None
    context = _contexts.get((actor.user.pk, actor.organisation.pk))
    if context is not None:
        return context
    worker = worker_for_principal(actor)
    if worker is None or not worker.is_active:
        return None
    return _context_keep(actor, worker)


def _context_keep(actor: Principal, worker: Worker) -> RoutingContext | None:
    """Make the worker's routing context from the row just read, and keep it."""
    if actor.user is None or worker.user_id is None:
        return None
    version = pgcycle.routing_version(worker.provider_id)  # first: see routing_version
    processes = list(worker.processes.all())
    policies = policies_for(worker)
    context = RoutingContext(
        worker_id=worker.pk,
        user_id=worker.user_id,
        provider_id=worker.provider_id,
        worker_updated_at=worker.updated_at,
        routing_version=version,
        grants=tuple(worker_grants(worker, capacity_free=False, policies=policies)),
        queue_channels={p.queue_id: p.channel for p in policies},
        clocked=any(p.sla_policy_id is not None for p in processes),
    )
    _contexts[(actor.user.pk, actor.organisation.pk)] = context
    return context


def routing_context_forget(actor: Principal) -> None:
    if actor.user is not None:
        _contexts.pop((actor.user.pk, actor.organisation.pk), None)


def _eligible_q(grants: Iterable[Grant], now: datetime) -> Q:
    condition = Q(pk__in=[])
    for g in grants:
        waited_since = now - timedelta(seconds=min(g.min_wait_s, 10**9))
        language = Q() if g.language == routing.ANY_LANGUAGE else Q(language=g.language)
        condition |= (
            Q(queue_id=g.queue_id)
            & language
            & (
                Q(queued_at__lte=waited_since)
                | Q(queued_at__isnull=True, created_at__lte=waited_since)
            )
        )
    return condition


def _order_by(ordering: Sequence[str]) -> list[Any]:
    keys: list[Any] = []
    for key in ordering:
        keys.append(F("due_at").asc(nulls_last=True) if key == "due_at" else key)
    return [*keys, "id"]


def _claim_orm(
    actor: Principal, worker: Worker, grants: list[Grant], ordering: Sequence[str], now: datetime
) -> tuple[WorkItem, Assignment] | None:
    item = (
        WorkItem.objects.filter(status__in=BACKLOG)
        .filter(_eligible_q(grants, now))
        .order_by(*_order_by(ordering))
        .first()
    )
    if item is None:
        return None
    got = assign(item, worker, actor=actor, how="pull", now=now)
    if got is None:
        return None
    return item, got[0]


def assign(
    item: WorkItem,
    worker: Worker,
    *,
    actor: Principal | None,
    how: str,
    now: datetime,
    extra: dict[str, Any] | None = None,
    force_capacity: bool = False,
) -> tuple[Assignment, WorkItemEvent] | None:
    """Give a locked backlog item to a worker: a unit of its capacity (None if it has
    none free, unless forced by an override), the lease, the item and its event."""
    channel = WorkerChannel.objects.filter(worker=worker, channel=item.channel)
    if force_capacity:
        taken = channel.update(load=F("load") + 1)
    else:
        taken = channel.filter(load__lt=F("capacity")).update(load=F("load") + 1)
    if not taken:
        return None
    before = item.status
    item.status, item.assignee_id, item.updated_at = "assigned", worker.user_id, now
    item.save(update_fields=["status", "assignee", "updated_at"])
    lease = Assignment.objects.create(
        item=item,
        worker=worker,
        client_id=item.client_id,
        provider_id=item.provider_id,
        assigned_at=now,
        lease_expires_at=_lease_for(item, now),
        how=how,
    )
    Worker.objects.filter(pk=worker.pk).update(idle_since=None)
    event = history.append(
        item,
        "assigned",
        actor=actor,
        at=now,
        data={
            "from_status": before,
            "to_status": "assigned",
            "worker": worker.pk,
            "how": how,
            "lease_expires_at": lease.lease_expires_at.isoformat(),
            **(extra or {}),
        },
    )
    return lease, event


def work_item_claim(
    *, actor: Principal, queue: Queue | None = None, now: datetime | None = None
) -> Claim | None:
    """Assign the calling worker the best item it may take now, or None (204).

    On PostgreSQL a pull is one statement, with the worker's routing context kept
    from its last pull; the general path decides whatever that statement cannot (a
    409 for an unavailable worker, a context gone stale)."""
    now = now or timezone.now()
    if connection.vendor == "postgresql":
        context = routing_context(actor)
        if context is not None:
            got = _claim_fast(actor, context, queue, now)
            claimed = claim_of(got)
            if claimed is not None or (got is not None and got.decided):
                return claimed
        routing_context_forget(actor)
    return _claim_general(actor=actor, queue=queue, now=now)


def _claim_fast(
    actor: Principal, context: RoutingContext, queue: Queue | None, now: datetime
) -> pgcycle.ClaimOutcome | None:
    """The claim statement alone when the worker's processes keep no clocks, in a
    transaction when they do or when it picked an item that has them anyway."""
    per_grant = pgcycle.CANDIDATES_PER_GRANT
    if not context.clocked:
        got = _claim_sql(actor, context, queue, now, per_grant, alone=True)
        if got is None or not got.needs_transaction:
            return got
    with transaction.atomic():
        return _claim_sql(actor, context, queue, now, per_grant)


def _claim_sql(
    actor: Principal,
    context: RoutingContext,
    queue: Queue | None,
    now: datetime,
    per_grant: int | None,
    *,
    alone: bool = False,
) -> pgcycle.ClaimOutcome | None:
    """The claim statement with the context's grants (of one queue, if given); the
    clocks of a claimed item follow its `assigned` event in the caller's transaction.
    None when no grant is left to try."""
    grants = [g for g in context.grants if queue is None or g.queue_id == queue.pk]
    if not grants:
        return None
    arrays = (
        context.arrays if queue is None else pgcycle.grant_arrays(grants, context.queue_channels)
    )
    got = claim_statement(
        actor, context, context.pull(arrays, _ordering(queue), per_grant), now, alone=alone
    )
    claimed_clocks_follow(got, now)
    return got


def claim_statement(
    actor: Principal,
    context: RoutingContext,
    pull: pgcycle.Pull,
    now: datetime,
    *,
    alone: bool = False,
) -> pgcycle.ClaimOutcome:
    """pgcycle's claim statement for `pull`; when it read the head alone and found
    nothing there, the one that reads past the head, and the context's hint notes
    the miss."""
    got = pgcycle.claim(actor=actor, pull=pull, now=now, alone=alone)
    if not got.head_missed:
        return got
    context.head.missed()
    return pgcycle.claim(actor=actor, pull=replace(pull, head_only=False), now=now, alone=alone)


def claimed_clocks_follow(got: pgcycle.ClaimOutcome, now: datetime) -> None:
    """The clocks of an item a statement claimed follow its `assigned` event, in the
    caller's transaction."""
    if got.item is not None and got.has_clocks:
        history.clocks_follow_written(got.item, "assigned", now)


def claim_of(got: pgcycle.ClaimOutcome | None) -> Claim | None:
    """The claim a statement made, if it made one."""
    if got is None or got.item is None or got.lease is None:
        return None
    return Claim(item=got.item, assignment=got.lease)


def _ordering(queue: Queue | None) -> tuple[str, ...]:
    if queue is not None:
        return tuple(queue.ordering or routing.DEFAULT_ORDERING)
    return tuple(routing.DEFAULT_ORDERING)


def queue_order_by(queue: Queue) -> list[Any]:
    """The ORM order of a queue's backlog: its ordering keys, then the id (push uses it)."""
    return _order_by(_ordering(queue))


@transaction.atomic
def _claim_general(*, actor: Principal, queue: Queue | None, now: datetime) -> Claim | None:
    worker = worker_of(actor)
    if worker.presence != Presence.AVAILABLE:
        raise errors.Conflict(
            NOT_AVAILABLE.format(presence=worker.presence), presence=worker.presence
        )
    if connection.vendor == "postgresql":
        # Every candidate of every grant: exact, for the pulls the fast one left open;
        # the context made here serves the next pull.
        context = _context_keep(actor, worker)
        return claim_of(_claim_sql(actor, context, queue, now, None) if context else None)
    grants = worker_grants(worker, queue.pk if queue else None)
    if not grants:
        return None
    picked = _claim_orm(actor, worker, grants, _ordering(queue), now)
    if picked is None:
        return None
    return Claim(item=picked[0], assignment=picked[1])


# ------------------------------------------------------------------ leases and moves

# Statuses whose holder uses a unit of capacity; a waiting item stays with its
# holder without using any (the customer has the ball).
USING_CAPACITY = frozenset({"assigned", "in_progress"})
OWNED = USING_CAPACITY | {"waiting_on_client"}


def open_lease(item: WorkItem) -> Assignment | None:
    return (
        Assignment.objects.select_for_update()
        .select_related("worker")
        .filter(item=item, ended_at__isnull=True)
        .first()
    )


def _take(worker_id: int, channel: str) -> None:
    # A resumed item comes back to its holder even when that overfills it: the
    # holder takes nothing new until it drains (WorkerChannel allows load > capacity).
    WorkerChannel.objects.filter(worker_id=worker_id, channel=channel).update(load=F("load") + 1)


def _free(worker_id: int, channel: str, now: datetime) -> None:
    WorkerChannel.objects.filter(worker_id=worker_id, channel=channel, load__gt=0).update(
        load=F("load") - 1
    )
    # Idle from now if it holds nothing any more (one statement, not a read then a write).
    busy = WorkerChannel.objects.filter(worker_id=OuterRef("pk"), load__gt=0)
    Worker.objects.filter(pk=worker_id, presence=Presence.AVAILABLE).exclude(Exists(busy)).update(
        idle_since=now
    )


def _lease_for(item: WorkItem, now: datetime) -> datetime:
    return now + timedelta(seconds=_lease_seconds(item.queue_id))


def _close(lease: Assignment, reason: str, now: datetime) -> None:
    """End the lease (unsaved): why, when, and the working time it measured."""
    lease.ended_at, lease.end_reason = now, reason
    lease.work_seconds = max(0, int((now - lease.assigned_at).total_seconds()))


def after_move(item: WorkItem, before: str, after: str, now: datetime) -> Assignment | None:
    """Keep the lease and the holder's capacity in step with a status change made by a
    work service in its transaction; returns the lease it ended, if any."""
    lease = open_lease(item)
    if lease is None:
        return None
    if after in OWNED:
        if after in USING_CAPACITY:
            if before not in USING_CAPACITY:
                _take(lease.worker_id, item.channel)
            lease.lease_expires_at = _lease_for(item, now)
            lease.save(update_fields=["lease_expires_at", "updated_at"])
        elif before in USING_CAPACITY:
            _free(lease.worker_id, item.channel, now)
        return None
    _close(lease, after, now)
    wrap_up = 0
    if after == "completed" and lease.worker.kind == WorkerKind.AGENT and before in USING_CAPACITY:
        wrap_up = int(
            Process.objects.filter(pk=item.process_id).values_list("wrap_up_seconds", flat=True)[0]
        )
    if wrap_up > 0:
        # Capacity stays taken until the wrap-up ends (the agent says so, or the limit).
        lease.wrap_up_until = now + timedelta(seconds=wrap_up)
    elif before in USING_CAPACITY:
        _free(lease.worker_id, item.channel, now)
    lease.save()
    return lease


def extend(item: WorkItem, now: datetime) -> None:
    """Working an item keeps its lease alive (only a held item has one that runs)."""
    if item.status not in USING_CAPACITY:
        return
    Assignment.objects.filter(item=item, ended_at__isnull=True).update(
        lease_expires_at=_lease_for(item, now), updated_at=now
    )


def holder_check(actor: Principal | None, item: WorkItem) -> None:
    """Only the holder acts on a held item; its team leads, ops managers, admins, the
    client and the system still may (they supervise, or answer)."""
    if actor is None or actor.is_client or item.status not in OWNED:
        return
    if actor.roles & SUPERVISORS:
        return
    holder = (
        Assignment.objects.filter(item=item, ended_at__isnull=True)
        .values_list("worker_id", "worker__user_id")
        .first()
    )
    if holder is None:
        return
    worker_id, user_id = holder
    if actor.user is None or user_id != actor.user.pk:
        raise errors.Conflict(HELD_BY_OTHER.format(worker=worker_id), holder=worker_id)


SUPERVISORS = frozenset({"admin", "ops_manager", "team_lead"})
HELD_BY_OTHER = "this item is held by worker {worker}; only its holder or a team lead may act on it"


# ------------------------------------------------------------------ heartbeat, release, wrap-up


def _held_by(actor: Principal, item_id: int) -> tuple[Worker, WorkItem, Assignment]:
    worker = worker_of(actor)
    item = WorkItem.objects.select_for_update().filter(pk=item_id).first()
    lease = (
        Assignment.objects.select_for_update()
        .filter(item_id=item_id, ended_at__isnull=True, worker=worker)
        .first()
    )
    if item is None or lease is None:
        raise errors.Conflict(NOT_HOLDER)
    return worker, item, lease


@transaction.atomic
def lease_heartbeat(*, actor: Principal, item_id: int, now: datetime | None = None) -> Assignment:
    """Extend the caller's lease on an item it holds (409 if it does not hold it)."""
    now = now or timezone.now()
    _, item, lease = _held_by(actor, item_id)
    lease.lease_expires_at = _lease_for(item, now)
    lease.save(update_fields=["lease_expires_at", "updated_at"])
    return lease


@transaction.atomic
def lease_release(
    *, actor: Principal, item_id: int, reason: str = "", now: datetime | None = None
) -> WorkItem:
    """Give a held item back to its queue, untouched by anyone else meanwhile."""
    now = now or timezone.now()
    _, item, lease = _held_by(actor, item_id)
    return requeue(item, lease, actor=actor, event="released", reason=reason or "released", now=now)


def requeue(
    item: WorkItem,
    lease: Assignment,
    *,
    actor: Principal | None,
    event: str,
    reason: str,
    now: datetime,
) -> WorkItem:
    before = item.status
    _close(lease, event, now)
    lease.save()
    if before in USING_CAPACITY:
        _free(lease.worker_id, item.channel, now)
    item.status, item.assignee, item.queued_at = "queued", None, now
    item.save(update_fields=["status", "assignee", "queued_at", "updated_at"])
    history.append(
        item,
        event,
        actor=actor,
        at=now,
        data={
            "from_status": before,
            "to_status": "queued",
            "worker": lease.worker_id,
            "reason": reason,
        },
    )
    return item


@sweeps.register("work.lease_expiry")
def leases_expired(now: datetime) -> int:
    """Items whose holder stopped working them (a killed bot, a closed browser) go
    back to their queue with a `lease_expired` event; the holder's capacity is freed."""
    with transaction.atomic():
        due = sweeps.claim_due(
            Assignment.objects.filter(
                ended_at__isnull=True,
                lease_expires_at__lte=now,
                item__status__in=sorted(USING_CAPACITY),
            ).order_by("lease_expires_at"),
            limit=EXPIRY_BATCH,
        )
        for lease in due:
            item = WorkItem.objects.select_for_update().get(pk=lease.item_id)
            if item.status not in USING_CAPACITY:
                continue
            requeue(item, lease, actor=None, event="lease_expired", reason="lease expired", now=now)
    return len(due)


def _end_wrap_up(
    lease: Assignment, item: WorkItem, now: datetime, *, actor: Principal | None
) -> None:
    until = lease.wrap_up_until or now
    end = min(now, until)
    lease.wrap_seconds = (
        max(1, int((end - lease.ended_at).total_seconds())) if lease.ended_at else 1
    )
    lease.save(update_fields=["wrap_seconds", "updated_at"])
    _free(lease.worker_id, item.channel, now)
    history.append(
        item,
        "wrap_up_ended",
        actor=actor,
        at=now,
        data={
            "worker": lease.worker_id,
            "work_seconds": lease.work_seconds,
            "wrap_seconds": lease.wrap_seconds,
            "handle_seconds": lease.work_seconds + lease.wrap_seconds,
        },
    )


@transaction.atomic
def wrap_up_end(*, actor: Principal, now: datetime | None = None) -> int:
    """The calling agent ends its wrap-ups: its capacity is free for the next item."""
    now = now or timezone.now()
    worker = worker_of(actor)
    leases = list(
        Assignment.objects.select_for_update()
        .filter(worker=worker, wrap_up_until__isnull=False, wrap_seconds=0)
        .select_related("item")
    )
    for lease in leases:
        _end_wrap_up(lease, lease.item, now, actor=actor)
    return len(leases)


@sweeps.register("work.wrap_up_expiry")
def wrap_ups_expired(now: datetime) -> int:
    """Wrap-ups that reached the process's limit end by themselves."""
    with transaction.atomic():
        due = sweeps.claim_due(
            Assignment.objects.filter(wrap_up_until__lte=now, wrap_seconds=0)
            .select_related("item")
            .order_by("wrap_up_until"),
            limit=EXPIRY_BATCH,
        )
        for lease in due:
            _end_wrap_up(lease, lease.item, now, actor=None)
    return len(due)
