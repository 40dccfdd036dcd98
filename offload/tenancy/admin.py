"""The Django admin for configuration. Saves are audited like service writes."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db import transaction
from django.db.models import Model
from django.forms import BaseInlineFormSet, ModelForm
from django.http import HttpRequest

from offload.tenancy import audit
from offload.tenancy.models import (
    ApiKey,
    AuditEvent,
    Membership,
    Organisation,
    Site,
    User,
)
from offload.tenancy.visibility import Principal


def organisation_of(obj: Model) -> Organisation | None:
    for attr in ("client", "organisation", "provider"):
        org = getattr(obj, attr, None)
        if isinstance(org, Organisation):
            return org
    return obj if isinstance(obj, Organisation) else None


class AuditedAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Records an AuditEvent for every admin save and delete, in the same transaction."""

    def save_model(self, request: HttpRequest, obj: Any, form: ModelForm, change: bool) -> None:  # type: ignore[type-arg]
        fields = list(form.changed_data)
        before = {f: form.initial.get(f) for f in fields} if change else {}
        with transaction.atomic():
            super().save_model(request, obj, form, change)
            org = organisation_of(obj)
            if org is not None and (fields or not change):
                actor = Principal(organisation=org, user=request.user)  # type: ignore[arg-type]
                after = {f: form.cleaned_data.get(f) for f in fields}
                action = f"{obj._meta.model_name}.{'update' if change else 'create'}"
                audit.record(
                    organisation=org,
                    actor=actor,
                    action=f"admin.{action}",
                    obj=obj,
                    changes=audit.diff(before, after),
                )

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        with transaction.atomic():
            org = organisation_of(obj)
            if org is not None:
                actor = Principal(organisation=org, user=request.user)  # type: ignore[arg-type]
                action = f"admin.{obj._meta.model_name}.delete"
                audit.record(organisation=org, actor=actor, action=action, obj=obj)
            super().delete_model(request, obj)


@admin.register(Organisation)
class OrganisationAdmin(AuditedAdmin):
    list_display = ["name", "slug", "kind", "country", "timezone", "currency"]
    list_filter = ["kind", "country"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}


@admin.register(Site)
class SiteAdmin(AuditedAdmin):
    list_display = ["name", "provider", "country", "timezone", "hourly_cost"]
    list_filter = ["provider", "country"]


class MembershipInline(admin.TabularInline):  # type: ignore[type-arg]
    model = Membership
    extra = 0


@admin.register(User)
class UserAdmin(DjangoUserAdmin):  # type: ignore[type-arg]
    list_display = ["username", "email", "first_name", "last_name", "is_bot", "is_active"]
    list_filter = ["is_bot", "is_active", "memberships__organisation", "memberships__role"]
    inlines = [MembershipInline]
    fieldsets = (*(DjangoUserAdmin.fieldsets or ()), ("Automation", {"fields": ("is_bot",)}))

    def save_formset(
        self,
        request: HttpRequest,
        form: ModelForm,  # type: ignore[type-arg]
        formset: BaseInlineFormSet,  # type: ignore[type-arg]
        change: bool,
    ) -> None:
        """Roles granted or taken here are access writes: audit them per organisation."""
        if formset.model is not Membership:
            super().save_formset(request, form, formset, change)
            return
        user = form.instance

        def roles_by_org() -> dict[int, list[str]]:
            out: dict[int, list[str]] = {}
            for org_id, role in Membership.objects.filter(user=user).values_list(
                "organisation_id", "role"
            ):
                out.setdefault(org_id, []).append(role)
            return {k: sorted(v) for k, v in out.items()}

        with transaction.atomic():
            before = roles_by_org()
            super().save_formset(request, form, formset, change)
            after = roles_by_org()
            for org in Organisation.objects.filter(pk__in=set(before) | set(after)):
                changes = audit.diff(
                    {"roles": before.get(org.pk, [])}, {"roles": after.get(org.pk, [])}
                )
                if changes:
                    actor = Principal(organisation=org, user=request.user)  # type: ignore[arg-type]
                    audit.record(
                        organisation=org,
                        actor=actor,
                        action="admin.user.roles",
                        obj=user,
                        changes=changes,
                    )

    def save_model(self, request: HttpRequest, obj: Any, form: ModelForm, change: bool) -> None:  # type: ignore[type-arg]
        """A user's own fields are access data too: audit them in each of their
        organisations' chains (a password change shows as changed, never its hash)."""
        fields = [f for f in form.changed_data if f not in {"password1", "password2"}]
        before = {f: form.initial.get(f) for f in fields} if change else {}
        after = {f: form.cleaned_data.get(f) for f in fields}
        changes = audit.diff(before, after)
        if "password" in changes or "password1" in form.changed_data:
            changes["password"] = ["***", "***"]
        with transaction.atomic():
            super().save_model(request, obj, form, change)
            if not changes:
                return
            orgs = Organisation.objects.filter(memberships__user=obj).distinct()
            for org in orgs:
                actor = Principal(organisation=org, user=request.user)  # type: ignore[arg-type]
                action = "admin.user.update" if change else "admin.user.create"
                audit.record(organisation=org, actor=actor, action=action, obj=obj, changes=changes)


@admin.register(ApiKey)
class ApiKeyAdmin(AuditedAdmin):
    """Keys are created through the API or CLI (the secret is shown once); here they are
    listed and revoked, and each change is audited like a service write."""

    list_display = [
        "name",
        "prefix",
        "organisation",
        "user",
        "scopes",
        "expires_at",
        "revoked_at",
        "last_used_at",
    ]
    list_filter = ["organisation"]
    readonly_fields = ["prefix", "digest", "last_used_at", "expired_at", "created_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = [
        "created_at",
        "organisation",
        "seq",
        "actor_label",
        "action",
        "object_type",
        "object_id",
    ]
    list_filter = ["organisation", "action"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
