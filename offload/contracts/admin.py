from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.forms import BaseInlineFormSet
from django.http import HttpRequest

from offload.contracts import services
from offload.contracts.models import (
    BusinessCalendar,
    ContractDocument,
    Engagement,
    Process,
    RateCard,
    SlaPolicy,
    SlaRecompute,
    SlaTarget,
    SopVersion,
)
from offload.tenancy.admin import AuditedAdmin


@admin.register(Engagement)
class EngagementAdmin(AuditedAdmin):
    list_display = ["name", "client", "provider", "status"]
    list_filter = ["status", "provider"]
    # Stage moves go through the lifecycle service (API or page), never a free edit.
    readonly_fields = ["status", "status_changed_at"]


@admin.register(ContractDocument)
class ContractDocumentAdmin(AuditedAdmin):
    list_display = ["title", "engagement", "kind", "version", "effective_from", "signed_on"]
    list_filter = ["kind", "engagement"]
    readonly_fields = ["version", "superseded_by"]


@admin.register(BusinessCalendar)
class BusinessCalendarAdmin(AuditedAdmin):
    list_display = ["name", "engagement", "client"]

    def save_model(
        self,
        request: HttpRequest,
        obj: BusinessCalendar,
        form: forms.ModelForm,  # type: ignore[type-arg]
        change: bool,
    ) -> None:
        super().save_model(request, obj, form, change)
        # The admin's change view is one transaction: the request goes with the edit.
        if change and "spec" in form.changed_data:
            services.sla_recompute_calendar(calendar=obj)


class SlaTargetInline(admin.TabularInline):  # type: ignore[type-arg]
    model = SlaTarget
    extra = 0
    exclude = ["client", "provider"]


class SlaPolicyForm(forms.ModelForm):  # type: ignore[type-arg]
    """The services' checks of pause statuses and warning thresholds, for admin edits."""

    def clean_pause_statuses(self) -> Any:
        value = self.cleaned_data["pause_statuses"]
        if problems := services.pause_status_problems(value):
            raise ValidationError(problems)
        return value

    def clean_warning_percents(self) -> Any:
        value = self.cleaned_data["warning_percents"]
        if problems := services.warning_percent_problems(value):
            raise ValidationError(problems)
        return value


@admin.register(SlaPolicy)
class SlaPolicyAdmin(AuditedAdmin):
    form = SlaPolicyForm
    list_display = [
        "name",
        "slug",
        "version",
        "engagement",
        "pause_statuses",
        "warning_percents",
        "superseded_by",
    ]
    inlines = [SlaTargetInline]
    readonly_fields = ["version", "superseded_by"]

    def save_related(
        self,
        request: HttpRequest,
        form: forms.ModelForm,  # type: ignore[type-arg]
        formsets: list[BaseInlineFormSet],  # type: ignore[type-arg]
        change: bool,
    ) -> None:
        super().save_related(request, form, formsets, change)
        # An edit here changes the version in place (the API makes a new one); its open
        # clocks are recomputed all the same, in the change view's transaction.
        if change and (form.has_changed() or any(f.has_changed() for f in formsets)):
            services.sla_recompute_policy(policy=form.instance)


@admin.register(SlaRecompute)
class SlaRecomputeAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Read-only: the services write these and the work app's sweep marks them done."""

    list_display = ["kind", "policy", "calendar", "client", "due_at", "done_at"]
    list_filter = ["kind", "client"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(RateCard)
class RateCardAdmin(AuditedAdmin):
    list_display = ["name", "engagement", "pricing_unit", "price", "currency"]


class SopInline(admin.StackedInline):  # type: ignore[type-arg]
    model = SopVersion
    extra = 0
    exclude = ["client", "provider"]
    readonly_fields = ["version", "author", "created_at"]


@admin.register(Process)
class ProcessAdmin(AuditedAdmin):
    list_display = ["name", "slug", "client", "channel", "pricing_unit", "sla_policy"]
    list_filter = ["client", "channel"]
    inlines = [SopInline]
