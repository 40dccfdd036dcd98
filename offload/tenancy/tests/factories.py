"""Small builders for tenancy tests: organisations, users with roles, API keys."""

from __future__ import annotations

import itertools
from datetime import datetime
from decimal import Decimal

from django.test import Client

from offload.tenancy import services, visibility
from offload.tenancy.models import ApiKey, Organisation, OrganisationKind, Site, User
from offload.tenancy.visibility import Principal

_seq = itertools.count(1)


def make_provider(name: str = "", **overrides: str) -> Organisation:
    n = next(_seq)
    fields = {"country": "PH", "timezone": "Asia/Manila", "currency": "USD", **overrides}
    return services.organisation_create(
        actor=None, kind=OrganisationKind.PROVIDER, name=name or f"Provider {n}", **fields
    )


def make_client(name: str = "", **overrides: str) -> Organisation:
    n = next(_seq)
    fields = {"country": "US", "timezone": "America/New_York", "currency": "USD", **overrides}
    return services.organisation_create(
        actor=None, kind=OrganisationKind.CLIENT, name=name or f"Client {n}", **fields
    )


def make_user(
    organisation: Organisation, *roles: str, username: str = "", password: str = ""
) -> User:
    default_role = "client_admin" if organisation.kind == OrganisationKind.CLIENT else "admin"
    return services.user_create(
        actor=None,
        organisation=organisation,
        username=username or f"user{next(_seq)}",
        roles=list(roles) or [default_role],
        password=password or None,
        is_bot="bot" in roles,
    )


def make_principal(organisation: Organisation, *roles: str) -> Principal:
    user = make_user(organisation, *roles)
    principal = visibility.principal_for_user(user, organisation)
    assert principal is not None
    return principal


def make_api_key(
    organisation: Organisation,
    *,
    user: User | None = None,
    scopes: tuple[str, ...] = ("read", "write"),
    expires_at: datetime | None = None,
) -> tuple[ApiKey, str]:
    return services.api_key_create(
        actor=None,
        organisation=organisation,
        name=f"key {next(_seq)}",
        scopes=list(scopes),
        user=user,
        expires_at=expires_at,
    )


def make_key_principal(
    organisation: Organisation,
    *,
    user: User | None = None,
    scopes: tuple[str, ...] = ("read", "write"),
) -> Principal:
    """The principal of a new API key (an organisation key unless `user` is given)."""
    key, _ = make_api_key(organisation, user=user, scopes=scopes)
    return visibility.principal_for_api_key(key)


def make_site(provider: Organisation, **overrides: object) -> Site:
    fields: dict[str, object] = {
        "name": f"Site {next(_seq)}",
        "country": "PH",
        "timezone": "Asia/Manila",
        "languages": ["en"],
        "hourly_cost": Decimal("12.50"),
        **overrides,
    }
    return services.site_create(actor=None, provider=provider, **fields)  # type: ignore[arg-type]


def api_client(secret: str) -> Client:
    """A test client that sends the API key on every request."""
    return Client(headers={"Authorization": f"Bearer {secret}"})


def key_for(organisation: Organisation, *roles: str) -> str:
    """The secret of a key acting as a new user with `roles` (an org key if none)."""
    user = make_user(organisation, *roles) if roles else None
    return make_api_key(organisation, user=user)[1]
