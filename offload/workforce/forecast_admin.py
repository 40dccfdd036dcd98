"""Django admin for the forecast models.

Forecasts and their intervals are generated (forecast_services), and actuals are
rolled up from the item events, so those are read-only here. Staffing targets and
adjustments are edited, with every save audited (AuditedAdmin).
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from offload.tenancy.admin import AuditedAdmin
from offload.workforce.models import (
    Forecast,
    ForecastAdjustment,
    IntervalActual,
    StaffingTarget,
)


class ReadOnlyAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Forecast)
class ForecastAdmin(ReadOnlyAdmin):
    list_display = ["id", "process", "start", "end", "status", "volume_model", "volume_wape"]
    list_filter = ["status", "provider", "volume_model", "aht_model"]
    search_fields = ["process__name", "process__slug"]


@admin.register(IntervalActual)
class IntervalActualAdmin(ReadOnlyAdmin):
    list_display = ["process", "start", "arrivals", "handled", "handle_seconds", "rolled_up_at"]
    list_filter = ["provider"]
    date_hierarchy = "start"

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(ForecastAdjustment)
class ForecastAdjustmentAdmin(AuditedAdmin):
    list_display = ["process", "start", "end", "series", "kind", "value", "reason", "created_by"]
    list_filter = ["provider", "series", "kind"]
    search_fields = ["reason", "process__name"]


@admin.register(StaffingTarget)
class StaffingTargetAdmin(AuditedAdmin):
    list_display = [
        "process",
        "service_level",
        "answer_target_s",
        "max_occupancy",
        "shrinkage",
        "patience_s",
    ]
    list_filter = ["provider"]
