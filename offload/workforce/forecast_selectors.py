"""Reads of forecasts for the rest of Offload: what each interval needs.

The scheduler (schedule_services) and the digital twin read staffing requirements
through `staffing_requirements`; its signature is the contract between them. The
pages and the API read forecasts, adjustments, targets and intraday through the
other functions here, always through the visibility rules. See docs/forecasting.md.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
from django.db.models import Q, QuerySet
from django.utils import timezone

from offload.contracts.models import Channel, Metric, Process, SlaTarget, Unit
from offload.core import errors
from offload.tenancy import visibility
from offload.tenancy.models import Organisation, Role
from offload.tenancy.visibility import Principal
from offload.workforce import erlang, forecasting, schedule_selectors
from offload.workforce.models import (
    Forecast,
    ForecastAdjustment,
    ForecastInterval,
    ForecastSeries,
    ForecastStatus,
    IntervalActual,
    StaffingTarget,
)

INTERVAL = forecasting.INTERVAL
INTERVAL_S = INTERVAL.total_seconds()

# Who reads workforce plans: the planners and managers who write them, and team leads.
READERS = frozenset({Role.ADMIN, Role.OPS_MANAGER, Role.WFM_PLANNER, Role.TEAM_LEAD})
NOT_A_READER = "requires one of the roles: " + ", ".join(sorted(READERS))


def require_reader(principal: Principal) -> None:
    """Provider people outside READERS are refused; a client reads nothing (every
    row is the provider's, so its lists are empty and its lookups 404)."""
    if principal.is_provider and not principal.has_role(*READERS):
        raise errors.PermissionDenied(NOT_A_READER)


# ------------------------------------------------------------------ staffing targets

DEFAULT_SERVICE_LEVEL = 0.80
DEFAULT_MAX_OCCUPANCY = 0.85
DEFAULT_SHRINKAGE = 0.30
# Answer targets by channel when the process says nothing: 80/20 on the phone; a
# minute in chat; an hour for e-mail and back-office items when the contract has no
# first-response target either.
DEFAULT_ANSWER_S = {Channel.VOICE: 20, Channel.CHAT: 60}
FALLBACK_ANSWER_S = 3600
# A first-response target in business days is read as 8-hour days.
UNIT_SECONDS: dict[str, int] = {
    Unit.BUSINESS_MINUTES: 60,
    Unit.BUSINESS_HOURS: 3600,
    Unit.BUSINESS_DAYS: 8 * 3600,
}

SOURCE_STORED = "stored"
SOURCE_SLA = "sla_policy"
SOURCE_DEFAULT = "default"


@dataclass(frozen=True)
class Target:
    service_level: float
    answer_target_s: float
    max_occupancy: float | None
    shrinkage: float
    patience_s: float | None
    # stored (the process's StaffingTarget); sla_policy (defaults, with the answer
    # target from the SLA's first response); default (defaults only).
    source: str


def _sla_answer_targets(processes: Sequence[Process]) -> dict[int, float]:
    """Seconds of each policy's first-response target: the one for every priority,
    else the one for P3 (an item's default priority), else the first."""
    policy_ids = {p.sla_policy_id for p in processes if p.sla_policy_id}
    rows = SlaTarget.objects.filter(
        policy_id__in=policy_ids, metric=Metric.FIRST_RESPONSE, unit__in=list(UNIT_SECONDS)
    ).values_list("policy_id", "priority", "target_value", "unit", "id")
    best: dict[int, tuple[tuple[bool, bool, int], float]] = {}
    for policy_id, priority, value, unit, pk in rows:
        rank = (priority != "", priority != "P3", pk)
        seconds = float(value) * UNIT_SECONDS[str(unit)]
        if policy_id not in best or rank < best[policy_id][0]:
            best[policy_id] = (rank, seconds)
    return {pid: seconds for pid, (_, seconds) in best.items()}


def staffing_targets_effective(processes: Sequence[Process]) -> dict[int, Target]:
    """Each process's target: its stored one, or the defaults (the answer target from
    its SLA policy's first response for non-voice channels, when there is one)."""
    stored = {t.process_id: t for t in StaffingTarget.objects.filter(process__in=processes)}
    sla = _sla_answer_targets([p for p in processes if p.pk not in stored])
    out: dict[int, Target] = {}
    for p in processes:
        t = stored.get(p.pk)
        if t is not None:
            out[p.pk] = Target(
                service_level=float(t.service_level),
                answer_target_s=float(t.answer_target_s),
                max_occupancy=None if t.max_occupancy is None else float(t.max_occupancy),
                shrinkage=float(t.shrinkage),
                patience_s=None if t.patience_s is None else float(t.patience_s),
                source=SOURCE_STORED,
            )
            continue
        from_sla = sla.get(p.sla_policy_id or 0) if p.channel != Channel.VOICE else None
        answer = DEFAULT_ANSWER_S.get(Channel(p.channel), FALLBACK_ANSWER_S)
        out[p.pk] = Target(
            service_level=DEFAULT_SERVICE_LEVEL,
            answer_target_s=from_sla if from_sla is not None else float(answer),
            max_occupancy=DEFAULT_MAX_OCCUPANCY,
            shrinkage=DEFAULT_SHRINKAGE,
            patience_s=None,
            source=SOURCE_SLA if from_sla is not None else SOURCE_DEFAULT,
        )
    return out


def staffing_target_list(*, principal: Principal) -> QuerySet[StaffingTarget]:
    require_reader(principal)
    return visibility.visible(principal, StaffingTarget.objects.select_related("process"))


def staffing_target_get(*, principal: Principal, target_id: int) -> StaffingTarget:
    require_reader(principal)
    return visibility.get_visible(principal, StaffingTarget.objects.all(), pk=target_id)


# ------------------------------------------------------------------ requirements


@dataclass(frozen=True)
class IntervalRequirement:
    process_id: int
    start: datetime  # aware UTC, the start of a 30-minute interval
    calls: float  # forecast arrivals in the interval, adjustments applied
    aht_s: float  # forecast average handle time, seconds
    agents: int  # agents on the phones the queueing answer needs (before shrinkage)
    scheduled: int  # agents to schedule: `agents` grossed up by the process's shrinkage


def agents_needed(calls: np.ndarray, aht_s: np.ndarray, target: Target) -> np.ndarray:
    """Erlang C agents per interval; 0 where nothing arrives or no handle time is known."""
    agents = np.zeros(len(calls), dtype=np.int64)
    busy = (calls > 0) & (aht_s > 0)
    if busy.any():
        agents[busy] = erlang.agents_required_plan(
            calls[busy],
            INTERVAL_S,
            aht_s[busy],
            target.answer_target_s,
            target.service_level,
            target.max_occupancy,
        )
    return agents


def _adjustments(
    process_ids: Iterable[int], start: datetime, end: datetime
) -> dict[tuple[int, str], list[forecasting.Adjustment]]:
    out: dict[tuple[int, str], list[forecasting.Adjustment]] = defaultdict(list)
    rows = ForecastAdjustment.objects.filter(
        process_id__in=list(process_ids), start__lt=end, end__gt=start
    ).order_by("id")
    for a in rows:
        out[(a.process_id, a.series)].append(
            forecasting.Adjustment(a.start, a.end, a.kind, float(a.value))
        )
    return out


def _current_intervals(
    provider: Organisation, start: datetime, end: datetime, process_ids: Iterable[int] | None
) -> dict[int, dict[datetime, tuple[float, float]]]:
    """(volume, aht) per process and interval from the latest ready forecast covering it."""
    rows = ForecastInterval.objects.filter(
        provider=provider,
        start__gte=start,
        start__lt=end,
        forecast__status=ForecastStatus.READY,
    )
    if process_ids is not None:
        rows = rows.filter(process_id__in=list(process_ids))
    out: dict[int, dict[datetime, tuple[float, float]]] = defaultdict(dict)
    for process_id, at, volume, aht in rows.order_by("forecast_id").values_list(
        "process_id", "start", "volume", "aht_s"
    ):
        out[process_id][at] = (volume, aht)  # a later forecast overwrites an earlier one
    return out


def staffing_requirements(
    *,
    provider: Organisation,
    start: datetime,
    end: datetime,
    process_ids: Iterable[int] | None = None,
) -> list[IntervalRequirement]:
    """Requirements per process and interval in [start, end), from each process's
    current forecast; intervals without a forecast are left out."""
    ids = None if process_ids is None else list(process_ids)
    current = _current_intervals(provider, start, end, ids)
    processes = list(Process.objects.filter(pk__in=list(current)).order_by("id"))
    targets = staffing_targets_effective(processes)
    adjustments = _adjustments(current, start, end)
    out: list[IntervalRequirement] = []
    for process in processes:
        by_start = current[process.pk]
        starts = sorted(by_start)
        volume = forecasting.adjust(
            [by_start[s][0] for s in starts],
            starts,
            adjustments.get((process.pk, ForecastSeries.VOLUME), []),
        )
        aht = forecasting.adjust(
            [by_start[s][1] for s in starts],
            starts,
            adjustments.get((process.pk, ForecastSeries.AHT), []),
        )
        target = targets[process.pk]
        agents = agents_needed(volume, aht, target)
        for i, at in enumerate(starts):
            out.append(
                IntervalRequirement(
                    process_id=process.pk,
                    start=at,
                    calls=float(volume[i]),
                    aht_s=float(aht[i]),
                    agents=int(agents[i]),
                    scheduled=erlang.scheduled_fte(int(agents[i]), target.shrinkage),
                )
            )
    return out


# ------------------------------------------------------------------ forecasts


def forecast_list(
    *, principal: Principal, process_id: int | None = None, status: str | None = None
) -> QuerySet[Forecast]:
    require_reader(principal)
    qs = visibility.visible(principal, Forecast.objects.select_related("process"))
    if process_id is not None:
        qs = qs.filter(process_id=process_id)
    if status:
        qs = qs.filter(status=status)
    return qs


def forecast_get(*, principal: Principal, forecast_id: int) -> Forecast:
    require_reader(principal)
    qs = Forecast.objects.select_related("process", "provider", "created_by")
    return visibility.get_visible(principal, qs, pk=forecast_id)


def adjustment_list(
    *, principal: Principal, process_id: int | None = None
) -> QuerySet[ForecastAdjustment]:
    require_reader(principal)
    qs = visibility.visible(principal, ForecastAdjustment.objects.select_related("created_by"))
    if process_id is not None:
        qs = qs.filter(process_id=process_id)
    return qs


def adjustment_get(*, principal: Principal, adjustment_id: int) -> ForecastAdjustment:
    require_reader(principal)
    return visibility.get_visible(principal, ForecastAdjustment.objects.all(), pk=adjustment_id)


def _actuals(
    process_id: int, start: datetime, end: datetime
) -> dict[datetime, tuple[int, float | None]]:
    rows = IntervalActual.objects.filter(process_id=process_id, start__gte=start, start__lt=end)
    return {
        at: (arrivals, seconds / handled if handled else None)
        for at, arrivals, handled, seconds in rows.values_list(
            "start", "arrivals", "handled", "handle_seconds"
        )
    }


@dataclass(frozen=True)
class IntervalView:
    start: datetime
    volume_base: float
    volume: float  # adjusted
    aht_base: float
    aht_s: float  # adjusted
    agents: int
    scheduled: int
    actual_volume: int | None  # None: the interval has not happened (or no rollup)
    actual_aht_s: float | None
    last_week_volume: int | None  # the same interval one week before


@dataclass(frozen=True)
class ForecastView:
    forecast: Forecast
    target: Target
    intervals: list[IntervalView]
    adjustments: list[ForecastAdjustment]

    @property
    def volume_total(self) -> float:
        return sum(i.volume for i in self.intervals)

    @property
    def volume_base_total(self) -> float:
        return sum(i.volume_base for i in self.intervals)


def forecast_view(*, forecast: Forecast, now: datetime | None = None) -> ForecastView:
    """The forecast's intervals with base, adjusted, requirement and actuals side by side."""
    now = now or timezone.now()
    rows = list(forecast.intervals.order_by("start").values_list("start", "volume", "aht_s"))
    starts = [r[0] for r in rows]
    adjustments = list(
        ForecastAdjustment.objects.filter(
            process_id=forecast.process_id, start__lt=forecast.end, end__gt=forecast.start
        )
        .select_related("created_by")
        .order_by("start", "id")
    )
    by_series: dict[str, list[forecasting.Adjustment]] = defaultdict(list)
    for a in adjustments:
        by_series[a.series].append(forecasting.Adjustment(a.start, a.end, a.kind, float(a.value)))
    volume_base = np.array([r[1] for r in rows], dtype=np.float64)
    aht_base = np.array([r[2] for r in rows], dtype=np.float64)
    volume = forecasting.adjust(volume_base, starts, by_series[ForecastSeries.VOLUME])
    aht = forecasting.adjust(aht_base, starts, by_series[ForecastSeries.AHT])
    target = staffing_targets_effective([forecast.process])[forecast.process_id]
    agents = agents_needed(volume, aht, target)
    week = timedelta(weeks=1)
    actual = _actuals(forecast.process_id, forecast.start, min(forecast.end, now))
    before = _actuals(forecast.process_id, forecast.start - week, forecast.end - week)
    intervals = [
        IntervalView(
            start=at,
            volume_base=float(volume_base[i]),
            volume=float(volume[i]),
            aht_base=float(aht_base[i]),
            aht_s=float(aht[i]),
            agents=int(agents[i]),
            scheduled=erlang.scheduled_fte(int(agents[i]), target.shrinkage),
            actual_volume=actual.get(at, (0, None))[0] if at + INTERVAL <= now else None,
            actual_aht_s=actual.get(at, (0, None))[1],
            last_week_volume=before.get(at - week, (0, None))[0],
        )
        for i, at in enumerate(starts)
    ]
    return ForecastView(forecast, target, intervals, adjustments)


# ------------------------------------------------------------------ intraday


def day_bounds(day: date, tz_name: str) -> tuple[datetime, datetime]:
    """[local midnight, next local midnight) of `day` in `tz_name`, in UTC."""
    zone = ZoneInfo(tz_name)
    utc = ZoneInfo("UTC")
    start = datetime(day.year, day.month, day.day, tzinfo=zone).astimezone(utc)
    after = day + timedelta(days=1)
    return start, datetime(after.year, after.month, after.day, tzinfo=zone).astimezone(utc)


def today_of(provider: Organisation, now: datetime | None = None) -> date:
    return (now or timezone.now()).astimezone(ZoneInfo(provider.timezone)).date()


@dataclass(frozen=True)
class IntradayInterval:
    start: datetime
    forecast: float | None  # adjusted forecast arrivals; None: no forecast covers it
    actual: int | None  # arrivals so far (elapsed intervals only)
    reforecast: float  # actual for elapsed intervals, the scaled forecast after
    aht_s: float  # actual AHT where elapsed and known, else the forecast's
    required: int  # agents on the phones (Erlang C on the re-forecast)
    scheduled: float  # agents on the phones by the published schedules
    gap: float  # required - scheduled: positive is short, negative is over
    elapsed: bool


@dataclass(frozen=True)
class IntradayView:
    process: Process
    day: date
    start: datetime
    end: datetime
    ratio: float  # actual / forecast arrivals of the elapsed intervals (clamped)
    elapsed: int
    intervals: list[IntradayInterval]
    target: Target
    has_forecast: bool

    @property
    def actual_total(self) -> int:
        return sum(i.actual or 0 for i in self.intervals)

    @property
    def forecast_total(self) -> float:
        return sum(i.forecast or 0 for i in self.intervals)

    @property
    def reforecast_total(self) -> float:
        return sum(i.reforecast for i in self.intervals)


def intraday(
    *,
    process: Process,
    day: date,
    now: datetime | None = None,
    forecast: Forecast | None = None,
) -> IntradayView:
    """The day (in the provider's time zone) of one process: actual arrivals against
    the forecast (the given one, or the current forecast of each interval), the
    re-forecast of the rest of the day, and the staffing gap per interval."""
    now = now or timezone.now()
    provider = process.provider
    start, end = day_bounds(day, provider.timezone)
    starts = forecasting.interval_starts(start, end)
    if forecast is not None:
        fc_rows = forecast.intervals.filter(start__gte=start, start__lt=end).values_list(
            "start", "volume", "aht_s"
        )
        by_start = {at: (v, a) for at, v, a in fc_rows}
    else:
        by_start = _current_intervals(provider, start, end, [process.pk]).get(process.pk, {})
    adjustments = _adjustments([process.pk], start, end)
    volume = forecasting.adjust(
        [by_start.get(s, (0.0, 0.0))[0] for s in starts],
        starts,
        adjustments.get((process.pk, ForecastSeries.VOLUME), []),
    )
    aht_fc = forecasting.adjust(
        [by_start.get(s, (0.0, 0.0))[1] for s in starts],
        starts,
        adjustments.get((process.pk, ForecastSeries.AHT), []),
    )
    actual = _actuals(process.pk, start, end)
    elapsed = sum(1 for s in starts if s + INTERVAL <= now)
    arrived = np.array([actual.get(s, (0, None))[0] for s in starts], dtype=np.float64)
    re = forecasting.reforecast_rest(volume, arrived, elapsed)
    aht = np.array(
        [
            (actual.get(s, (0, None))[1] or aht_fc[i]) if i < elapsed else aht_fc[i]
            for i, s in enumerate(starts)
        ],
        dtype=np.float64,
    )
    target = staffing_targets_effective([process])[process.pk]
    required = agents_needed(re.values, aht, target)
    coverage = schedule_selectors.scheduled_coverage(
        provider=provider, start=start, end=end, process_ids=[process.pk]
    )
    intervals = []
    for i, at in enumerate(starts):
        scheduled = float(coverage.get((process.pk, at), 0.0))
        intervals.append(
            IntradayInterval(
                start=at,
                forecast=float(volume[i]) if at in by_start else None,
                actual=int(arrived[i]) if i < elapsed else None,
                reforecast=float(re.values[i]),
                aht_s=float(aht[i]),
                required=int(required[i]),
                scheduled=scheduled,
                gap=round(int(required[i]) - scheduled, 6),
                elapsed=i < elapsed,
            )
        )
    return IntradayView(
        process=process,
        day=day,
        start=start,
        end=end,
        ratio=re.ratio,
        elapsed=elapsed,
        intervals=intervals,
        target=target,
        has_forecast=bool(by_start),
    )


def processes_for_planning(*, principal: Principal) -> QuerySet[Process]:
    """The processes a provider plans for: its clients' processes (none for a client)."""
    if not principal.is_provider:
        return Process.objects.none()
    return visibility.visible(principal, Process.objects.filter(Q(provider=principal.organisation)))
