"""The Django admin for the work app's configuration: escalation rules (saves audited,
checked as the service checks them) and SLA clocks, read-only (the clocks move only
through the item's events and the SLA sweep, offload.work.clocks)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest

from offload.tenancy.admin import AuditedAdmin
from offload.work import escalations
from offload.work.models import EscalationRule, SlaClock

# The service names the queue by its id; the form's field is the queue.
FORM_FIELD = {"move_to_queue_id": "move_to_queue"}


class EscalationRuleForm(forms.ModelForm):  # type: ignore[type-arg]
    """The rule as a whole, checked by the service's own rules (offload.work.escalations)."""

    class Meta:
        model = EscalationRule
        fields = [
            "client",
            "provider",
            "policy_slug",
            "metric",
            "on_percent",
            "raise_priority",
            "notify_team_leads",
            "move_to_queue",
            "notify_client",
            "is_active",
        ]

    def clean(self) -> dict[str, Any]:
        data: dict[str, Any] = super().clean() or {}
        client = data.get("client")
        if client is None or self.errors:
            return data
        values = {
            "policy_slug": data.get("policy_slug", ""),
            "metric": data.get("metric", ""),
            "on_percent": data.get("on_percent"),
            "raise_priority": bool(data.get("raise_priority")),
            "notify_team_leads": bool(data.get("notify_team_leads")),
            "move_to_queue": data.get("move_to_queue"),
            "notify_client": bool(data.get("notify_client")),
        }
        for problem in escalations.escalation_rule_problems(client.pk, values):
            self.add_error(FORM_FIELD.get(problem.field, problem.field), problem.message)
        return data


@admin.register(EscalationRule)
class EscalationRuleAdmin(AuditedAdmin):
    form = EscalationRuleForm
    list_display = [
        "policy_slug",
        "metric",
        "on_percent",
        "client",
        "raise_priority",
        "notify_team_leads",
        "move_to_queue",
        "notify_client",
        "is_active",
    ]
    list_filter = ["is_active", "metric", "client"]
    search_fields = ["policy_slug"]


@admin.register(SlaClock)
class SlaClockAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Read-only: a clock changes only with its item's events (docs/sla.md)."""

    list_display = ["item", "metric", "state", "priority", "due_at", "stopped_at", "breached"]
    list_filter = ["state", "metric", "breached", "client"]
    list_select_related = ["item"]
    search_fields = ["item__reference"]
    raw_id_fields = ["item"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
