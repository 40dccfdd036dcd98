"""Request and answer of the staffing calculator (`POST /api/v1/workforce/erlang`).

Times in seconds; service level, occupancy and shrinkage as fractions (0.8 is 80 %).
"""

from __future__ import annotations

from ninja import Schema
from pydantic import Field

from offload.core.schemas import StrictIn

DAY_S = 86_400
CALLS_MAX = 1_000_000


class StaffingIn(StrictIn):
    calls: float = Field(ge=0, le=CALLS_MAX, description="Calls offered in the interval")
    interval_s: float = Field(gt=0, le=DAY_S, description="Interval length, e.g. 1800")
    aht_s: float = Field(gt=0, le=DAY_S, description="Average handling time")
    target_s: float = Field(ge=0, le=DAY_S, description="Answer-time target, e.g. 20")
    service_level: float = Field(
        gt=0, le=1, description="Fraction to answer within target_s, e.g. 0.8"
    )
    max_occupancy: float | None = Field(
        default=None, gt=0, le=1, description="Highest occupancy allowed, e.g. 0.85"
    )
    patience_s: float | None = Field(
        default=None,
        gt=0,
        le=DAY_S,
        description="Mean patience before abandoning: adds the Erlang A figures",
    )
    shrinkage: float | None = Field(
        default=None, ge=0, lt=1, description="Fraction of paid time off the phones, e.g. 0.3"
    )


class ErlangAOut(Schema):
    p_wait: float = Field(description="Probability an arrival waits")
    abandon: float = Field(description="Probability an arrival abandons")
    service_level: float = Field(description="Answered within target_s, over all arrivals")
    asa_s: float = Field(description="Mean wait over all arrivals, answered or not")
    occupancy: float


class StaffingRowOut(Schema):
    agents: int
    scheduled_fte: int = Field(description="agents grossed up for shrinkage")
    p_wait: float = Field(description="Erlang C probability of waiting")
    service_level: float = Field(description="Answered within target_s")
    asa_s: float | None = Field(description="Average speed of answer; null when unbounded")
    occupancy: float
    meets_target: bool = Field(description="Service level reached, within max_occupancy")
    erlang_a: ErlangAOut | None = Field(description="With abandonment, when patience_s is given")


class StaffingOut(Schema):
    traffic_erlangs: float
    agents: int = Field(description="Fewest agents meeting the target (Erlang C)")
    scheduled_fte: int = Field(description="agents / (1 - shrinkage), rounded up")
    shrinkage: float
    p_wait: float
    service_level: float
    asa_s: float | None
    occupancy: float
    erlang_a: ErlangAOut | None
    curve: list[StaffingRowOut] = Field(description="agents - 2 to agents + 3")
