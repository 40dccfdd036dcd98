"""Django admin for the schedule models.

Site planning rules, shift templates and agents' contracted hours are edited here,
every save audited (AuditedAdmin). Schedules and their shifts are the solver's and the
roster's answers, and time off is decided on its page or through the API (which
computes the coverage it costs), so those are read-only here.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from offload.tenancy.admin import AuditedAdmin
from offload.workforce.models import (
    AgentContract,
    Schedule,
    ScheduledShift,
    ShiftTemplate,
    SitePlanningRule,
    TimeOffRequest,
)


class _ReadOnly(admin.ModelAdmin):  # type: ignore[type-arg]
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(SitePlanningRule)
class SitePlanningRuleAdmin(AuditedAdmin):
    list_display = ["site", "max_days_per_week", "min_rest_hours", "opening_hours"]
    list_filter = ["provider"]


@admin.register(ShiftTemplate)
class ShiftTemplateAdmin(AuditedAdmin):
    list_display = [
        "name",
        "length_minutes",
        "break_minutes",
        "break_earliest_minutes",
        "break_latest_minutes",
        "start_step_minutes",
        "is_active",
    ]
    list_filter = ["provider", "is_active"]


@admin.register(AgentContract)
class AgentContractAdmin(AuditedAdmin):
    list_display = ["worker", "hours_per_week"]
    list_filter = ["provider"]


@admin.register(Schedule)
class ScheduleAdmin(_ReadOnly):
    list_display = ["name", "start", "days", "status", "solve_state", "shift_count", "total_cost"]
    list_filter = ["provider", "status", "solve_state"]


@admin.register(ScheduledShift)
class ScheduledShiftAdmin(_ReadOnly):
    list_display = ["schedule", "site", "process", "start", "end", "worker"]
    list_filter = ["provider", "site"]


@admin.register(TimeOffRequest)
class TimeOffRequestAdmin(_ReadOnly):
    list_display = ["worker", "start", "end", "status", "decided_by", "decided_at"]
    list_filter = ["provider", "status"]
