"""Reads for the team lead's floor (docs/workspace.md): per queue backlog, oldest item,
items due soon, at SLA risk and breached, and held items; agents by presence and load;
bots and their throughput.

A fixed number of queries whatever the size of the floor: the queues in one, their
item counts in one (aggregated per queue by the database), their items at SLA risk
and breached in one (selectors.sla_by_queue), the workers with their channels and
current leases in three, the completions of the last hour in one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import Count, Exists, Min, OuterRef, Prefetch, Q
from django.utils import timezone

from offload.tenancy import visibility
from offload.tenancy.visibility import Principal
from offload.work import leases, lifecycle, selectors
from offload.work.models import Assignment, Queue, WorkItem
from offload.workers.models import Presence, Worker, WorkerKind

# Items due within this window (or already past due) are due soon.
SLA_RISK_WINDOW = timedelta(hours=1)
# Throughput counts the items completed within this window.
THROUGHPUT_WINDOW = timedelta(hours=1)
BACKLOG = leases.BACKLOG
HELD = sorted(leases.OWNED)
PRESENCE_ORDER = {value: n for n, value in enumerate(Presence.values)}


@dataclass(frozen=True)
class QueueRow:
    queue: Queue
    led: bool  # the signed-in team lead leads this queue
    backlog: int = 0
    oldest_at: datetime | None = None
    due_soon: int = 0  # open, due within SLA_RISK_WINDOW or past due
    at_risk: int = 0  # open, a live SLA clock past a warning and not breached
    breached: int = 0  # open, a live SLA clock breached
    held: int = 0
    completed: int = 0  # within THROUGHPUT_WINDOW
    oldest_at_risk: list[WorkItem] = field(default_factory=list)
    oldest_breached: list[WorkItem] = field(default_factory=list)


@dataclass(frozen=True)
class WorkerRow:
    worker: Worker
    leases: list[Assignment]  # open leases, and ended ones still in wrap-up
    completed: int  # within THROUGHPUT_WINDOW

    @property
    def load(self) -> int:
        return sum(c.load for c in self.worker.channels.all())

    @property
    def capacity(self) -> int:
        return sum(c.capacity for c in self.worker.channels.all())


@dataclass(frozen=True)
class Floor:
    now: datetime
    queues: list[QueueRow]
    agents: list[WorkerRow]
    bots: list[WorkerRow]
    presence_counts: dict[str, int] = field(default_factory=dict)

    @property
    def totals(self) -> QueueRow | None:
        if not self.queues:
            return None
        oldest = [row.oldest_at for row in self.queues if row.oldest_at is not None]
        return QueueRow(
            queue=self.queues[0].queue,
            led=False,
            backlog=sum(row.backlog for row in self.queues),
            oldest_at=min(oldest) if oldest else None,
            due_soon=sum(row.due_soon for row in self.queues),
            at_risk=sum(row.at_risk for row in self.queues),
            breached=sum(row.breached for row in self.queues),
            held=sum(row.held for row in self.queues),
            completed=sum(row.completed for row in self.queues),
        )


def queue_rows(*, principal: Principal, now: datetime) -> list[QueueRow]:
    """Every queue the principal sees with its counts; a team lead's own queues first."""
    user_id = principal.user.pk if principal.user is not None else 0
    leads = Queue.team_leads.through.objects.filter(queue_id=OuterRef("pk"), user_id=user_id)
    queues = (
        visibility.visible(principal, Queue.objects.select_related("process", "client"))
        .annotate(led=Exists(leads))
        .order_by("-led", "client__name", "name", "pk")
    )
    since = now - THROUGHPUT_WINDOW
    backlog = Q(status__in=BACKLOG)
    stats = (
        visibility.visible(principal, WorkItem.objects.all())
        .filter(Q(status__in=lifecycle.OPEN) | Q(completed_at__gte=since))
        .values("queue_id")
        .annotate(
            backlog=Count("id", filter=backlog),
            oldest_at=Min("created_at", filter=backlog),
            due_soon=Count(
                "id", filter=Q(status__in=lifecycle.OPEN, due_at__lte=now + SLA_RISK_WINDOW)
            ),
            held=Count("id", filter=Q(status__in=HELD)),
            completed=Count("id", filter=Q(completed_at__gte=since)),
        )
        .order_by()
    )
    by_queue = {row["queue_id"]: row for row in stats}
    sla = selectors.sla_by_queue(principal=principal)
    rows = []
    for queue in queues:
        row = by_queue.get(queue.pk, {})
        risk = sla.get(queue.pk) or selectors.QueueSla(queue=queue)
        rows.append(
            QueueRow(
                queue=queue,
                led=bool(queue.led),
                backlog=row.get("backlog", 0),
                oldest_at=row.get("oldest_at"),
                due_soon=row.get("due_soon", 0),
                at_risk=risk.at_risk,
                breached=risk.breached,
                held=row.get("held", 0),
                completed=row.get("completed", 0),
                oldest_at_risk=risk.oldest_at_risk,
                oldest_breached=risk.oldest_breached,
            )
        )
    return rows


def worker_rows(*, principal: Principal, now: datetime) -> tuple[list[WorkerRow], list[WorkerRow]]:
    """The active agents (by presence, then name) and bots, with their current leases and
    the items each completed within THROUGHPUT_WINDOW."""
    current = (
        Assignment.objects.filter(
            Q(ended_at__isnull=True) | Q(wrap_up_until__isnull=False, wrap_seconds=0)
        )
        .select_related("item")
        .order_by("assigned_at", "pk")
    )
    workers = (
        visibility.visible(principal, Worker.objects.filter(is_active=True))
        .select_related("user", "site")
        .prefetch_related(
            "channels", Prefetch("assignments", queryset=current, to_attr="current_leases")
        )
    )
    completed = dict(
        visibility.visible(principal, Assignment.objects.all())
        .filter(ended_at__gte=now - THROUGHPUT_WINDOW, end_reason=lifecycle.Status.COMPLETED)
        .values("worker_id")
        .annotate(n=Count("id"))
        .order_by()
        .values_list("worker_id", "n")
    )
    agents: list[WorkerRow] = []
    bots: list[WorkerRow] = []
    for worker in workers:
        row = WorkerRow(
            worker=worker,
            leases=worker.current_leases,
            completed=completed.get(worker.pk, 0),
        )
        (bots if worker.kind == WorkerKind.BOT else agents).append(row)

    def order(row: WorkerRow) -> tuple[int, str]:
        return PRESENCE_ORDER.get(row.worker.presence, 99), row.worker.user.username

    return sorted(agents, key=order), sorted(bots, key=order)


def floor_get(*, principal: Principal, now: datetime | None = None) -> Floor:
    now = now or timezone.now()
    agents, bots = worker_rows(principal=principal, now=now)
    counts = dict.fromkeys(Presence.values, 0)
    for row in agents:
        counts[row.worker.presence] = counts.get(row.worker.presence, 0) + 1
    return Floor(
        now=now,
        queues=queue_rows(principal=principal, now=now),
        agents=agents,
        bots=bots,
        presence_counts=counts,
    )
