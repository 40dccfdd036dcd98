"""Reads of schedules for the rest of Offload: who is on shift when.

Intraday (forecasts) and the digital twin read scheduled coverage through these
functions; their signatures are the contract between them. The pages and the API
read through the rest, always through the visibility rules.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db.models import QuerySet

from offload.tenancy import visibility
from offload.tenancy.models import Organisation
from offload.tenancy.visibility import Principal
from offload.workers.models import Worker
from offload.workforce import models

INTERVAL = timedelta(minutes=30)
INTERVAL_S = INTERVAL.total_seconds()


@dataclass(frozen=True)
class ScheduledShift:
    worker_id: int | None  # None for a shift of the schedule not yet rostered to an agent
    site_id: int
    process_ids: frozenset[int]  # the processes the shift covers
    start: datetime  # aware UTC
    end: datetime  # aware UTC
    breaks: tuple[tuple[datetime, datetime], ...]  # aware UTC, off the phones


def _published_rows(
    provider: Organisation, start: datetime, end: datetime
) -> QuerySet[models.ScheduledShift]:
    return models.ScheduledShift.objects.filter(
        provider=provider,
        schedule__status=models.ScheduleStatus.PUBLISHED,
        start__lt=end,
        end__gt=start,
    ).order_by("start", "id")


def interval_floor(moment: datetime) -> datetime:
    """The start of the 30-minute UTC interval holding `moment`."""
    moment = moment.astimezone(UTC)
    return moment.replace(minute=moment.minute - moment.minute % 30, second=0, microsecond=0)


def _on_phones(
    coverage: dict[tuple[int, datetime], float],
    process_id: int,
    spans: Iterable[tuple[datetime, datetime, float]],
    start: datetime,
    end: datetime,
) -> None:
    """Add each span's weight to the intervals it overlaps in [start, end), pro rata."""
    for span_start, span_end, weight in spans:
        lo, hi = max(span_start, start), min(span_end, end)
        cursor = interval_floor(lo)
        while cursor < hi:
            overlap = (min(hi, cursor + INTERVAL) - max(lo, cursor)).total_seconds()
            if overlap > 0:
                key = (process_id, cursor)
                coverage[key] = coverage.get(key, 0.0) + weight * overlap / INTERVAL_S
            cursor += INTERVAL


def scheduled_coverage(
    *,
    provider: Organisation,
    start: datetime,
    end: datetime,
    process_ids: Iterable[int] | None = None,
) -> dict[tuple[int, datetime], float]:
    """Agents on the phones per (process id, 30-minute interval start in UTC) in
    [start, end), from the published schedules, breaks taken off.

    Intervals nobody covers are left out (read a missing key as 0). A shift that
    covers part of an interval counts for that part.
    """
    rows = _published_rows(provider, start, end)
    if process_ids is not None:
        rows = rows.filter(process_id__in=list(process_ids))
    coverage: dict[tuple[int, datetime], float] = {}
    fields = ("process_id", "start", "end", "break_start", "break_end")
    for process_id, s, e, bs, be in rows.values_list(*fields):
        spans = [(s, e, 1.0)]
        if bs is not None and be is not None:
            spans.append((bs, be, -1.0))
        _on_phones(coverage, process_id, spans, start, end)
    return {k: round(v, 6) for k, v in sorted(coverage.items()) if abs(v) > 1e-9}


def scheduled_shifts(
    *, provider: Organisation, start: datetime, end: datetime
) -> list[ScheduledShift]:
    """The published schedules' shifts overlapping [start, end)."""
    fields = ("worker_id", "site_id", "process_id", "start", "end", "break_start", "break_end")
    return [
        ScheduledShift(
            worker_id=worker_id,
            site_id=site_id,
            process_ids=frozenset({process_id}),
            start=s,
            end=e,
            breaks=((bs, be),) if bs is not None and be is not None else (),
        )
        for worker_id, site_id, process_id, s, e, bs, be in _published_rows(
            provider, start, end
        ).values_list(*fields)
    ]


# ---------------------------------------------------------------- pages and API


def schedule_list(*, principal: Principal, status: str | None = None) -> QuerySet[models.Schedule]:
    qs = visibility.visible(principal, models.Schedule.objects.all())
    if status:
        qs = qs.filter(status=status)
    return qs


def schedule_get(*, principal: Principal, schedule_id: int) -> models.Schedule:
    return visibility.get_visible(principal, models.Schedule.objects.all(), pk=schedule_id)


def schedule_shift_list(
    *, principal: Principal, schedule: models.Schedule, site_id: int | None = None
) -> QuerySet[models.ScheduledShift]:
    qs = visibility.visible(
        principal,
        models.ScheduledShift.objects.filter(schedule=schedule).select_related(
            "site", "process", "worker__user"
        ),
    )
    if site_id is not None:
        qs = qs.filter(site_id=site_id)
    return qs


