"""Schemas of the forecasting API."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any

from ninja import Schema
from pydantic import AwareDatetime, Field

from offload.core.schemas import StrictIn
from offload.workforce.forecast_services import DAY_SECONDS, HORIZON_DAYS_MAX
from offload.workforce.models import AdjustmentKind, ForecastSeries, ForecastStatus

# An id that fits a bigint column, so a larger number is a 422 naming the field.
Id = Annotated[int, Field(ge=1, le=2**63 - 1)]
Fraction = Annotated[Decimal, Field(max_digits=4, decimal_places=3)]


class ForecastIn(StrictIn):
    process_id: Id
    start_date: date = Field(description="The first day, in the provider's time zone")
    days: int = Field(ge=1, le=HORIZON_DAYS_MAX, description="How many days to forecast")


class ForecastFilter(Schema):
    process_id: int | None = None
    status: ForecastStatus | None = None


class ForecastOut(Schema):
    id: int
    process_id: int
    process_name: str
    start: datetime
    end: datetime
    status: ForecastStatus
    error: str
    volume_model: str = Field(description="The model chosen for volume by the backtest")
    volume_wape: float | None = Field(description="Its WAPE on the held-out week")
    aht_model: str
    aht_wape: float | None
    backtest: dict[str, dict[str, float | None]] = Field(
        description="WAPE of every candidate per series"
    )
    history_start: datetime | None
    history_end: datetime | None
    generated_at: datetime | None
    created_by_id: int | None
    created_at: datetime

    @staticmethod
    def resolve_process_name(obj: Any) -> str:
        # A forecast, or the detail's dict (which already carries the name).
        return str(obj["process_name"] if isinstance(obj, dict) else obj.process.name)


class TargetOut(Schema):
    service_level: float
    answer_target_s: float
    max_occupancy: float | None
    shrinkage: float
    patience_s: float | None
    source: str = Field(description="stored, sla_policy (answer target from the SLA) or default")


class ForecastIntervalOut(Schema):
    start: datetime
    volume_base: float
    volume_adjustment: float = Field(description="adjusted - base")
    volume: float = Field(description="Adjusted")
    aht_base: float
    aht_adjustment: float
    aht_s: float = Field(description="Adjusted")
    agents: int = Field(description="On the phones (Erlang C on the adjusted values)")
    scheduled: int = Field(description="Agents grossed up by shrinkage")
    actual_volume: int | None
    actual_aht_s: float | None
    last_week_volume: int | None


class AdjustmentOut(Schema):
    id: int
    process_id: int
    start: datetime
    end: datetime
    series: ForecastSeries
    kind: AdjustmentKind
    value: Decimal
    reason: str
    created_by_id: int | None
    created_at: datetime


class ForecastDetailOut(ForecastOut):
    target: TargetOut
    adjustments: list[AdjustmentOut]
    intervals: list[ForecastIntervalOut]


class AdjustmentIn(StrictIn):
    process_id: Id
    start: AwareDatetime
    end: AwareDatetime
    series: ForecastSeries
    kind: AdjustmentKind
    value: Decimal = Field(max_digits=12, decimal_places=2)
    reason: str = Field(max_length=500)


class AdjustmentFilter(Schema):
    process_id: int | None = None


class RequirementOut(Schema):
    process_id: int
    start: datetime
    calls: float
    aht_s: float
    agents: int
    scheduled: int


class RequirementsOut(Schema):
    items: list[RequirementOut]


class IntradayIntervalOut(Schema):
    start: datetime
    forecast: float | None
    actual: int | None
    reforecast: float
    aht_s: float
    required: int
    scheduled: float
    gap: float
    elapsed: bool


class IntradayOut(Schema):
    process_id: int
    date: date
    start: datetime
    end: datetime
    ratio: float = Field(description="Actual over forecast arrivals so far (clamped)")
    elapsed: int
    target: TargetOut
    intervals: list[IntradayIntervalOut]


class StaffingTargetIn(StrictIn):
    service_level: Fraction = Field(gt=0, lt=1)
    answer_target_s: int = Field(ge=0, le=DAY_SECONDS)
    shrinkage: Fraction = Field(ge=0, lt=1)
    max_occupancy: Fraction | None = Field(default=None, gt=0, le=1, description="null: no cap")
    patience_s: int | None = Field(default=None, ge=1, le=DAY_SECONDS)


class StaffingTargetOut(Schema):
    id: int
    process_id: int
    service_level: Decimal
    answer_target_s: int
    shrinkage: Decimal
    max_occupancy: Decimal | None
    patience_s: int | None
    updated_at: datetime
