"""Builders for forecasting tests: interval actuals, forecasts, adjustments, targets.

(The scheduling tests keep theirs in schedule_factories.py.)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from decimal import Decimal

from django.utils import timezone

from offload.contracts.models import Process
from offload.workforce import forecast_services, forecasting
from offload.workforce.models import (
    Forecast,
    ForecastAdjustment,
    ForecastInterval,
    ForecastStatus,
    IntervalActual,
    StaffingTarget,
)

INTERVAL = forecasting.INTERVAL


def make_actuals(
    process: Process,
    start: datetime,
    arrivals: Sequence[int],
    *,
    aht_s: float | Callable[[int], float] = 300.0,
) -> list[IntervalActual]:
    """One actuals row per value of `arrivals`, from `start` on; every arrival handled
    in its interval at `aht_s` (a number, or a function of the interval's index)."""
    now = timezone.now()
    rows = []
    for i, n in enumerate(arrivals):
        aht = aht_s(i) if callable(aht_s) else aht_s
        rows.append(
            IntervalActual(
                provider_id=process.provider_id,
                client_id=process.client_id,
                process=process,
                start=start + i * INTERVAL,
                arrivals=n,
                handled=n,
                handle_seconds=round(n * aht),
                rolled_up_at=now,
            )
        )
    return IntervalActual.objects.bulk_create(rows)


def make_forecast(
    process: Process,
    start: datetime,
    volumes: Sequence[float],
    *,
    aht_s: float = 300.0,
    status: str = ForecastStatus.READY,
) -> Forecast:
    """A generated forecast with the given base volumes per interval from `start`."""
    forecast = Forecast.objects.create(
        provider_id=process.provider_id,
        client_id=process.client_id,
        process=process,
        start=start,
        end=start + len(volumes) * INTERVAL,
        status=status,
        volume_model=forecasting.SEASONAL_NAIVE,
        volume_wape=0.1,
        aht_model=forecasting.SEASONAL_NAIVE,
        aht_wape=0.05,
        generated_at=timezone.now(),
    )
    ForecastInterval.objects.bulk_create(
        ForecastInterval(
            forecast=forecast,
            provider_id=process.provider_id,
            client_id=process.client_id,
            process=process,
            start=start + i * INTERVAL,
            volume=v,
            aht_s=aht_s,
        )
        for i, v in enumerate(volumes)
    )
    return forecast


def make_adjustment(
    process: Process,
    start: datetime,
    end: datetime | None = None,
    *,
    series: str = "volume",
    kind: str = "percent",
    value: str = "30",
    reason: str = "Campaign day",
) -> ForecastAdjustment:
    return forecast_services.forecast_adjustment_create(
        actor=None,
        process=process,
        start=start,
        end=end or start + timedelta(days=1),
        series=series,
        kind=kind,
        value=Decimal(value),
        reason=reason,
    )


def make_staffing_target(
    process: Process,
    *,
    service_level: str = "0.8",
    answer_target_s: int = 20,
    shrinkage: str = "0.3",
    max_occupancy: str | None = "0.85",
    patience_s: int | None = None,
) -> StaffingTarget:
    return forecast_services.staffing_target_set(
        actor=None,
        process=process,
        service_level=Decimal(service_level),
        answer_target_s=answer_target_s,
        shrinkage=Decimal(shrinkage),
        max_occupancy=None if max_occupancy is None else Decimal(max_occupancy),
        patience_s=patience_s,
    )
