"""REST endpoints for organisations, sites, users, API keys and the audit trail."""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Query, Router, Status

from offload.core.pagination import DEFAULT_LIMIT, page, paginate
from offload.core.schemas import Page, resolve
from offload.tenancy import selectors, services, visibility
from offload.tenancy.models import ApiKey, Organisation, Site, User
from offload.tenancy.schemas import (
    ApiKeyCreatedOut,
    ApiKeyIn,
    ApiKeyOut,
    AuditEventOut,
    OrganisationFilter,
    OrganisationIn,
    OrganisationOut,
    OrganisationPatch,
    SiteIn,
    SiteOut,
    SitePatch,
    UserIn,
    UserOut,
    UserPatch,
)
from offload.tenancy.visibility import Principal

router = Router(tags=["tenancy"])


def principal_of(request: HttpRequest) -> Principal:
    """The caller; reads need the key's read scope (writes are checked by the service)."""
    principal: Principal = request.auth  # type: ignore[attr-defined]
    if request.method in {"GET", "HEAD"}:
        visibility.require_read(principal)
    return principal


# ------------------------------------------------------------------ organisations


@router.get("/organisations", response=Page[OrganisationOut])
def organisation_list(
    request: HttpRequest,
    filters: Query[OrganisationFilter],
    cursor: str | None = None,
    limit: int = DEFAULT_LIMIT,
) -> dict[str, object]:
    qs = selectors.organisation_list(principal=principal_of(request), kind=filters.kind)
    return page(qs, cursor=cursor, limit=limit)


@router.get("/organisations/{org_id}", response=OrganisationOut)
def organisation_get(request: HttpRequest, org_id: int) -> Organisation:
    return visibility.get_visible(principal_of(request), Organisation.objects.all(), pk=org_id)


@router.post("/organisations", response={201: OrganisationOut})
def organisation_create(request: HttpRequest, payload: OrganisationIn) -> Status[Organisation]:
    org = services.organisation_create(
        actor=principal_of(request),
        kind=payload.kind,
        name=payload.name,
        slug=payload.slug or "",
        country=payload.country,
        timezone=payload.timezone,
        currency=payload.currency,
    )
    return Status(201, org)


@router.patch("/organisations/{org_id}", response=OrganisationOut)
def organisation_update(
    request: HttpRequest, org_id: int, payload: OrganisationPatch
) -> Organisation:
    principal = principal_of(request)
    org = visibility.get_visible(principal, Organisation.objects.all(), pk=org_id)
    return services.organisation_update(
        actor=principal, organisation=org, data=payload.model_dump(exclude_unset=True)
    )


# ------------------------------------------------------------------ sites


@router.get("/sites", response=Page[SiteOut])
def site_list(
    request: HttpRequest,
    country: str | None = None,
    cursor: str | None = None,
    limit: int = DEFAULT_LIMIT,
) -> dict[str, object]:
    qs = selectors.site_list(principal=principal_of(request), country=country)
    return page(qs, cursor=cursor, limit=limit)


@router.get("/sites/{site_id}", response=SiteOut)
def site_get(request: HttpRequest, site_id: int) -> Site:
    return visibility.get_visible(principal_of(request), Site.objects.all(), pk=site_id)


@router.post("/sites", response={201: SiteOut})
def site_create(request: HttpRequest, payload: SiteIn) -> Status[Site]:
    principal = principal_of(request)
    site = services.site_create(
        actor=principal,
        provider=principal.organisation,
        name=payload.name,
        slug=payload.slug or "",
        country=payload.country,
        timezone=payload.timezone,
        languages=payload.languages,
        hourly_cost=payload.hourly_cost,
    )
    return Status(201, site)


@router.patch("/sites/{site_id}", response=SiteOut)
def site_update(request: HttpRequest, site_id: int, payload: SitePatch) -> Site:
    principal = principal_of(request)
    site = visibility.get_visible(principal, Site.objects.all(), pk=site_id)
    return services.site_update(
        actor=principal, site=site, data=payload.model_dump(exclude_unset=True)
    )


@router.delete("/sites/{site_id}", response={204: None})
def site_delete(request: HttpRequest, site_id: int) -> Status[None]:
    principal = principal_of(request)
    site = visibility.get_visible(principal, Site.objects.all(), pk=site_id)
    services.site_delete(actor=principal, site=site)
    return Status(204, None)


# ------------------------------------------------------------------ users


def _user_out(user: User, principal: Principal) -> dict[str, object]:
    memberships = getattr(user, "org_memberships", None)
    roles = (
        sorted(m.role for m in memberships)
        if memberships is not None
        else selectors.roles_of(user, principal.organisation)
    )
    return {
        "id": user.pk,
        "username": user.username,
        "email": user.email,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "is_bot": user.is_bot,
        "is_active": user.is_active,
        "roles": roles,
    }


