"""The staffing calculator behind `POST /api/v1/workforce/erlang` and its page: who may
use it, and the answer for one queue-interval (Erlang C, and Erlang A when a patience
is given), with the curve around the required count.

Nothing is read or written: the answer is computed from the request alone.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from offload.core import errors
from offload.tenancy import visibility
from offload.tenancy.models import Role
from offload.tenancy.visibility import Principal
from offload.workforce import erlang

# Who plans staffing: the provider's planners, managers and team leads.
STAFFING_ROLES = frozenset({Role.ADMIN, Role.OPS_MANAGER, Role.WFM_PLANNER, Role.TEAM_LEAD})
NOT_A_PLANNER = "requires one of the roles: " + ", ".join(sorted(STAFFING_ROLES))
PROVIDER_ONLY = "only a provider organisation plans staffing"
# The calculator answers in one request: past this much traffic the answer is a
# planning error, not a queue (the formulas themselves go further).
MAX_TRAFFIC = 10_000
TOO_MUCH_TRAFFIC = "calls x aht_s / interval_s is {traffic:,.0f} Erlangs; at most {limit:,}"
# The curve: the required count, two below it and three above.
CURVE_BELOW, CURVE_ABOVE = 2, 3


def staffing_require(principal: Principal) -> None:
    """A provider principal with a planning role (and, for a key, the read scope:
    the calculator writes nothing)."""
    visibility.require_read(principal)
    if not principal.is_provider:
        raise errors.PermissionDenied(PROVIDER_ONLY)
    if not principal.has_role(*STAFFING_ROLES):
        raise errors.PermissionDenied(NOT_A_PLANNER)


@dataclass(frozen=True)
class StaffingRow:
    """One agent count's figures (Erlang C; `erlang_a` when a patience was given)."""

    agents: int
    scheduled_fte: int
    p_wait: float
    service_level: float
    asa_s: float | None  # None: no answer in finite time (agents <= traffic)
    occupancy: float
    meets_target: bool
    erlang_a: erlang.ErlangA | None


@dataclass(frozen=True)
class Staffing:
    traffic_erlangs: float
    agents: int
    scheduled_fte: int
    shrinkage: float
    required: StaffingRow
    curve: list[StaffingRow]


def _row(
    *,
    agents: int,
    calls: float,
    interval_s: float,
    aht_s: float,
    target_s: float,
    service_level: float,
    max_occupancy: float | None,
    patience_s: float | None,
    shrinkage: float,
) -> StaffingRow:
    traffic = calls * aht_s / interval_s
    sl = erlang.service_level(calls, interval_s, aht_s, agents, target_s)
    occ = erlang.occupancy(calls, interval_s, aht_s, agents)
    speed = erlang.asa(calls, interval_s, aht_s, agents)
    stable = traffic == 0 or agents > traffic
    return StaffingRow(
        agents=agents,
        scheduled_fte=erlang.scheduled_fte(agents, shrinkage),
        p_wait=erlang.erlang_c(traffic, agents),
        service_level=sl,
        asa_s=speed if math.isfinite(speed) else None,
        occupancy=occ,
        meets_target=stable
        and sl >= service_level
        and (max_occupancy is None or traffic <= max_occupancy * agents * (1 + 1e-9)),
        erlang_a=None
        if patience_s is None
        else erlang.erlang_a(calls, interval_s, aht_s, patience_s, agents, target_s),
    )


def staffing_calculate(
    *,
    calls: float,
    interval_s: float,
    aht_s: float,
    target_s: float,
    service_level: float,
    max_occupancy: float | None = None,
    patience_s: float | None = None,
    shrinkage: float | None = None,
) -> Staffing:
    """Agents required (Erlang C, with the occupancy cap), scheduled FTE after
    shrinkage, that count's figures and the curve around it.

    The inputs are checked by the formulas; a ValueError names its argument and
    becomes a 422 on that field.
    """
    traffic = calls * aht_s / interval_s if interval_s > 0 else 0.0
    if traffic > MAX_TRAFFIC:
        raise errors.ValidationFailed.single(
            "calls", TOO_MUCH_TRAFFIC.format(traffic=traffic, limit=MAX_TRAFFIC)
        )
    shrink = 0.0 if shrinkage is None else shrinkage
    try:
        agents = erlang.agents_required(
            calls, interval_s, aht_s, target_s, service_level, max_occupancy
        )
        curve = [
            _row(
                agents=n,
                calls=calls,
                interval_s=interval_s,
                aht_s=aht_s,
                target_s=target_s,
                service_level=service_level,
                max_occupancy=max_occupancy,
                patience_s=patience_s,
                shrinkage=shrink,
            )
            for n in range(max(0, agents - CURVE_BELOW), agents + CURVE_ABOVE + 1)
        ]
    except ValueError as exc:
        raise errors.ValidationFailed.single(_argument_of(str(exc)), str(exc)) from exc
    required = next(row for row in curve if row.agents == agents)
    return Staffing(
        traffic_erlangs=calls * aht_s / interval_s,
        agents=agents,
        scheduled_fte=required.scheduled_fte,
        shrinkage=shrink,
        required=required,
        curve=curve,
    )


ARGUMENTS = (
    "calls",
    "interval_s",
    "aht_s",
    "target_s",
    "service_level",
    "max_occupancy",
    "patience_s",
    "shrinkage",
)


def _argument_of(message: str) -> str:
    """The argument a formula's ValueError names (its message starts with it)."""
    return next((a for a in ARGUMENTS if message.startswith(a)), "body")
