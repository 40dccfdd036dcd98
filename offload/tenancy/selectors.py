"""Reads for tenancy, always through the visibility rules."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from offload.tenancy import visibility
from offload.tenancy.models import (
    ApiKey,
    AuditEvent,
    Membership,
    Notification,
    Organisation,
    Site,
    User,
)
from offload.tenancy.visibility import Principal


def organisation_list(*, principal: Principal, kind: str | None = None) -> QuerySet[Organisation]:
    qs = visibility.visible(principal, Organisation.objects.all())
    return qs.filter(kind=kind) if kind else qs


def site_list(*, principal: Principal, country: str | None = None) -> QuerySet[Site]:
    qs = visibility.visible(principal, Site.objects.select_related("provider"))
    return qs.filter(country=country) if country else qs


def user_list(*, principal: Principal, role: str | None = None) -> QuerySet[User]:
    memberships = Membership.objects.filter(organisation=principal.organisation)
    qs = visibility.visible(principal, User.objects.all()).prefetch_related(
        Prefetch("memberships", queryset=memberships, to_attr="org_memberships")
    )
    if role:
        qs = qs.filter(memberships__organisation=principal.organisation, memberships__role=role)
    return qs


def api_key_list(*, principal: Principal) -> QuerySet[ApiKey]:
    return visibility.visible(principal, ApiKey.objects.select_related("user"))


def audit_event_list(
    *, principal: Principal, object_type: str | None = None
) -> QuerySet[AuditEvent]:
    qs = visibility.visible(principal, AuditEvent.objects.all())
    return qs.filter(object_type=object_type) if object_type else qs


def roles_of(user: User, organisation: Organisation) -> list[str]:
    return sorted(
        Membership.objects.filter(user=user, organisation=organisation).values_list(
            "role", flat=True
        )
    )


# ------------------------------------------------------------------ notifications


def notification_list(*, principal: Principal, unread_only: bool = False) -> QuerySet[Notification]:
    """The principal's own inbox, newest first; an organisation's key has none."""
    qs = visibility.visible(principal, Notification.objects.all())
    return qs.filter(read_at__isnull=True) if unread_only else qs


def notification_unread_count(*, principal: Principal) -> int:
    """One COUNT on the unread index (the header's badge)."""
    if principal.user is None:
        return 0
    return notification_list(principal=principal, unread_only=True).count()
