"""Registers the schedule models with the visibility rules (provider-owned), and the
actions of scheduling with their roles.

Schedules, shifts, templates, planning rules, contracts and time off are the
provider's own: no client sees any of them, not even its own provider's.
"""

from offload.tenancy import visibility
from offload.tenancy.models import Role
from offload.workforce import schedule_sweep  # noqa: F401  (registers workforce.schedule_recovery)
from offload.workforce.models import (
    AgentContract,
    Schedule,
    ScheduledShift,
    ShiftTemplate,
    SitePlanningRule,
    TimeOffRequest,
)

visibility.register(SitePlanningRule, visibility.owner_rule("provider"))
visibility.register(ShiftTemplate, visibility.owner_rule("provider"))
visibility.register(Schedule, visibility.owner_rule("provider"))
visibility.register(ScheduledShift, visibility.owner_rule("provider"))
visibility.register(AgentContract, visibility.owner_rule("provider"))
visibility.register(TimeOffRequest, visibility.owner_rule("provider"))

# Registered here rather than in tenancy's table, which never imports the apps above
# it: planners write schedules, templates, rosters and decide time off; an agent
# requests its own time off (schedule_services checks that it is its own).
visibility.PERMISSIONS.setdefault(
    "schedule.manage", frozenset({Role.ADMIN, Role.OPS_MANAGER, Role.WFM_PLANNER})
)
visibility.PERMISSIONS.setdefault(
    "time_off.request",
    frozenset({Role.ADMIN, Role.OPS_MANAGER, Role.WFM_PLANNER, Role.TEAM_LEAD, Role.AGENT}),
)