@router.get("/users", response=Page[UserOut])
def user_list(
    request: HttpRequest,
    role: str | None = None,
    cursor: str | None = None,
    limit: int = DEFAULT_LIMIT,
) -> dict[str, object]:
    principal = principal_of(request)
    items, next_cursor = paginate(
        selectors.user_list(principal=principal, role=role), cursor=cursor, limit=limit
    )
    return {"items": [_user_out(u, principal) for u in items], "next_cursor": next_cursor}


@router.get("/users/{user_id}", response=UserOut)
def user_get(request: HttpRequest, user_id: int) -> dict[str, object]:
    principal = principal_of(request)
    user = visibility.get_visible(principal, User.objects.all(), pk=user_id)
    return _user_out(user, principal)


@router.post("/users", response={201: UserOut})
def user_create(request: HttpRequest, payload: UserIn) -> Status[dict[str, object]]:
    principal = principal_of(request)
    user = services.user_create(
        actor=principal,
        organisation=principal.organisation,
        username=payload.username,
        email=payload.email,
        password=payload.password,
        first_name=payload.first_name,
        last_name=payload.last_name,
        is_bot=payload.is_bot,
        roles=[str(r) for r in payload.roles],
    )
    return Status(201, _user_out(user, principal))


@router.patch("/users/{user_id}", response=UserOut)
def user_update(request: HttpRequest, user_id: int, payload: UserPatch) -> dict[str, object]:
    principal = principal_of(request)
    user = visibility.get_visible(principal, User.objects.all(), pk=user_id)
    data = payload.model_dump(exclude_unset=True, exclude={"roles", "password"})
    user = services.user_update(
        actor=principal,
        user=user,
        data=data,
        roles=[str(r) for r in payload.roles] if payload.roles is not None else None,
        password=payload.password,
    )
    return _user_out(user, principal)


@router.delete("/users/{user_id}", response={204: None})
def user_remove(request: HttpRequest, user_id: int) -> Status[None]:
    principal = principal_of(request)
    user = visibility.get_visible(principal, User.objects.all(), pk=user_id)
    services.user_remove(actor=principal, user=user)
    return Status(204, None)


# ------------------------------------------------------------------ API keys


@router.get("/api-keys", response=Page[ApiKeyOut])
def api_key_list(
    request: HttpRequest, cursor: str | None = None, limit: int = DEFAULT_LIMIT
) -> dict[str, object]:
    principal = principal_of(request)
    visibility.require(principal, "api_key.manage")
    return page(selectors.api_key_list(principal=principal), cursor=cursor, limit=limit)


@router.get("/api-keys/{key_id}", response=ApiKeyOut)
def api_key_get(request: HttpRequest, key_id: int) -> ApiKey:
    principal = principal_of(request)
    key = visibility.get_visible(principal, ApiKey.objects.all(), pk=key_id)
    visibility.require(principal, "api_key.manage")
    return key


@router.post("/api-keys", response={201: ApiKeyCreatedOut})
def api_key_create(request: HttpRequest, payload: ApiKeyIn) -> Status[dict[str, object]]:
    principal = principal_of(request)
    user = None
    if payload.user_id is not None:
        user = resolve(
            visibility.visible(principal, User.objects.all()), field="user_id", pk=payload.user_id
        )
    key, secret = services.api_key_create(
        actor=principal,
        organisation=principal.organisation,
        name=payload.name,
        scopes=[str(s) for s in payload.scopes],
        user=user,
        expires_at=payload.expires_at,
    )
    out = ApiKeyOut.from_orm(key).model_dump()
    return Status(201, {**out, "secret": secret})


@router.delete("/api-keys/{key_id}", response=ApiKeyOut)
def api_key_revoke(request: HttpRequest, key_id: int) -> ApiKey:
    principal = principal_of(request)
    key = visibility.get_visible(principal, ApiKey.objects.all(), pk=key_id)
    return services.api_key_revoke(actor=principal, key=key)


# ------------------------------------------------------------------ audit trail


@router.get("/audit-events", response=Page[AuditEventOut])
def audit_event_list(
    request: HttpRequest,
    object_type: str | None = None,
    cursor: str | None = None,
    limit: int = DEFAULT_LIMIT,
) -> dict[str, object]:
    principal = principal_of(request)
    visibility.require(principal, "audit.read")
    qs = selectors.audit_event_list(principal=principal, object_type=object_type)
    return page(qs, cursor=cursor, limit=limit)
