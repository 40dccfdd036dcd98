"""The `workforce.actuals` sweep rolls the item events up into interval actuals;
`workforce.forecast_recovery` queues again the forecasts whose worker died.

Each tick recomputes from the watermark (the first interval not known to be final)
to the interval in progress, then moves the watermark to the previous interval: the
last two intervals are recomputed on every tick, so late wrap-ups land, and a worker
that was down catches up (up to CATCH_UP_MAX a tick). The watermark row is claimed
with SKIP LOCKED, so two workers never roll up at once; the rollup and the watermark
commit together, so a killed sweep loses nothing and the next one redoes the range.
"""

from __future__ import annotations

from datetime import datetime

from django.db import transaction

from offload.core import sweeps
from offload.workforce import forecast_services, forecast_tasks, forecasting
from offload.workforce.models import ActualsWatermark, Forecast, ForecastStatus

MAX_ATTEMPTS = 3
RECOVERY_BATCH = 100
LOST_WORKER = "the worker generating it stopped {n} times; create the forecast again"

WATERMARK = "actuals"


@sweeps.register("workforce.actuals")
def actuals_sweep(now: datetime) -> int:
    current = forecasting.interval_floor(now)
    previous = current - forecasting.INTERVAL
    with transaction.atomic():
        ActualsWatermark.objects.get_or_create(name=WATERMARK, defaults={"rolled_to": previous})
        claimed = sweeps.claim_due(ActualsWatermark.objects.filter(name=WATERMARK), limit=1)
        if not claimed:
            return 0  # another worker is rolling up
        mark = claimed[0]
        start = max(min(mark.rolled_to, previous), current - forecast_services.CATCH_UP_MAX)
        written = forecast_services.actuals_rollup(start=start, end=current + forecasting.INTERVAL)
        mark.rolled_to = previous
        mark.save(update_fields=["rolled_to"])
    return written


@sweeps.register("workforce.forecast_recovery")
def forecasts_recover(now: datetime) -> int:
    """Forecasts left running by a worker that died (no write for
    OFFLOAD_JOB_STALE_SECONDS; generating one takes seconds): queued again, or failed
    after MAX_ATTEMPTS. Generating twice is harmless: it rewrites the same intervals."""
    with transaction.atomic():
        stale = sweeps.claim_stale(
            Forecast.objects.filter(status=ForecastStatus.RUNNING),
            field="updated_at",
            now=now,
            limit=RECOVERY_BATCH,
        )
        for forecast in stale:
            lost = forecast.attempts >= MAX_ATTEMPTS
            forecast.status = ForecastStatus.FAILED if lost else ForecastStatus.QUEUED
            forecast.error = LOST_WORKER.format(n=forecast.attempts) if lost else ""
            forecast.save(update_fields=["status", "error", "updated_at"])
            if not lost:
                # On the database backend the task row commits with the status.
                forecast_tasks.forecast_generate_task.enqueue(forecast.pk)
    return len(stale)
