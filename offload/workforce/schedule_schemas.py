"""Schemas of the scheduling API: schedules, their shifts and coverage, shift
templates, time off, site planning rules and agents' contracts."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from ninja import Schema
from pydantic import Field

from offload.core.schemas import StrictIn
from offload.workforce.models import ScheduleStatus, SolveState, TimeOffStatus
from offload.workforce.schedule_services import (
    AGENTS_MAX,
    CONTRACT_HOURS_MAX,
    CONTRACT_HOURS_MIN,
    DAYS_MAX,
    MIN_REST_HOURS_MAX,
    REQUIREMENTS_MAX,
    WEEKDAYS,
)

Id = Annotated[int, Field(ge=1, le=2**63 - 1)]


class RequirementIn(StrictIn):
    process_id: Id
    start: datetime = Field(description="A 30-minute interval's start (with its offset)")
    agents: float = Field(ge=0, le=AGENTS_MAX, description="Agents to schedule")


class ScheduleIn(StrictIn):
    start: datetime = Field(description="The horizon's start, on a 30-minute boundary")
    days: int = Field(ge=1, le=DAYS_MAX)
    name: str = Field(default="", max_length=200)
    requirements: list[RequirementIn] | None = Field(
        default=None,
        max_length=REQUIREMENTS_MAX,
        description="Agents per process and interval; left out: the forecasts' requirements",
    )
    process_ids: list[Id] | None = Field(
        default=None, max_length=500, description="With the forecasts: only these processes"
    )
    random_seed: int = Field(default=0, ge=0, le=2**31 - 1)
    time_limit_s: float = Field(default=10.0, ge=1, le=120, description="The solver's limit")


class ScheduleOut(Schema):
    id: int
    name: str
    start: datetime
    end: datetime
    days: int
    status: ScheduleStatus
    solve_state: SolveState
    solver_status: str
    solve_error: str
    objective: float | None
    under_staffed: float = Field(description="Agent-intervals short of the requirement")
    shift_count: int
    unfilled_shifts: int = Field(description="Shifts without an agent")
    total_cost: Decimal
    cost_per_site: dict[str, Decimal] = Field(description="{site id: cost}")
    rostered_at: datetime | None
    published_at: datetime | None
    created_at: datetime


class ShiftOut(Schema):
    id: int
    schedule_id: int
    site_id: int
    process_id: int
    worker_id: int | None
    start: datetime
    end: datetime
    break_start: datetime | None
    break_end: datetime | None
    local_start: datetime = Field(description="The start in the site's time zone")

    @staticmethod
    def resolve_local_start(obj: Any) -> datetime:
        start: datetime = obj.start
        return start.astimezone(ZoneInfo(obj.site.timezone))


class CoverageRowOut(Schema):
    process_id: int
    start: datetime
    required: float
    scheduled: float


class CoverageOut(Schema):
    items: list[CoverageRowOut]


class ShiftTemplateIn(StrictIn):
    name: str = Field(min_length=1, max_length=120)
    length_minutes: int = Field(ge=60, le=720)
    break_minutes: int = Field(default=30, ge=0, le=120)
    break_earliest_minutes: int = Field(default=180, ge=0, le=720)
    break_latest_minutes: int = Field(default=300, ge=0, le=720)
    start_step_minutes: int = Field(default=30, ge=30, le=240)


class ShiftTemplateOut(Schema):
    id: int
    name: str
    length_minutes: int
    break_minutes: int
    break_earliest_minutes: int
    break_latest_minutes: int
    start_step_minutes: int
    is_active: bool


class TimeOffIn(StrictIn):
    worker_id: Id | None = Field(default=None, description="Left out: yourself")
    start: datetime
    end: datetime
    reason: str = Field(default="", max_length=500)


class TimeOffDecideIn(StrictIn):
    decision: Literal["approved", "rejected"]


class CoverageCostOut(Schema):
    process_id: int
    start: datetime
    required: float
    scheduled: float
    after: float


class TimeOffOut(Schema):
    id: int
    worker_id: int
    start: datetime
    end: datetime
    reason: str
    status: TimeOffStatus
    decided_by_id: int | None
    decided_at: datetime | None
    coverage_cost: list[CoverageCostOut] = Field(
        description="Intervals approving leaves below the requirement"
    )
    created_at: datetime


class TimeOffFilter(Schema):
    status: TimeOffStatus | None = None
    worker_id: Id | None = None


Clock = Annotated[str, Field(max_length=5, examples=["08:00"])]


class SitePlanningRuleIn(StrictIn):
    opening_hours: list[list[Clock] | None] = Field(
        min_length=WEEKDAYS,
        max_length=WEEKDAYS,
        description=(
            "7 days, Monday first, in the site's local time: [open, close] as HH:MM on "
            "the half hour, null for closed. A close before the open closes the next day "
            '(["22:00", "06:00"]); ["00:00", "24:00"] is open all day.'
        ),
    )
    max_days_per_week: int = Field(ge=1, le=WEEKDAYS)
    min_rest_hours: int = Field(ge=0, le=MIN_REST_HOURS_MAX, description="Between two shifts")


class SitePlanningRuleOut(Schema):
    id: int
    site_id: int
    timezone: str = Field(description="The site's zone, which the opening hours are in")
    opening_hours: list[list[str] | None] = Field(description="[] is open all week")
    max_days_per_week: int
    min_rest_hours: int
    updated_at: datetime

    @staticmethod
    def resolve_timezone(obj: Any) -> str:
        zone: str = obj.site.timezone
        return zone


class AgentContractIn(StrictIn):
    hours_per_week: int = Field(ge=CONTRACT_HOURS_MIN, le=CONTRACT_HOURS_MAX)


class AgentContractOut(Schema):
    id: int
    worker_id: int
    hours_per_week: int
    updated_at: datetime
