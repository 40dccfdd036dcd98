"""The Django admin for workers. Saves are audited (AuditedAdmin); presence is not
edited here (it changes through the presence service, which logs every change), and
`load` belongs to the routing engine."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest

from offload.tenancy.admin import AuditedAdmin
from offload.workers import services
from offload.workers.models import PresenceChange, Worker, WorkerChannel, WorkerKind


class WorkerForm(forms.ModelForm):  # type: ignore[type-arg]
    class Meta:
        model = Worker
        fields = [
            "provider",
            "user",
            "kind",
            "site",
            "skills",
            "languages",
            "processes",
            "bot_mode",
            "concurrency",
            "is_active",
        ]

    def clean(self) -> dict[str, Any]:
        """The cross-organisation rules the model cannot state: a certified process of
        one of the provider's clients, a site and a user of the provider."""
        data: dict[str, Any] = super().clean() or {}
        provider = data.get("provider")
        if provider is None:
            return data
        foreign = [p.slug for p in data.get("processes") or [] if p.provider_id != provider.pk]
        if foreign:
            self.add_error(
                "processes",
                "; ".join(services.PROCESS_NOT_SERVED.format(process=s) for s in foreign),
            )
        site = data.get("site")
        if site is not None and site.provider_id != provider.pk:
            self.add_error("site", services.OTHER_PROVIDER_SITE)
        user = data.get("user")
        if user is not None and not user.memberships.filter(organisation=provider).exists():
            self.add_error("user", services.USER_NOT_MEMBER)
        elif user is not None and data.get("kind") == WorkerKind.BOT and not user.is_bot:
            self.add_error("user", services.NOT_A_BOT_USER)
        elif user is not None and data.get("kind") == WorkerKind.AGENT and user.is_bot:
            self.add_error("user", services.BOT_USER_AS_AGENT)
        return data


class WorkerChannelInline(admin.TabularInline):  # type: ignore[type-arg]
    model = WorkerChannel
    extra = 0
    readonly_fields = ["load"]


@admin.register(Worker)
class WorkerAdmin(AuditedAdmin):
    form = WorkerForm
    list_display = ["user", "kind", "provider", "site", "presence", "is_active"]
    list_filter = ["kind", "presence", "is_active", "provider", "site"]
    search_fields = ["user__username", "user__first_name", "user__last_name"]
    filter_horizontal = ["processes"]
    readonly_fields = ["presence", "presence_changed_at", "idle_since"]
    inlines = [WorkerChannelInline]


@admin.register(PresenceChange)
class PresenceChangeAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """The presence log, read-only: it is append-only."""

    list_display = ["at", "worker", "previous", "presence", "actor_label"]
    list_filter = ["provider", "presence"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
