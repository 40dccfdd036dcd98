"""Pages of forecasting: the forecasts, one forecast (chart, adjustments), intraday.

Provider pages only: a client is sent home from the pages without an object, and
gets a 404 for a forecast (it sees none). Provider people outside the readers
(forecast_selectors.READERS) get a 403 page. Writes go through forecast_services,
whose field errors are shown next to the form's fields.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from offload.core import errors
from offload.tenancy.pages import get_visible_or_404, member_required
from offload.tenancy.visibility import Principal
from offload.workforce import forecast_selectors as selectors
from offload.workforce import forecast_services as services
from offload.workforce import forecasting
from offload.workforce.models import AdjustmentKind, Forecast, ForecastAdjustment, ForecastSeries
from offload.workforce.page_forms import (
    BAD_DATE,
    BAD_DATETIME,
    BAD_NUMBER,
    posted_date,
    posted_id,
)

LIST_SIZE = 100
NOT_ALLOWED = "workforce/forecast_not_allowed.html"
REQUIRED = "required"
BAD_CHOICE = "pick one of the choices"
NO_SUCH_PROCESS = "no such process"


def _refused(request: HttpRequest, principal: Principal) -> HttpResponse | None:
    """A client goes home; provider people who do not read plans get a 403 page."""
    if not principal.is_provider:
        return redirect("home")
    if not principal.has_role(*selectors.READERS):
        return render(request, NOT_ALLOWED, status=403)
    return None


def _local(moment: datetime, tz: ZoneInfo) -> str:
    return moment.astimezone(tz).strftime("%a %d %b %H:%M")


# ------------------------------------------------------------------ the list


def _next_monday(today: date) -> date:
    return today + timedelta(days=7 - today.weekday())


@member_required
def forecast_list(request: HttpRequest, principal: Principal) -> HttpResponse:
    """The forecasts, newest first, and a form to generate one."""
    if (refused := _refused(request, principal)) is not None:
        return refused
    processes = list(selectors.processes_for_planning(principal=principal).select_related("client"))
    form: Mapping[str, str] = request.POST if request.method == "POST" else {}
    problems: dict[str, str] = {}
    status = 200
    if request.method == "POST":
        try:
            forecast = _generate(principal, processes, form)
        except errors.OffloadError as exc:
            problems, status = errors.form_errors(exc), exc.status
        else:
            return redirect("forecast_detail", pk=forecast.pk)
    forecasts = selectors.forecast_list(principal=principal).order_by("-id")[:LIST_SIZE]
    today = selectors.today_of(principal.organisation)
    context = {
        "forecasts": forecasts,
        "processes": processes,
        "form": form,
        "problems": problems,
        "default_start": _next_monday(today).isoformat(),
        "horizon_max": services.HORIZON_DAYS_MAX,
    }
    return render(request, "workforce/forecast_list.html", context, status=status)


def _generate(principal: Principal, processes: list[Any], form: Mapping[str, str]) -> Forecast:
    problems: list[tuple[str, str | None]] = []
    process = next((p for p in processes if p.pk == posted_id(form.get("process", ""))), None)
    problems.append(("process_id", None if process is not None else NO_SUCH_PROCESS))
    start_date = posted_date(form.get("start_date", ""), "start_date", problems)
    days = posted_id(form.get("days", ""))
    problems.append(("days", None if days is not None else BAD_NUMBER))
    errors.raise_failures(problems)
    assert process is not None
    assert start_date is not None
    assert days is not None
    return services.forecast_create(
        actor=principal, process=process, start_date=start_date, days=days
    )


# ------------------------------------------------------------------ one forecast


def _chart(view: selectors.ForecastView, tz: ZoneInfo) -> dict[str, list[Any]]:
    rows = view.intervals
    return {
        "labels": [_local(i.start, tz) for i in rows],
        "volume_base": [round(i.volume_base, 2) for i in rows],
        "volume": [round(i.volume, 2) for i in rows],
        "last_week": [i.last_week_volume for i in rows],
        "actual": [i.actual_volume for i in rows],
        "aht_base": [round(i.aht_base, 1) for i in rows],
        "aht": [round(i.aht_s, 1) for i in rows],
        "agents": [i.agents for i in rows],
    }


def _parse_local(value: str, tz: ZoneInfo) -> datetime:
    return datetime.fromisoformat(value).replace(tzinfo=tz)


def _adjust(principal: Principal, forecast: Forecast, form: Mapping[str, str]) -> None:
    tz = ZoneInfo(forecast.provider.timezone)
    problems: list[tuple[str, str | None]] = []
    moments: dict[str, datetime] = {}
    for name in ("start", "end"):
        try:
            moments[name] = _parse_local(form.get(name, ""), tz)
        except ValueError:
            problems.append((name, BAD_DATETIME))
    series, kind = form.get("series", ""), form.get("kind", "")
    problems.append(("series", None if series in ForecastSeries.values else BAD_CHOICE))
    problems.append(("kind", None if kind in AdjustmentKind.values else BAD_CHOICE))
    value = Decimal(0)
    try:
        value = Decimal(form.get("value", "").strip())
        if not value.is_finite():
            raise InvalidOperation
    except InvalidOperation:
        problems.append(("value", BAD_NUMBER))
    errors.raise_failures(problems)
    services.forecast_adjustment_create(
        actor=principal,
        process=forecast.process,
        start=moments["start"],
        end=moments["end"],
        series=series,
        kind=kind,
        value=value.quantize(Decimal("0.01")),
        reason=form.get("reason", ""),
    )


@member_required
def forecast_detail(request: HttpRequest, principal: Principal, pk: int) -> HttpResponse:
    """A forecast: volume and AHT per interval (base, adjusted, last weeks' actuals) on
    a chart, the chosen model and WAPE per series, and the adjustments with a form."""
    forecast = get_visible_or_404(
        principal, Forecast.objects.select_related("process", "provider"), pk=pk
    )
    if (refused := _refused(request, principal)) is not None:
        return refused
    tz = ZoneInfo(forecast.provider.timezone)
    form: Mapping[str, str] = request.POST if request.method == "POST" else {}
    problems: dict[str, str] = {}
    status = 200
    if request.method == "POST":
        try:
            _adjust(principal, forecast, form)
        except errors.OffloadError as exc:
            problems, status = errors.form_errors(exc), exc.status
        else:
            return redirect(reverse("forecast_detail", args=[forecast.pk]) + "#adjustments")
    view = selectors.forecast_view(forecast=forecast)
    context = {
        "forecast": forecast,
        "view": view,
        "chart": _chart(view, tz),
        "tz": tz.key,
        "form": form,
        "problems": problems,
        "series_choices": ForecastSeries.choices,
        "kind_choices": AdjustmentKind.choices,
        "default_start": forecast.start.astimezone(tz).strftime("%Y-%m-%dT%H:%M"),
        "default_end": (forecast.start + timedelta(days=1))
        .astimezone(tz)
        .strftime("%Y-%m-%dT%H:%M"),
    }
    return render(request, "workforce/forecast_detail.html", context, status=status)


@member_required
def forecast_adjustment_delete(
    request: HttpRequest, principal: Principal, pk: int, adjustment_id: int
) -> HttpResponse:
    """Remove an adjustment (POST); a GET goes back to the forecast."""
    forecast = get_visible_or_404(principal, Forecast.objects.all(), pk=pk)
    adjustment = get_visible_or_404(
        principal,
        ForecastAdjustment.objects.filter(process_id=forecast.process_id),
        pk=adjustment_id,
    )
    if (refused := _refused(request, principal)) is not None:
        return refused
    if request.method == "POST":
        try:
            services.forecast_adjustment_delete(actor=principal, adjustment=adjustment)
        except errors.PermissionDenied:
            return render(request, NOT_ALLOWED, status=403)
    return redirect(reverse("forecast_detail", args=[forecast.pk]) + "#adjustments")


# ------------------------------------------------------------------ intraday


@member_required
def forecast_intraday(request: HttpRequest, principal: Principal) -> HttpResponse:
    """Today (or ?date=) of one process: arrivals against the forecast, the
    re-forecast of the rest of the day and the staffing gap per interval."""
    if (refused := _refused(request, principal)) is not None:
        return refused
    processes = list(
        selectors.processes_for_planning(principal=principal).select_related("client", "provider")
    )
    chosen = posted_id(request.GET.get("process", ""))
    process = next((p for p in processes if p.pk == chosen), processes[0] if processes else None)
    today = selectors.today_of(principal.organisation)
    problems: dict[str, str] = {}
    day = today
    if request.GET.get("date"):
        try:
            day = date.fromisoformat(request.GET["date"])
        except ValueError:
            problems["date"] = BAD_DATE
    view = selectors.intraday(process=process, day=day) if process is not None else None
    tz = ZoneInfo(process.provider.timezone if process else principal.organisation.timezone)
    chart = None
    if view is not None:
        chart = {
            "labels": [i.start.astimezone(tz).strftime("%H:%M") for i in view.intervals],
            "forecast": [
                None if i.forecast is None else round(i.forecast, 2) for i in view.intervals
            ],
            "actual": [i.actual for i in view.intervals],
            "reforecast": [round(i.reforecast, 2) for i in view.intervals],
            "required": [i.required for i in view.intervals],
            "scheduled": [i.scheduled for i in view.intervals],
        }
    context = {
        "processes": processes,
        "process": process,
        "day": day,
        "view": view,
        "chart": chart,
        "tz": tz.key,
        "problems": problems,
        "ratio_min": forecasting.RATIO_MIN,
        "ratio_max": forecasting.RATIO_MAX,
    }
    return render(request, "workforce/forecast_intraday.html", context)
