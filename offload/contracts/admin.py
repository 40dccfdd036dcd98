from __future__ import annotations

from django.contrib import admin

from offload.contracts.models import (
    BusinessCalendar,
    ContractDocument,
    Engagement,
    Process,
    RateCard,
    SlaPolicy,
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


class SlaTargetInline(admin.TabularInline):  # type: ignore[type-arg]
    model = SlaTarget
    extra = 0
    exclude = ["client", "provider"]


@admin.register(SlaPolicy)
class SlaPolicyAdmin(AuditedAdmin):
    list_display = ["name", "slug", "version", "engagement", "superseded_by"]
    inlines = [SlaTargetInline]
    readonly_fields = ["version", "superseded_by"]


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
