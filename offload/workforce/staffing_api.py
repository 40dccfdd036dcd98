"""/api/v1 routes of workforce planning: staffing (`POST /workforce/erlang`)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from django.http import HttpRequest
from ninja import Router

from offload.tenancy.api import principal_of
from offload.workforce import staffing_calculator
from offload.workforce.staffing_schemas import StaffingIn, StaffingOut

router = Router(tags=["workforce"])


@router.post("/workforce/erlang", response=StaffingOut)
def staffing_calculate(request: HttpRequest, payload: StaffingIn) -> dict[str, Any]:
    """Agents required for one queue-interval (Erlang C), scheduled FTE after
    shrinkage, that count's figures (and Erlang A's with a patience), and the curve
    from two agents fewer to three more. Provider planners, managers and team leads."""
    staffing_calculator.staffing_require(principal_of(request))
    staffing = staffing_calculator.staffing_calculate(**payload.model_dump())
    return staffing_out(staffing)


def staffing_out(staffing: staffing_calculator.Staffing) -> dict[str, Any]:
    required = asdict(staffing.required)
    return {
        "traffic_erlangs": staffing.traffic_erlangs,
        "agents": staffing.agents,
        "scheduled_fte": staffing.scheduled_fte,
        "shrinkage": staffing.shrinkage,
        **{k: required[k] for k in ("p_wait", "service_level", "asa_s", "occupancy")},
        "erlang_a": required["erlang_a"],
        "curve": [asdict(row) for row in staffing.curve],
    }
