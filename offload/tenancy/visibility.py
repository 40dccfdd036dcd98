"""What a principal may see and do: the one place that decides.

Every API endpoint and page asks this module. Apps register each tenant-owned
model with a rule (from their AppConfig.ready), so this module never imports the
apps above it. Rules filter on columns every tenant-owned row carries (its client
and its provider), so scoping is one filter and the data can be sharded by client.

- A client principal sees rows of its own organisation only.
- A provider principal sees rows whose provider is its organisation, which are the
  rows of the clients of its engagements.
- Roles decide actions (`require`); an API key's scopes decide reads and writes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from django.core.exceptions import ImproperlyConfigured, ObjectDoesNotExist
from django.db.models import Exists, Model, OuterRef, Q, QuerySet

from offload.core import errors
from offload.tenancy.models import (
    CLIENT_ROLES,
    PROVIDER_ROLES,
    ApiKey,
    ApiScope,
    Membership,
    Organisation,
    OrganisationKind,
    Role,
    User,
)

M = TypeVar("M", bound=Model)


@dataclass(frozen=True)
class Principal:
    """Who is asking: a user in an organisation, or an API key (maybe acting as a user)."""

    organisation: Organisation
    user: User | None = None
    api_key: ApiKey | None = None
    roles: frozenset[str] = field(default_factory=frozenset)
    scopes: frozenset[str] = frozenset({ApiScope.READ, ApiScope.WRITE})

    @property
    def is_client(self) -> bool:
        return self.organisation.kind == OrganisationKind.CLIENT

    @property
    def is_provider(self) -> bool:
        return self.organisation.kind == OrganisationKind.PROVIDER

    @property
    def label(self) -> str:
        if self.api_key is not None:
            who = f" as {self.user.username}" if self.user is not None else ""
            return f"key:{self.api_key.prefix}{who}"
        return self.user.username if self.user is not None else "system"

    def has_role(self, *roles: str) -> bool:
        return not self.roles.isdisjoint(roles)


def principal_for_user(user: User, organisation: Organisation | None = None) -> Principal | None:
    """The principal of a signed-in user: their (first, or the named) organisation."""
    memberships = list(
        Membership.objects.filter(user=user).select_related("organisation").order_by("id")
    )
    if organisation is not None:
        memberships = [m for m in memberships if m.organisation_id == organisation.pk]
    if not memberships:
        return None
    org = memberships[0].organisation
    roles = frozenset(m.role for m in memberships if m.organisation_id == org.pk)
    return Principal(organisation=org, user=user, roles=roles)


def principal_for_api_key(key: ApiKey) -> Principal:
    """A key acting as a user carries that user's roles; an organisation key is an admin."""
    org = key.organisation
    if key.user is not None:
        roles = frozenset(
            Membership.objects.filter(user=key.user, organisation=org).values_list(
                "role", flat=True
            )
        )
    else:
        roles = frozenset(
            {Role.CLIENT_ADMIN if org.kind == OrganisationKind.CLIENT else Role.ADMIN}
        )
    return Principal(
        organisation=org, user=key.user, api_key=key, roles=roles, scopes=frozenset(key.scopes)
    )


# ---------------------------------------------------------------- row rules

Rule = Callable[[Principal], Q]
_rules: dict[type[Model], Rule] = {}
PartnerLookup = Callable[[Organisation], QuerySet[Organisation]]
_partner_lookups: list[PartnerLookup] = []


def register(model: type[Model], rule: Rule) -> None:
    _rules[model] = rule


def registered_models() -> list[type[Model]]:
    return list(_rules)


def register_partners(lookup: PartnerLookup) -> None:
    """Add a source of partner organisations (e.g. the other side of engagements)."""
    _partner_lookups.append(lookup)


def partner_ids(organisation: Organisation) -> QuerySet[Organisation, Any]:
    """Organisations on the other side of this one's relationships, as one subquery."""
    qs = Organisation.objects.filter(
        Q(onboarded_by=organisation) | Q(pk=organisation.onboarded_by_id or 0)
    )
    for lookup in _partner_lookups:
        qs = qs | lookup(organisation)
    return qs.values("pk")


def tenant_rule(client: str = "client", provider: str = "provider") -> Rule:
    """For rows that carry their client and provider organisations as columns."""

    def rule(principal: Principal) -> Q:
        column = client if principal.is_client else provider
        return Q(**{f"{column}_id": principal.organisation.pk})

    return rule


def owner_rule(owner: str, *, partners_see: bool = False) -> Rule:
    """For rows owned by one organisation; `partners_see` lets the other side read them."""

    def rule(principal: Principal) -> Q:
        own = Q(**{f"{owner}": principal.organisation.pk})
        if partners_see:
            return own | Q(**{f"{owner}__in": partner_ids(principal.organisation)})
        return own

    return rule


def visible(principal: Principal, queryset: QuerySet[M]) -> QuerySet[M]:
    """The rows of `queryset` this principal may see."""
    rule = _rules.get(queryset.model)
    if rule is None:
        raise ImproperlyConfigured(f"{queryset.model.__name__} has no visibility rule")
    return queryset.filter(rule(principal))


def get_visible(principal: Principal, queryset: QuerySet[M], **lookup: object) -> M:
    """One visible row, or NotFound: another client's row looks exactly like a missing one."""
    try:
        return visible(principal, queryset).get(**lookup)
    except (ObjectDoesNotExist, ValueError) as exc:
        raise errors.NotFound(f"{queryset.model._meta.verbose_name} not found") from exc


def can_see(principal: Principal, obj: Model) -> bool:
    return visible(principal, type(obj)._default_manager.filter(pk=obj.pk)).exists()


