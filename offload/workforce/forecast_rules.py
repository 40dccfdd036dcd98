"""Registers the forecast models with the visibility rules (provider-owned), the
actions of forecasting with their roles, and the actuals sweep.

Actuals, forecasts, adjustments and staffing targets are the provider's own: no
client sees any of them, not even its own provider's.
"""

from offload.tenancy import visibility
from offload.tenancy.models import Role
from offload.workforce import forecast_sweep  # noqa: F401  (registers workforce.actuals)
from offload.workforce.models import (
    Forecast,
    ForecastAdjustment,
    ForecastInterval,
    IntervalActual,
    StaffingTarget,
)

visibility.register(IntervalActual, visibility.owner_rule("provider"))
visibility.register(Forecast, visibility.owner_rule("provider"))
visibility.register(ForecastInterval, visibility.owner_rule("provider"))
visibility.register(ForecastAdjustment, visibility.owner_rule("provider"))
visibility.register(StaffingTarget, visibility.owner_rule("provider"))

# Registered here rather than in tenancy's table, which never imports the apps above
# it: planners, ops managers and admins generate forecasts, adjust them and set
# staffing targets; team leads read them too (forecast_selectors.READERS).
visibility.PERMISSIONS.setdefault(
    "forecast.manage", frozenset({Role.ADMIN, Role.OPS_MANAGER, Role.WFM_PLANNER})
)