def schedule_coverage(
    *, schedule: models.Schedule
) -> tuple[dict[tuple[int, datetime], float], dict[tuple[int, datetime], float]]:
    """(required, scheduled) per (process id, interval) over the schedule's horizon."""
    required: dict[tuple[int, datetime], float] = {}
    for process_id, at, agents in schedule.requirements:
        required[(int(process_id), datetime.fromisoformat(at))] = float(agents)
    scheduled: dict[tuple[int, datetime], float] = {}
    fields = ("process_id", "start", "end", "break_start", "break_end")
    for process_id, s, e, bs, be in schedule.shifts.values_list(*fields):
        spans = [(s, e, 1.0)]
        if bs is not None and be is not None:
            spans.append((bs, be, -1.0))
        _on_phones(scheduled, process_id, spans, schedule.start, schedule.end)
    return required, scheduled


def shift_template_list(*, principal: Principal) -> QuerySet[models.ShiftTemplate]:
    return visibility.visible(principal, models.ShiftTemplate.objects.all())


def site_planning_rules(*, provider: Organisation) -> dict[int, models.SitePlanningRule]:
    return {r.site_id: r for r in models.SitePlanningRule.objects.filter(provider=provider)}


def agent_contract_hours(*, provider: Organisation) -> dict[int, int]:
    return dict(
        models.AgentContract.objects.filter(provider=provider).values_list(
            "worker_id", "hours_per_week"
        )
    )


def time_off_list(
    *,
    principal: Principal,
    worker: Worker | None = None,
    status: str | None = None,
) -> QuerySet[models.TimeOffRequest]:
    qs = visibility.visible(
        principal, models.TimeOffRequest.objects.select_related("worker__user", "decided_by")
    )
    if worker is not None:
        qs = qs.filter(worker=worker)
    if status:
        qs = qs.filter(status=status)
    return qs


def time_off_get(*, principal: Principal, time_off_id: int) -> models.TimeOffRequest:
    return visibility.get_visible(
        principal,
        models.TimeOffRequest.objects.select_related("worker__user"),
        pk=time_off_id,
    )


def approved_time_off(
    *, provider: Organisation, start: datetime, end: datetime
) -> dict[int, list[tuple[datetime, datetime]]]:
    """Approved time off per worker overlapping [start, end)."""
    out: dict[int, list[tuple[datetime, datetime]]] = defaultdict(list)
    rows = models.TimeOffRequest.objects.filter(
        provider=provider, status=models.TimeOffStatus.APPROVED, start__lt=end, end__gt=start
    ).values_list("worker_id", "start", "end")
    for worker_id, s, e in rows:
        out[worker_id].append((s, e))
    return dict(out)


def worker_shifts(
    *, worker: Worker, start: datetime, end: datetime
) -> QuerySet[models.ScheduledShift]:
    """A worker's own published shifts overlapping [start, end)."""
    return models.ScheduledShift.objects.filter(
        worker=worker,
        schedule__status=models.ScheduleStatus.PUBLISHED,
        start__lt=end,
        end__gt=start,
    ).select_related("site", "process")


def time_off_coverage_cost(*, time_off: models.TimeOffRequest) -> list[dict[str, object]]:
    """The intervals where approving `time_off` leaves the rostered coverage of the
    published schedules below their requirement, with the numbers before and after.

    Coverage here counts rostered shifts (with an agent): the agent's own shifts in
    the span are the ones approving empties."""
    own = list(
        worker_shifts(worker=time_off.worker, start=time_off.start, end=time_off.end)
        .select_related("schedule")
        .order_by("start")
    )
    if not own:
        return []
    lo, hi = time_off.start, time_off.end
    mine: dict[tuple[int, datetime], float] = {}
    required: dict[tuple[int, datetime], float] = {}
    for shift in own:
        spans = [(shift.start, shift.end, 1.0)]
        if shift.break_start is not None and shift.break_end is not None:
            spans.append((shift.break_start, shift.break_end, -1.0))
        _on_phones(mine, shift.process_id, spans, lo, hi)
        for process_id, at, agents in shift.schedule.requirements:
            moment = datetime.fromisoformat(at)
            if int(process_id) == shift.process_id and lo <= moment < hi:
                required[(int(process_id), moment)] = float(agents)
    rostered: dict[tuple[int, datetime], float] = {}
    rows = _published_rows(time_off.worker.provider, lo, hi).filter(
        worker__isnull=False, process_id__in={p for p, _ in mine}
    )
    fields = ("process_id", "start", "end", "break_start", "break_end")
    for process_id, s, e, bs, be in rows.values_list(*fields):
        spans = [(s, e, 1.0)]
        if bs is not None and be is not None:
            spans.append((bs, be, -1.0))
        _on_phones(rostered, process_id, spans, lo, hi)
    cost: list[dict[str, object]] = []
    for key in sorted(mine):
        if mine[key] <= 0:
            continue
        before = rostered.get(key, 0.0)
        after = round(before - mine[key], 6)
        need = required.get(key, 0.0)
        if after < need:
            cost.append(
                {
                    "process_id": key[0],
                    "start": key[1].astimezone(UTC).isoformat(),
                    "required": need,
                    "scheduled": round(before, 6),
                    "after": after,
                }
            )
    return cost