def user_rule(principal: Principal) -> Q:
    return Q(
        Exists(Membership.objects.filter(user=OuterRef("pk"), organisation=principal.organisation))
    )


def recipient_rule(principal: Principal) -> Q:
    """Notifications: the principal's user's own, of the principal's organisation only.
    An organisation's API key acts as no user and has no inbox."""
    if principal.user is None:
        return Q(pk__in=[])
    return Q(recipient=principal.user.pk, organisation=principal.organisation.pk)


# ---------------------------------------------------------------- actions

ROLE_REQUIRED = "requires one of the roles: {roles}"
SCOPE_REQUIRED = "this API key lacks the '{scope}' scope"

# action -> roles that may do it. Reads need membership only; the rows still go
# through the rules above. Client roles appear only where a client acts on its own
# organisation (its users, its keys, its signed documents).
PERMISSIONS: dict[str, frozenset[str]] = {
    "organisation.create": frozenset({Role.ADMIN}),
    "organisation.change": frozenset({Role.ADMIN, Role.CLIENT_ADMIN}),
    "site.manage": frozenset({Role.ADMIN}),
    "user.manage": frozenset({Role.ADMIN, Role.CLIENT_ADMIN}),
    "api_key.manage": frozenset({Role.ADMIN, Role.CLIENT_ADMIN}),
    "engagement.manage": frozenset({Role.ADMIN}),
    "document.manage": frozenset({Role.ADMIN, Role.CLIENT_ADMIN}),
    "sla_policy.manage": frozenset({Role.ADMIN, Role.OPS_MANAGER}),
    "calendar.manage": frozenset({Role.ADMIN, Role.OPS_MANAGER, Role.WFM_PLANNER}),
    "rate_card.manage": frozenset({Role.ADMIN, Role.FINANCE}),
    "process.manage": frozenset({Role.ADMIN, Role.OPS_MANAGER}),
    "audit.read": frozenset({Role.ADMIN, Role.CLIENT_ADMIN}),
    "queue.manage": frozenset({Role.ADMIN, Role.OPS_MANAGER}),
    # The provider's workers: agents and bots, their skills, certifications, capacity.
    "worker.manage": frozenset({Role.ADMIN, Role.OPS_MANAGER}),
    # A worker's presence: its own, by any of the provider's people and bots; anyone
    # else's needs worker.manage (offload.workers.services checks which).
    "worker.presence": PROVIDER_ROLES,
    # A client's webhook endpoints: its own admins, and the provider's admins for it.
    "webhook.manage": frozenset({Role.ADMIN, Role.CLIENT_ADMIN}),
    # A process's mailboxes (their addresses and IMAP credentials): the provider's admins.
    "mailbox.manage": frozenset({Role.ADMIN}),
    # What a policy's clocks do when they warn or breach: the provider's admins and
    # ops managers (the client reads its own rules).
    "escalation_rule.manage": frozenset({Role.ADMIN, Role.OPS_MANAGER}),
    # Every action on a work item, by the provider's people and bots.
    # Assign an item to a named worker, or take it from one (a supervisor's move).
    "work_item.assign": frozenset({Role.ADMIN, Role.OPS_MANAGER, Role.TEAM_LEAD}),
    "work_item.act": frozenset(
        {Role.ADMIN, Role.OPS_MANAGER, Role.TEAM_LEAD, Role.AGENT, Role.BOT}
    ),
    # The actions a client takes on its own items: comment, reply, resume, reopen, cancel.
    "work_item.client_act": frozenset({Role.CLIENT_ADMIN}),
    # Intake: a client's own admins and keys, and the provider's people and bots who
    # serve it (for its clients only; offload.work.intake checks which).
    "work_item.create": frozenset(
        {Role.ADMIN, Role.OPS_MANAGER, Role.TEAM_LEAD, Role.AGENT, Role.BOT, Role.CLIENT_ADMIN}
    ),
    # Freezing a closed month's SLA attainment for good (offload.work.attainment): the
    # provider's admins, ops managers and finance, who invoice from it.
    "attainment.freeze": frozenset({Role.ADMIN, Role.OPS_MANAGER, Role.FINANCE}),
    # One's own inbox and notification preferences: every member (the rows are the
    # principal's user's own; offload.tenancy.notifications checks that).
    "notification.own": PROVIDER_ROLES | CLIENT_ROLES,
}


def allowed(principal: Principal, action: str) -> bool:
    roles = PERMISSIONS[action]
    return principal.has_role(*roles) and ApiScope.WRITE in principal.scopes


def require(principal: Principal, action: str) -> None:
    """Raise PermissionDenied unless the principal's roles and scopes allow `action`."""
    if action != "audit.read" and ApiScope.WRITE not in principal.scopes:
        raise errors.PermissionDenied(SCOPE_REQUIRED.format(scope=ApiScope.WRITE))
    if action == "audit.read" and ApiScope.READ not in principal.scopes:
        raise errors.PermissionDenied(SCOPE_REQUIRED.format(scope=ApiScope.READ))
    roles = PERMISSIONS[action]
    if not principal.has_role(*roles):
        raise errors.PermissionDenied(ROLE_REQUIRED.format(roles=", ".join(sorted(roles))))


def require_read(principal: Principal) -> None:
    if ApiScope.READ not in principal.scopes:
        raise errors.PermissionDenied(SCOPE_REQUIRED.format(scope=ApiScope.READ))


def require_side(principal: Principal, kind: str) -> None:
    if principal.organisation.kind != kind:
        raise errors.PermissionDenied(f"only a {kind} organisation may do this")
