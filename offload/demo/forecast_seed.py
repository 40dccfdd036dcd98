"""The demo's forecast data (loaded by seed.load, idempotently).

Eight weeks of interval actuals for each of the provider's processes, with a daily
curve (a morning peak and a smaller afternoon one, in the client's time zone), quieter
weekends and a slow rise, drawn from a seeded Poisson; then one generated forecast
of the coming week for the chat process, with a +30 % campaign day on its Wednesday.

Rows already there are kept (the actuals' (process, start) key ignores repeats) and
the forecast is made once, so loading twice changes nothing. Fast: one bulk insert
per process, and one forecast (two series, MSTL backtested) of about a second.
"""

from __future__ import annotations

import math
import zlib
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import numpy as np
from django.utils import timezone

from offload.contracts.models import Channel, Process
from offload.tenancy.models import Organisation
from offload.workforce import forecast_selectors, forecast_services, forecasting
from offload.workforce.models import Forecast, ForecastAdjustment, IntervalActual

WEEKS = 8
FORECAST_PROCESS = "chat-support"
CAMPAIGN_REASON = "Spring campaign e-mail goes out: more chats all day"
CAMPAIGN_PERCENT = Decimal("30")
# Items per interval at the daily peak, and handle time, by channel.
PEAK = {Channel.CHAT: 24.0, Channel.VOICE: 30.0, Channel.EMAIL: 14.0, Channel.BACK_OFFICE: 10.0}
AHT_S = {
    Channel.CHAT: 420.0,
    Channel.VOICE: 300.0,
    Channel.EMAIL: 540.0,
    Channel.BACK_OFFICE: 780.0,
}
WEEKDAY_FACTOR = (1.15, 1.05, 1.0, 1.0, 0.95, 0.45, 0.3)  # Monday .. Sunday
GROWTH_PER_WEEK = 0.02


def _curve(hour: float) -> float:
    """Share of the peak at a local hour: a morning and an afternoon bump, a trickle at night."""
    morning = math.exp(-(((hour - 10.5) / 2.2) ** 2))
    afternoon = 0.75 * math.exp(-(((hour - 15.0) / 2.0) ** 2))
    return 0.03 + morning + afternoon


def _actuals(process: Process, start: datetime, end: datetime) -> list[IntervalActual]:
    rng = np.random.default_rng(zlib.crc32(process.slug.encode()))
    zone = ZoneInfo(process.client.timezone)
    peak = PEAK.get(Channel(process.channel), 10.0)
    aht = AHT_S.get(Channel(process.channel), 400.0)
    now = timezone.now()
    rows = []
    for i, at in enumerate(forecasting.interval_starts(start, end)):
        local = at.astimezone(zone)
        weeks_in = i / forecasting.WEEK
        rate = (
            peak
            * _curve(local.hour + local.minute / 60)
            * WEEKDAY_FACTOR[local.weekday()]
            * (1 + GROWTH_PER_WEEK * weeks_in)
        )
        arrivals = int(rng.poisson(rate))
        handle = aht * (1.08 if local.hour < 9 or local.hour >= 18 else 1.0)
        # Each handle time is Gamma(4, aht / 4); their sum over the interval is
        # Gamma(4n, aht / 4), drawn at once.
        seconds = int(rng.gamma(4.0 * arrivals, handle / 4.0)) if arrivals else 0
        rows.append(
            IntervalActual(
                provider_id=process.provider_id,
                client_id=process.client_id,
                process=process,
                start=at,
                arrivals=arrivals,
                handled=arrivals,
                handle_seconds=seconds,
                rolled_up_at=now,
            )
        )
    return rows


def load(provider: Organisation) -> None:
    """Actuals for every process of the provider, and the chat process's forecast."""
    now = timezone.now()
    end = forecasting.interval_floor(now)
    start = end - timedelta(weeks=WEEKS)
    processes = list(Process.objects.filter(provider=provider).select_related("client"))
    for process in processes:
        IntervalActual.objects.bulk_create(
            _actuals(process, start, end), ignore_conflicts=True, batch_size=2000
        )
    chat = next((p for p in processes if p.slug == FORECAST_PROCESS), None)
    if chat is None:
        return
    today = forecast_selectors.today_of(provider, now)
    monday = today + timedelta(days=7 - today.weekday())
    week_start, _ = forecast_selectors.day_bounds(monday, provider.timezone)
    if not Forecast.objects.filter(process=chat, start=week_start).exists():
        forecast = forecast_services.forecast_create(
            actor=None, process=chat, start_date=monday, days=7
        )
        # Generated now rather than by the worker, so the demo opens on a forecast (the
        # queued task then finds it ready and leaves it alone).
        forecast_services.forecast_generate(forecast_id=forecast.pk)
    campaign_start, campaign_end = forecast_selectors.day_bounds(
        monday + timedelta(days=2), provider.timezone
    )
    if not ForecastAdjustment.objects.filter(
        process=chat, start=campaign_start, reason=CAMPAIGN_REASON
    ).exists():
        forecast_services.forecast_adjustment_create(
            actor=None,
            process=chat,
            start=campaign_start,
            end=campaign_end,
            series="volume",
            kind="percent",
            value=CAMPAIGN_PERCENT,
            reason=CAMPAIGN_REASON,
        )
