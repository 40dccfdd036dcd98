"""/api/v1 routes of workforce planning: forecasts.

`GET/POST /forecasts`, `GET /forecasts/{forecast_id}` (intervals with base,
adjustment and adjusted side by side), `GET /forecasts/{forecast_id}/requirements`,
`GET /forecasts/{forecast_id}/intraday`, `GET/POST /forecast-adjustments`,
`GET/DELETE /forecast-adjustments/{adjustment_id}`, `GET /staffing-targets`,
`GET /staffing-targets/{target_id}`, `PUT /processes/{process_id}/staffing-target`.

Everything here is the provider's own: a client's lists are empty and its lookups
404. See docs/forecasting.md.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import date, datetime

from django.http import HttpRequest
from ninja import Query, Router, Status

from offload.contracts.models import Process
from offload.core import errors
from offload.core.pagination import DEFAULT_LIMIT, page
from offload.core.schemas import Page as PageOf
from offload.core.schemas import resolve
from offload.tenancy import visibility
from offload.tenancy.api import principal_of
from offload.workforce import forecast_selectors as selectors
from offload.workforce import forecast_services as services
from offload.workforce.forecast_schemas import (
    AdjustmentFilter,
    AdjustmentIn,
    AdjustmentOut,
    ForecastDetailOut,
    ForecastFilter,
    ForecastIn,
    ForecastOut,
    IntradayOut,
    RequirementsOut,
    StaffingTargetIn,
    StaffingTargetOut,
)
from offload.workforce.models import Forecast, ForecastAdjustment, StaffingTarget

router = Router(tags=["workforce"])

OUTSIDE_HORIZON = "must be within the forecast's horizon"


def _process(request: HttpRequest, process_id: int) -> Process:
    principal = principal_of(request)
    return resolve(
        visibility.visible(principal, Process.objects.select_related("provider")),
        field="process_id",
        pk=process_id,
    )


def _detail(forecast: Forecast) -> dict[str, object]:
    view = selectors.forecast_view(forecast=forecast)
    out = ForecastOut.from_orm(forecast).model_dump()
    out["target"] = asdict(view.target)
    out["adjustments"] = view.adjustments
    out["intervals"] = [
        {
            **asdict(i),
            "volume_adjustment": i.volume - i.volume_base,
            "aht_adjustment": i.aht_s - i.aht_base,
        }
        for i in view.intervals
    ]
    return out


# ------------------------------------------------------------------ forecasts


@router.get("/forecasts", response=PageOf[ForecastOut])
def forecast_list(
    request: HttpRequest,
    filters: Query[ForecastFilter],
    cursor: str | None = None,
    limit: int = DEFAULT_LIMIT,
) -> dict[str, object]:
    qs = selectors.forecast_list(principal=principal_of(request), **filters.model_dump())
    return page(qs, cursor=cursor, limit=limit)


@router.post("/forecasts", response={202: ForecastOut})
def forecast_create(request: HttpRequest, payload: ForecastIn) -> Status[Forecast]:
    """Queue a forecast; it is generated in the background. Poll its `status`
    (queued, running, ready, failed)."""
    principal = principal_of(request)
    process = _process(request, payload.process_id)
    forecast = services.forecast_create(
        actor=principal, process=process, start_date=payload.start_date, days=payload.days
    )
    return Status(202, selectors.forecast_get(principal=principal, forecast_id=forecast.pk))


@router.get("/forecasts/{forecast_id}", response=ForecastDetailOut)
def forecast_get(request: HttpRequest, forecast_id: int) -> dict[str, object]:
    forecast = selectors.forecast_get(principal=principal_of(request), forecast_id=forecast_id)
    return _detail(forecast)


@router.get("/forecasts/{forecast_id}/requirements", response=RequirementsOut)
def forecast_requirements(
    request: HttpRequest,
    forecast_id: int,
    start: datetime | None = None,
    end: datetime | None = None,
) -> dict[str, object]:
    """Staffing requirements of the forecast's process per interval in [start, end)
    (the forecast's horizon unless given), from its current forecast."""
    forecast = selectors.forecast_get(principal=principal_of(request), forecast_id=forecast_id)
    start, end = start or forecast.start, end or forecast.end
    for name, value in (("start", start), ("end", end)):
        if value.tzinfo is None:
            raise errors.ValidationFailed.single(name, "needs a time zone (e.g. Z)")
    errors.raise_failures([("end", services.END_BEFORE_START if end <= start else None)])
    rows = selectors.staffing_requirements(
        provider=forecast.provider, start=start, end=end, process_ids=[forecast.process_id]
    )
    return {"items": [asdict(r) for r in rows]}


@router.get("/forecasts/{forecast_id}/intraday", response=IntradayOut)
def forecast_intraday(
    request: HttpRequest, forecast_id: int, date: date | None = None
) -> dict[str, object]:
    """One day of the forecast (today in the provider's time zone unless given): actual
    arrivals against it, the re-forecast of the rest of the day and the staffing gap."""
    forecast = selectors.forecast_get(principal=principal_of(request), forecast_id=forecast_id)
    day = date or selectors.today_of(forecast.provider)
    view = selectors.intraday(process=forecast.process, day=day, forecast=forecast)
    return {
        "process_id": forecast.process_id,
        "date": day,
        "start": view.start,
        "end": view.end,
        "ratio": view.ratio,
        "elapsed": view.elapsed,
        "target": asdict(view.target),
        "intervals": [asdict(i) for i in view.intervals],
    }


# ------------------------------------------------------------------ adjustments


@router.get("/forecast-adjustments", response=PageOf[AdjustmentOut])
def forecast_adjustment_list(
    request: HttpRequest,
    filters: Query[AdjustmentFilter],
    cursor: str | None = None,
    limit: int = DEFAULT_LIMIT,
) -> dict[str, object]:
    qs = selectors.adjustment_list(principal=principal_of(request), **filters.model_dump())
    return page(qs, cursor=cursor, limit=limit)


@router.get("/forecast-adjustments/{adjustment_id}", response=AdjustmentOut)
def forecast_adjustment_get(request: HttpRequest, adjustment_id: int) -> ForecastAdjustment:
    return selectors.adjustment_get(principal=principal_of(request), adjustment_id=adjustment_id)


@router.post("/forecast-adjustments", response={201: AdjustmentOut})
def forecast_adjustment_create(
    request: HttpRequest, payload: AdjustmentIn
) -> Status[ForecastAdjustment]:
    """A change to a process's forecasts over [start, end), applied when they are read:
    `percent` (+30 is 30 % more) or `absolute` (added to each interval; seconds for AHT)."""
    principal = principal_of(request)
    adjustment = services.forecast_adjustment_create(
        actor=principal,
        process=_process(request, payload.process_id),
        start=payload.start,
        end=payload.end,
        series=payload.series,
        kind=payload.kind,
        value=payload.value,
        reason=payload.reason,
    )
    return Status(201, selectors.adjustment_get(principal=principal, adjustment_id=adjustment.pk))


@router.delete("/forecast-adjustments/{adjustment_id}", response={204: None})
def forecast_adjustment_delete(request: HttpRequest, adjustment_id: int) -> Status[None]:
    principal = principal_of(request)
    adjustment = selectors.adjustment_get(principal=principal, adjustment_id=adjustment_id)
    services.forecast_adjustment_delete(actor=principal, adjustment=adjustment)
    return Status(204, None)


# ------------------------------------------------------------------ staffing targets


@router.get("/staffing-targets", response=PageOf[StaffingTargetOut])
def staffing_target_list(
    request: HttpRequest, cursor: str | None = None, limit: int = DEFAULT_LIMIT
) -> dict[str, object]:
    """The targets set per process; a process without one uses the defaults
    (docs/forecasting.md), shown with each forecast."""
    qs = selectors.staffing_target_list(principal=principal_of(request))
    return page(qs, cursor=cursor, limit=limit)


@router.get("/staffing-targets/{target_id}", response=StaffingTargetOut)
def staffing_target_get(request: HttpRequest, target_id: int) -> StaffingTarget:
    return selectors.staffing_target_get(principal=principal_of(request), target_id=target_id)


@router.put("/processes/{process_id}/staffing-target", response=StaffingTargetOut)
def staffing_target_set(
    request: HttpRequest, process_id: int, payload: StaffingTargetIn
) -> StaffingTarget:
    principal = principal_of(request)
    process = visibility.get_visible(
        principal, Process.objects.select_related("provider"), pk=process_id
    )
    target = services.staffing_target_set(
        actor=principal,
        process=process,
        service_level=payload.service_level,
        answer_target_s=payload.answer_target_s,
        shrinkage=payload.shrinkage,
        max_occupancy=payload.max_occupancy,
        patience_s=payload.patience_s,
    )
    return selectors.staffing_target_get(principal=principal, target_id=target.pk)
