"""Reads of work items, their events and SLA clocks, always through the visibility rules."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import connection
from django.db.models import BooleanField, Count, Exists, F, OuterRef, Q, QuerySet, Window
from django.db.models.expressions import RawSQL
from django.db.models.functions import RowNumber

from offload.sla import clock as sla_clock
from offload.tenancy import visibility
from offload.tenancy.visibility import Principal
from offload.work import clocks, lifecycle
from offload.work.models import Queue, SlaClock, WorkItem, WorkItemEvent


def _has_tag(tag: str) -> Q:
    """Items whose tags list holds `tag` exactly (SQLite has no JSON containment)."""
    if connection.vendor == "sqlite":
        table = WorkItem._meta.db_table
        sql = f'EXISTS (SELECT 1 FROM json_each("{table}"."tags") WHERE json_each.value = %s)'  # noqa: S608 (the model's own table name; the tag is a parameter)
        return Q(RawSQL(sql, (tag,), output_field=BooleanField()))  # noqa: S611 (as above)
    return Q(tags__contains=[tag])


def work_item_list(
    *,
    principal: Principal,
    reference: str | None = None,
    status: str | None = None,
    process: str | None = None,
    priority: str | None = None,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
    assignee: int | None = None,
    tag: str | None = None,
    q: str | None = None,
) -> QuerySet[WorkItem]:
    """The items the principal may see, filtered; one query per page whatever its size."""
    qs = visibility.visible(principal, WorkItem.objects.select_related("process", "queue"))
    filters = Q()
    if reference:
        filters &= Q(reference=reference)
    if status:
        filters &= Q(status=status)
    if process:
        filters &= Q(process__slug=process)
    if priority:
        filters &= Q(priority=priority)
    if created_after:
        filters &= Q(created_at__gte=created_after)
    if created_before:
        filters &= Q(created_at__lt=created_before)
    if assignee is not None:
        filters &= Q(assignee_id=assignee)
    if tag:
        filters &= _has_tag(tag)
    if q:
        filters &= Q(subject__icontains=q)
    return qs.filter(filters)


def work_item_get(*, principal: Principal, item_id: int) -> WorkItem:
    return visibility.get_visible(
        principal, WorkItem.objects.select_related("process", "queue"), pk=item_id
    )


def work_item_events(*, item: WorkItem) -> QuerySet[WorkItemEvent]:
    """The item's events in the order they happened."""
    return WorkItemEvent.objects.filter(item=item).order_by("seq")


# ------------------------------------------------------------------ SLA clocks, for pages

# How many of the oldest items at risk (and breached) a queue lists on a page.
SLA_OLDEST = 3


def duration_text(duration: timedelta) -> str:
    """A business duration for people, cut to whole minutes: "4 h", "2 h 05 min",
    "45 min" (negative durations read as their size)."""
    minutes = int(abs(duration).total_seconds()) // 60
    hours, minutes = divmod(minutes, 60)
    if not hours:
        return f"{minutes} min"
    return f"{hours} h" if not minutes else f"{hours} h {minutes:02d} min"


@dataclass(frozen=True)
class ClockView:
    """One SLA clock of an item as a page shows it; durations are business time."""

    metric: str
    state: str
    target: timedelta
    paused: timedelta  # settled pauses and the open one up to now
    is_paused: bool
    due_at: datetime | None  # None while paused
    stopped_at: datetime | None
    warnings: tuple[int, ...]  # warning thresholds fired, ascending
    breached: bool
    # target - used, for a clock still counting (running, paused or breached and not
    # stopped); negative when past due. None for a stopped clock.
    left: timedelta | None

    @property
    def label(self) -> str:
        return self.metric.replace("_", " ")

    @property
    def target_text(self) -> str:
        return duration_text(self.target)

    @property
    def paused_text(self) -> str:
        return duration_text(self.paused)

    @property
    def overdue(self) -> bool:
        return self.left is not None and self.left < timedelta(0)

    @property
    def left_text(self) -> str:
        if self.left is None:
            return ""
        text = duration_text(self.left)
        return f"overdue by {text}" if self.overdue else f"{text} left"


def item_clocks(*, item: WorkItem, now: datetime) -> list[ClockView]:
    """The item's SLA clocks as of `now`, by metric (three queries: the clocks, their
    policy version and its targets)."""
    rows = list(SlaClock.objects.filter(item=item).order_by("metric"))
    book = clocks.TermsBook()
    views = []
    for row in rows:
        clock = clocks.clock_of(row)
        terms = clocks.terms_of(row, book)
        left = None
        paused = clock.paused
        if terms is not None:
            if not clock.is_stopped:
                left = clock.target - sla_clock.used(clock, terms, now)
            if clock.paused_since is not None:
                end = min(now, clock.stopped_at or now)
                paused += max(terms.calendar.elapsed(clock.paused_since, end), timedelta(0))
        views.append(
            ClockView(
                metric=row.metric,
                state=row.state,
                target=clock.target,
                paused=paused,
                is_paused=clock.is_paused,
                due_at=clock.due_at,
                stopped_at=clock.stopped_at,
                warnings=tuple(p for p in clock.fired if p < sla_clock.BREACH),
                breached=row.breached,
                left=left,
            )
        )
    return views


@dataclass
class QueueSla:
    """Open items of one queue with a live clock past a warning (at risk) or past its
    target (breached), counted, and the oldest few of each."""

    queue: Queue
    at_risk: int = 0
    breached: int = 0
    oldest_at_risk: list[WorkItem] = field(default_factory=list)
    oldest_breached: list[WorkItem] = field(default_factory=list)


def sla_by_queue(*, principal: Principal, oldest: int = SLA_OLDEST) -> dict[int, QueueSla]:
    """Per queue (by id, only queues with something to show): open items breached (a
    live clock, one not stopped, that breached) and at risk (not breached, but a live
    clock fired a warning), with the `oldest` of each by age.

    One query whatever the number of queues: a window partitioned by queue and
    breached-or-not counts each group and ranks its items by age."""
    live = SlaClock.objects.filter(item_id=OuterRef("pk"), stopped_at__isnull=True)
    partition = [F("queue_id"), F("sla_breached")]
    rows = (
        visibility.visible(
            principal,
            WorkItem.objects.filter(status__in=lifecycle.OPEN).select_related("queue"),
        )
        .annotate(
            sla_breached=Exists(live.filter(breached=True)),
            sla_warned=Exists(live.filter(breached=False).exclude(fired=[])),
        )
        .filter(Q(sla_breached=True) | Q(sla_warned=True))
        .annotate(
            sla_count=Window(Count("id"), partition_by=partition),
            sla_rank=Window(
                RowNumber(), partition_by=partition, order_by=[F("created_at"), F("id")]
            ),
        )
        .filter(sla_rank__lte=oldest)
        .order_by("queue_id", "sla_rank")
    )
    out: dict[int, QueueSla] = {}
    for item in rows:
        found = out.setdefault(item.queue_id, QueueSla(queue=item.queue))
        if item.sla_breached:
            found.breached = item.sla_count
            found.oldest_breached.append(item)
        else:
            found.at_risk = item.sla_count
            found.oldest_at_risk.append(item)
    return out
