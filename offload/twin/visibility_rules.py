"""Registers the twin models with the visibility rules (provider-owned), and the
actions of the twin with their roles.

Scenarios and runs are the provider's own planning: no client sees any of them.
"""

from offload.tenancy import visibility
from offload.tenancy.models import Role
from offload.twin.models import Scenario, ScenarioRun

visibility.register(Scenario, visibility.owner_rule("provider"))
visibility.register(ScenarioRun, visibility.owner_rule("provider"))

# Registered here rather than in tenancy's table, which never imports the apps above
# it: planners, operations managers and admins build and run scenarios; team leads
# read them (offload.twin.selectors.require_reader).
MANAGE = "twin.manage"
visibility.PERMISSIONS.setdefault(
    MANAGE, frozenset({Role.ADMIN, Role.OPS_MANAGER, Role.WFM_PLANNER})
)
READERS = frozenset({Role.ADMIN, Role.OPS_MANAGER, Role.WFM_PLANNER, Role.TEAM_LEAD})
