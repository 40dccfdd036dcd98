"""Writes of forecasting: interval actuals, forecasts, adjustments, staffing targets.

- `actuals_rollup` rebuilds the 30-minute actuals of a range from the item events
  and leases; the `workforce.actuals` sweep (forecast_sweep.py) calls it for the
  recent intervals, and anyone may call it for a range on demand.
- `forecast_create` stores a queued forecast and enqueues `forecast_generate` as a
  background task (forecast_tasks.py), which fits the models on the actuals and
  writes the intervals, with the forecast's status at every step.
- Adjustments and staffing targets are audited in the provider's chain.

See docs/forecasting.md.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import numpy as np
from django.db import transaction
from django.utils import timezone

from offload.contracts.models import Process
from offload.core import errors
from offload.tenancy import audit, visibility
from offload.tenancy.models import Organisation
from offload.tenancy.visibility import Principal
from offload.work.models import Assignment, WorkItemEvent
from offload.workforce import forecasting
from offload.workforce.models import (
    AdjustmentKind,
    Forecast,
    ForecastAdjustment,
    ForecastInterval,
    ForecastSeries,
    ForecastStatus,
    IntervalActual,
    StaffingTarget,
)

logger = logging.getLogger(__name__)

INTERVAL = forecasting.INTERVAL
# How much history a forecast is fitted on: eight weeks hold the daily and weekly
# seasons several times over, and a backtest week.
HISTORY_WEEKS = 8
HORIZON_DAYS_MAX = 42
# Rebuilding a range on demand goes a day at a time, so a long range never holds
# one huge transaction; the sweep catches up at most this far per tick.
ROLLUP_CHUNK = timedelta(days=1)
CATCH_UP_MAX = timedelta(days=7)
# Leases are read by item id, this many ids a query (SQLite caps a statement's
# parameters; a busy day has tens of thousands of completions).
IN_BATCH = 5000

MANAGE = "forecast.manage"

NOT_PROVIDERS_PROCESS = "the process is not one of this provider's clients' processes"
BAD_DAYS = f"must be from 1 to {HORIZON_DAYS_MAX}"
END_BEFORE_START = "must be after start"
BAD_PERCENT = "a percent adjustment must be more than -100"
ZERO_ADJUSTMENT = "must not be zero: an adjustment of nothing changes nothing"
REASON_REQUIRED = "say why (e.g. 'campaign launch')"
REASON_TOO_LONG = "at most 500 characters"
BAD_FRACTION = "must be more than 0 and less than 1"
BAD_SHRINKAGE = "must be at least 0 and less than 1"
BAD_OCCUPANCY = "must be more than 0 and at most 1"
BAD_TARGET_S = "must be from 0 to 86400 seconds"
BAD_PATIENCE = "must be from 1 to 86400 seconds"
DAY_SECONDS = 86_400
TASK_FAILED = "the forecast could not be generated: {error}"


def _local_midnight(day: date, tz_name: str) -> datetime:
    local = datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(tz_name))
    return local.astimezone(ZoneInfo("UTC"))


# ------------------------------------------------------------------ actuals


@dataclass
class _Bucket:
    arrivals: int = 0
    handled: int = 0
    handle_seconds: int = 0


def _rollup_chunk(start: datetime, end: datetime, provider: Organisation | None) -> int:
    """Recompute every interval of [start, end): delete the range's rows, write what
    the events and leases say. One transaction, so a killed run leaves the old rows."""
    now = timezone.now()
    events = WorkItemEvent.objects.filter(
        at__gte=start, at__lt=end, type__in=("created", "completed")
    )
    if provider is not None:
        events = events.filter(provider=provider)
    rows = list(
        events.values_list(
            "item_id", "type", "at", "data", "item__process_id", "client_id", "provider_id"
        )
    )
    buckets: dict[tuple[int, datetime], _Bucket] = defaultdict(_Bucket)
    owners: dict[int, tuple[int, int]] = {}
    completed: dict[int, list[tuple[datetime, dict[str, object]]]] = defaultdict(list)
    for item_id, kind, at, data, process_id, client_id, provider_id in rows:
        owners[process_id] = (client_id, provider_id)
        if kind == "created":
            buckets[(process_id, forecasting.interval_floor(at))].arrivals += 1
        else:
            completed[item_id].append((at, data or {}))
    # A completion's handle time is its lease's work + wrap-up (the wrap-up is
    # counted once it ends; the sweep recomputes recent intervals until it has), or
    # what the completion reported (handle_seconds) when no lease held the item.
    process_of = {item_id: pid for item_id, _, _, _, pid, _, _ in rows}
    done_ids = list(completed)
    leases = [
        lease
        for i in range(0, len(done_ids), IN_BATCH)
        for lease in Assignment.objects.filter(
            item_id__in=done_ids[i : i + IN_BATCH],
            end_reason="completed",
            ended_at__gte=start,
            ended_at__lt=end,
        ).values_list("item_id", "ended_at", "work_seconds", "wrap_seconds")
    ]
    leased: set[tuple[int, datetime]] = set()
    for item_id, ended_at, work_s, wrap_s in leases:
        assert ended_at is not None  # filtered on it above
        at = forecasting.interval_floor(ended_at)
        bucket = buckets[(process_of[item_id], at)]
        bucket.handled += 1
        bucket.handle_seconds += work_s + wrap_s
        leased.add((item_id, at))
    for item_id, done in completed.items():
        for at, data in done:
            reported = data.get("handle_seconds")
            slot = forecasting.interval_floor(at)
            if (item_id, slot) in leased or not isinstance(reported, int) or reported < 0:
                continue
            bucket = buckets[(process_of[item_id], slot)]
            bucket.handled += 1
            bucket.handle_seconds += reported
    stale = IntervalActual.objects.filter(start__gte=start, start__lt=end)
    if provider is not None:
        stale = stale.filter(provider=provider)
    stale.delete()
    IntervalActual.objects.bulk_create(
        [
            IntervalActual(
                provider_id=owners[process_id][1],
                client_id=owners[process_id][0],
                process_id=process_id,
                start=at,
                arrivals=b.arrivals,
                handled=b.handled,
                handle_seconds=b.handle_seconds,
                rolled_up_at=now,
            )
            for (process_id, at), b in sorted(buckets.items(), key=lambda kv: (kv[0][0], kv[0][1]))
        ]
    )
    return len(buckets)


def actuals_rollup(*, start: datetime, end: datetime, provider: Organisation | None = None) -> int:
    """Rebuild the interval actuals of [start, end) (aligned out to whole intervals),
    a day per transaction; for one provider's processes, or everyone's. Idempotent:
    run twice, the same rows. Returns the rows written."""
    at = forecasting.interval_floor(start)
    written = 0
    while at < end:
        chunk_end = min(
            at + ROLLUP_CHUNK,
            forecasting.interval_floor(end - timedelta(microseconds=1)) + INTERVAL,
        )
        with transaction.atomic():
            written += _rollup_chunk(at, chunk_end, provider)
        at = chunk_end
    return written


# ------------------------------------------------------------------ forecasts


def _check_process(actor: Principal | None, process: Process) -> None:
    if actor is not None:
        visibility.require(actor, MANAGE)
        if process.provider_id != actor.organisation.pk:
            raise errors.ValidationFailed.single("process_id", NOT_PROVIDERS_PROCESS)


def forecast_create(
    *, actor: Principal | None, process: Process, start_date: date, days: int
) -> Forecast:
    """A queued forecast of `process` for `days` days from `start_date` (midnight in
    the provider's time zone), generated in the background (forecast_tasks)."""
    from offload.workforce import forecast_tasks

    _check_process(actor, process)
    errors.raise_failures([("days", None if 1 <= days <= HORIZON_DAYS_MAX else BAD_DAYS)])
    provider = process.provider
    start = _local_midnight(start_date, provider.timezone)
    end = _local_midnight(start_date + timedelta(days=days), provider.timezone)
    with transaction.atomic():
        forecast = Forecast.objects.create(
            provider=provider,
            client_id=process.client_id,
            process=process,
            start=start,
            end=end,
            created_by=actor.user if actor else None,
            status=ForecastStatus.QUEUED,
        )
        audit.record(organisation=provider, actor=actor, action="forecast.create", obj=forecast)
        # On the database backend the task row commits with the forecast; the
        # immediate backend (tests, and OFFLOAD_TASK_BACKEND for a laptop) runs it here.
        forecast_tasks.forecast_generate_task.enqueue(forecast.pk)
    forecast.refresh_from_db()
    return forecast


def _history(
    process_id: int, start: datetime, end: datetime
) -> tuple[datetime, np.ndarray, np.ndarray]:
    """Volume and AHT per interval of [first actual, end), at most HISTORY_WEEKS back;
    an interval without a row had no arrivals, and its AHT is unknown (NaN)."""
    since = max(start, end - timedelta(weeks=HISTORY_WEEKS))
    rows = list(
        IntervalActual.objects.filter(process_id=process_id, start__gte=since, start__lt=end)
        .order_by("start")
        .values_list("start", "arrivals", "handled", "handle_seconds")
    )
    if not rows:
        return end, np.zeros(0), np.zeros(0)
    first = rows[0][0]
    n = int((end - first) / INTERVAL)
    volume = np.zeros(n)
    aht = np.full(n, np.nan)
    for at, arrivals, handled, seconds in rows:
        i = int((at - first) / INTERVAL)
        volume[i] = arrivals
        if handled:
            aht[i] = seconds / handled
    return first, volume, aht


def forecast_generate(*, forecast_id: int, now: datetime | None = None) -> Forecast:
    """Fit the models on the process's actuals and write the forecast's intervals.

    The history ends at the horizon's start or the last complete interval, whichever
    is earlier; the models forecast from there to the horizon's end, and the
    horizon's part is kept. Status: running while it works, ready or failed after
    (with the error), so a caller polling the forecast always knows where it is.
    """
    now = now or timezone.now()
    with transaction.atomic():
        forecast = Forecast.objects.select_for_update().get(pk=forecast_id)
        if forecast.status not in {ForecastStatus.QUEUED, ForecastStatus.FAILED}:
            return forecast
        forecast.status = ForecastStatus.RUNNING
        forecast.attempts += 1
        forecast.save(update_fields=["status", "attempts", "updated_at"])
    # This attempt's writes land only while the forecast is still its own: one whose
    # worker was taken for dead and queued again belongs to the later attempt.
    mine = Forecast.objects.filter(
        pk=forecast_id, status=ForecastStatus.RUNNING, attempts=forecast.attempts
    )
    try:
        history_end = min(forecast.start, forecasting.interval_floor(now))
        first, volume, aht = _history(
            forecast.process_id, forecast.start - timedelta(weeks=HISTORY_WEEKS), history_end
        )
        steps = int((forecast.end - history_end) / INTERVAL)
        skip = int((forecast.start - history_end) / INTERVAL)
        volume_fc = forecasting.forecast_series(volume, steps)
        aht_fc = forecasting.forecast_series(aht, steps)
        starts = forecasting.interval_starts(forecast.start, forecast.end)
        with transaction.atomic():
            if not mine.select_for_update().exists():
                forecast.refresh_from_db()
                return forecast
            ForecastInterval.objects.filter(forecast=forecast).delete()
            ForecastInterval.objects.bulk_create(
                [
                    ForecastInterval(
                        forecast=forecast,
                        provider_id=forecast.provider_id,
                        client_id=forecast.client_id,
                        process_id=forecast.process_id,
                        start=at,
                        volume=round(float(volume_fc.values[skip + i]), 4),
                        aht_s=round(float(aht_fc.values[skip + i]), 2),
                    )
                    for i, at in enumerate(starts)
                ]
            )
            mine.update(
                status=ForecastStatus.READY,
                error="",
                volume_model=volume_fc.model,
                volume_wape=volume_fc.wape,
                aht_model=aht_fc.model,
                aht_wape=aht_fc.wape,
                backtest={"volume": volume_fc.backtest, "aht": aht_fc.backtest},
                history_start=first if len(volume) else None,
                history_end=history_end if len(volume) else None,
                generated_at=timezone.now(),
                updated_at=timezone.now(),
            )
    except Exception as exc:
        logger.exception("forecast %s failed", forecast_id)
        mine.update(
            status=ForecastStatus.FAILED,
            error=TASK_FAILED.format(error=exc)[:2000],
            updated_at=timezone.now(),
        )
    forecast.refresh_from_db()
    return forecast


# ------------------------------------------------------------------ adjustments


# Beyond these an adjustment is a typo, and would ask Erlang C to size a floor of
# millions: a percent up to +1,000 %, an absolute up to 100,000 items or a day of
# handle time per interval.
PERCENT_MAX = Decimal(1000)
ABSOLUTE_MAX: dict[str, Decimal] = {
    ForecastSeries.VOLUME: Decimal(100_000),
    ForecastSeries.AHT: Decimal(DAY_SECONDS),
}
TOO_LARGE = "at most {limit} in size"


def _too_large(series: str, kind: str, value: Decimal) -> str | None:
    if kind == AdjustmentKind.PERCENT:
        limit = PERCENT_MAX
    elif series in ABSOLUTE_MAX:
        limit = ABSOLUTE_MAX[series]
    else:
        return None  # the series itself is refused
    return TOO_LARGE.format(limit=limit) if abs(value) > limit else None


def forecast_adjustment_create(
    *,
    actor: Principal | None,
    process: Process,
    start: datetime,
    end: datetime,
    series: str,
    kind: str,
    value: Decimal,
    reason: str,
) -> ForecastAdjustment:
    """A planner's change to the process's forecasts over [start, end): applied on
    read to every forecast interval it covers (forecasting.adjust)."""
    _check_process(actor, process)
    reason = reason.strip()
    errors.raise_failures(
        [
            ("end", END_BEFORE_START if end <= start else None),
            ("series", None if series in ForecastSeries.values else f"'{series}' is not a series"),
            ("kind", None if kind in AdjustmentKind.values else f"'{kind}' is not a kind"),
            ("value", ZERO_ADJUSTMENT if value == 0 else None),
            ("value", BAD_PERCENT if kind == AdjustmentKind.PERCENT and value <= -100 else None),
            ("value", _too_large(series, kind, value)),
            ("reason", None if reason else REASON_REQUIRED),
            ("reason", REASON_TOO_LONG if len(reason) > 500 else None),
        ]
    )
    with transaction.atomic():
        adjustment = ForecastAdjustment.objects.create(
            provider_id=process.provider_id,
            client_id=process.client_id,
            process=process,
            start=start,
            end=end,
            series=series,
            kind=kind,
            value=value,
            reason=reason,
            created_by=actor.user if actor else None,
            created_at=timezone.now(),
        )
        audit.record(
            organisation=process.provider,
            actor=actor,
            action="forecast_adjustment.create",
            obj=adjustment,
            changes={"series": [None, series], "kind": [None, kind], "value": [None, str(value)]},
        )
    return adjustment


def forecast_adjustment_delete(*, actor: Principal | None, adjustment: ForecastAdjustment) -> None:
    if actor is not None:
        visibility.require(actor, MANAGE)
    with transaction.atomic():
        audit.record(
            organisation=adjustment.provider,
            actor=actor,
            action="forecast_adjustment.delete",
            obj=adjustment,
            changes={"value": [str(adjustment.value), None]},
        )
        adjustment.delete()


# ------------------------------------------------------------------ staffing targets

TARGET_FIELDS = ["service_level", "answer_target_s", "max_occupancy", "shrinkage", "patience_s"]


def staffing_target_set(
    *,
    actor: Principal | None,
    process: Process,
    service_level: Decimal,
    answer_target_s: int,
    shrinkage: Decimal,
    max_occupancy: Decimal | None = None,
    patience_s: int | None = None,
) -> StaffingTarget:
    """Set (create or replace) the process's staffing target."""
    _check_process(actor, process)
    errors.raise_failures(
        [
            ("service_level", None if 0 < service_level < 1 else BAD_FRACTION),
            ("answer_target_s", None if 0 <= answer_target_s <= DAY_SECONDS else BAD_TARGET_S),
            ("shrinkage", None if 0 <= shrinkage < 1 else BAD_SHRINKAGE),
            (
                "max_occupancy",
                None if max_occupancy is None or 0 < max_occupancy <= 1 else BAD_OCCUPANCY,
            ),
            (
                "patience_s",
                None if patience_s is None or 1 <= patience_s <= DAY_SECONDS else BAD_PATIENCE,
            ),
        ]
    )
    with transaction.atomic():
        target = StaffingTarget.objects.select_for_update().filter(process=process).first()
        before = audit.snapshot(target, TARGET_FIELDS) if target else {}
        if target is None:
            target = StaffingTarget(
                provider_id=process.provider_id, client_id=process.client_id, process=process
            )
        target.service_level = service_level
        target.answer_target_s = answer_target_s
        target.shrinkage = shrinkage
        target.max_occupancy = max_occupancy
        target.patience_s = patience_s
        target.updated_by = actor.user if actor else None
        target.save()
        audit.record(
            organisation=process.provider,
            actor=actor,
            action="staffing_target.set",
            obj=target,
            changes=audit.diff(before, audit.snapshot(target, TARGET_FIELDS)),
        )
    return target
