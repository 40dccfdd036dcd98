"""Writes for organisations, sites, users, roles and API keys. Each owns its transaction."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

from django.core.exceptions import FieldDoesNotExist
from django.db import IntegrityError, transaction
from django.db.models import DecimalField, Exists, Model, OuterRef, ProtectedError, Q
from django.utils import timezone
from django.utils.text import slugify

from offload.core import errors, sweeps
from offload.tenancy import audit, validators, visibility
from offload.tenancy.models import (
    CLIENT_ROLES,
    PROVIDER_ROLES,
    ApiKey,
    ApiScope,
    Membership,
    Organisation,
    OrganisationKind,
    Site,
    User,
)
from offload.tenancy.visibility import Principal

M = TypeVar("M", bound=Model)

SLUG_TAKEN = "'{slug}' is already in use"
ROLE_WRONG_SIDE = "'{role}' is not a role of a {kind} organisation"
NO_ROLES = "a member needs at least one role"
USERNAME_TAKEN = "'{username}' is already taken"
KEY_USER_NOT_MEMBER = "the key's user must be a member of the key's organisation"
BAD_SCOPE = "'{scope}' is not a scope; use read and/or write"
EXPIRY_IN_PAST = "must be in the future"
EXPIRY_NAIVE = "needs a time zone offset (e.g. 2030-01-01T00:00:00Z)"
SCOPE_BEYOND_OWN = "a key cannot grant '{scope}', which it lacks itself"
CLIENT_ONLY = "a provider may only onboard client organisations"
NEGATIVE_COST = "must not be negative"
NO_SLUG = "cannot be derived from the name; give a slug"
NOT_A_MEMBER = "user not found"
KEY_NOT_FOUND = "API key not found"
SITE_IN_USE = "workers still work at this site; move them to another site first"

KEY_PREFIX = "ofk"


def _org_checks(data: Mapping[str, Any]) -> list[tuple[str, str | None]]:
    out: list[tuple[str, str | None]] = []
    if "country" in data:
        out.append(("country", validators.country_error(data["country"])))
    if "timezone" in data:
        out.append(("timezone", validators.timezone_error(data["timezone"])))
    if "currency" in data:
        out.append(("currency", validators.currency_error(data["currency"])))
    if "languages" in data:
        out.extend(("languages", validators.language_error(lang)) for lang in data["languages"])
    return out


def _as_stored(model: type[Model], key: str, value: Any) -> Any:
    """`value` as the column will hold it, so an equal amount is not seen as a change."""
    try:
        field = model._meta.get_field(key)
    except FieldDoesNotExist:
        return value
    if isinstance(field, DecimalField) and value is not None and field.decimal_places is not None:
        try:
            return Decimal(str(value)).quantize(Decimal(1).scaleb(-field.decimal_places))
        except InvalidOperation:
            return value  # too many digits: left for the field's own check to refuse
    return value


def save_unique(obj: M, *, field: str, value: str, save: Callable[[], None]) -> M:
    """Save, turning a unique-constraint race on `field` into a 422 naming it."""
    try:
        with transaction.atomic():
            save()
    except IntegrityError as exc:
        raise errors.ValidationFailed.single(field, SLUG_TAKEN.format(slug=value)) from exc
    return obj


def update_model(
    *,
    actor: Principal | None,
    organisation: Organisation,
    obj: M,
    data: Mapping[str, Any],
    action: str,
) -> M:
    """Apply `data` to `obj`, save only what changed and audit the difference."""
    before = audit.snapshot(obj, list(data))
    for key, value in data.items():
        setattr(obj, key, _as_stored(type(obj), key, value))
    changes = audit.diff(before, audit.snapshot(obj, list(data)))
    if changes:
        if "slug" in changes:
            save_unique(obj, field="slug", value=str(data["slug"]), save=obj.save)
        else:
            obj.save(update_fields=[*changes, "updated_at"])
        audit.record(
            organisation=organisation, actor=actor, action=action, obj=obj, changes=changes
        )
    return obj


# ------------------------------------------------------------------ organisations

ORG_FIELDS = ["kind", "name", "slug", "country", "timezone", "currency"]


@transaction.atomic
def organisation_create(
    *,
    actor: Principal | None,
    kind: str,
    name: str,
    slug: str = "",
    country: str,
    timezone: str,
    currency: str,
) -> Organisation:
    """Create an organisation. A provider admin onboards clients; `actor=None` is the
    operator's bootstrap (demo, admin site)."""
    if actor is not None:
        visibility.require(actor, "organisation.create")
        if kind != OrganisationKind.CLIENT:
            raise errors.ValidationFailed.single("kind", CLIENT_ONLY)
    slug = slug or slugify(name)
    errors.raise_failures(
        [
            ("slug", None if slug else NO_SLUG),
            *_org_checks({"country": country, "timezone": timezone, "currency": currency}),
        ]
    )
    org = Organisation(
        kind=kind,
        name=name,
        slug=slug,
        country=country,
        timezone=timezone,
        currency=currency,
        onboarded_by=actor.organisation if actor is not None else None,
    )
    save_unique(org, field="slug", value=slug, save=org.save)
    audit.record_created(
        organisation=org,
        actor=actor,
        action="organisation.create",
        obj=org,
        fields=ORG_FIELDS,
    )
    return org


@transaction.atomic
def organisation_update(
    *, actor: Principal, organisation: Organisation, data: Mapping[str, Any]
) -> Organisation:
    visibility.require(actor, "organisation.change")
    if organisation.pk not in {actor.organisation.pk} and organisation.onboarded_by_id != (
        actor.organisation.pk
    ):
        raise errors.PermissionDenied(
            "only the organisation or its onboarding provider may edit it"
        )
    errors.raise_failures(_org_checks(data))
    return update_model(
        actor=actor,
        organisation=organisation,
        obj=organisation,
        data=data,
        action="organisation.update",
    )


# ------------------------------------------------------------------ sites

SITE_FIELDS = ["name", "slug", "country", "timezone", "languages", "hourly_cost"]


def _site_checks(data: Mapping[str, Any]) -> list[tuple[str, str | None]]:
    checks = _org_checks(data)
    if "hourly_cost" in data and Decimal(data["hourly_cost"]) < 0:
        checks.append(("hourly_cost", NEGATIVE_COST))
    return checks


@transaction.atomic
def site_create(
    *,
    actor: Principal | None,
    provider: Organisation,
    name: str,
    slug: str = "",
    country: str,
    timezone: str,
    languages: list[str],
    hourly_cost: Decimal,
) -> Site:
    if actor is not None:
        visibility.require(actor, "site.manage")
        visibility.require_side(actor, OrganisationKind.PROVIDER)
        provider = actor.organisation
    slug = slug or slugify(name)
    data = {"country": country, "timezone": timezone, "languages": languages}
    errors.raise_failures(
        [("slug", None if slug else NO_SLUG), *_site_checks({**data, "hourly_cost": hourly_cost})]
    )
    hourly_cost = _as_stored(Site, "hourly_cost", hourly_cost)
    site = Site(provider=provider, name=name, slug=slug, hourly_cost=hourly_cost, **data)
    save_unique(site, field="slug", value=slug, save=site.save)
    audit.record_created(
        organisation=provider,
        actor=actor,
        action="site.create",
        obj=site,
        fields=SITE_FIELDS,
    )
    return site


@transaction.atomic
def site_update(*, actor: Principal, site: Site, data: Mapping[str, Any]) -> Site:
    visibility.require(actor, "site.manage")
    if site.provider_id != actor.organisation.pk:
        raise errors.PermissionDenied("only the site's provider may edit it")
    errors.raise_failures(_site_checks(data))
    return update_model(
        actor=actor, organisation=site.provider, obj=site, data=data, action="site.update"
    )


@transaction.atomic
def site_delete(*, actor: Principal, site: Site) -> None:
    visibility.require(actor, "site.manage")
    if site.provider_id != actor.organisation.pk:
        raise errors.PermissionDenied("only the site's provider may delete it")
    audit.record_deleted(
        organisation=site.provider,
        actor=actor,
        action="site.delete",
        obj=site,
        fields=SITE_FIELDS,
    )
    try:
        with transaction.atomic():
            site.delete()
    except ProtectedError as exc:  # its workers (offload.workers) still name it
        raise errors.Conflict(SITE_IN_USE) from exc


# ------------------------------------------------------------------ users and roles


def _role_checks(organisation: Organisation, roles: Iterable[str]) -> list[tuple[str, str | None]]:
    roles = list(roles)
    allowed_roles = CLIENT_ROLES if organisation.kind == OrganisationKind.CLIENT else PROVIDER_ROLES
    checks: list[tuple[str, str | None]] = [("roles", None if roles else NO_ROLES)]
    checks.extend(
        (
            "roles",
            None if r in allowed_roles else ROLE_WRONG_SIDE.format(role=r, kind=organisation.kind),
        )
        for r in roles
    )
    return checks


def _require_member(user: User, organisation: Organisation) -> None:
    """A user outside the organisation looks exactly like a missing one."""
    if not Membership.objects.filter(user=user, organisation=organisation).exists():
        raise errors.NotFound(NOT_A_MEMBER)


def _set_roles(
    user: User, organisation: Organisation, roles: Iterable[str]
) -> dict[str, list[Any]]:
    current = set(
        Membership.objects.filter(user=user, organisation=organisation).values_list(
            "role", flat=True
        )
    )
    wanted = set(roles)
    Membership.objects.filter(
        user=user, organisation=organisation, role__in=current - wanted
    ).delete()
    Membership.objects.bulk_create(
        [Membership(user=user, organisation=organisation, role=r) for r in sorted(wanted - current)]
    )
    return audit.diff({"roles": sorted(current)}, {"roles": sorted(wanted)})


USER_FIELDS = ["username", "email", "first_name", "last_name", "is_bot", "is_active"]


@transaction.atomic
def user_create(
    *,
    actor: Principal | None,
    organisation: Organisation,
    username: str,
    roles: list[str],
    email: str = "",
    password: str | None = None,
    first_name: str = "",
    last_name: str = "",
    is_bot: bool = False,
) -> User:
    """Create a user as a member of `organisation` with the given roles."""
    if actor is not None:
        visibility.require(actor, "user.manage")
        organisation = actor.organisation
    errors.raise_failures(_role_checks(organisation, roles))
    user = User(
        username=username, email=email, first_name=first_name, last_name=last_name, is_bot=is_bot
    )
    if password and not is_bot:
        user.set_password(password)
    else:
        user.set_unusable_password()
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError as exc:
        raise errors.ValidationFailed.single(
            "username", USERNAME_TAKEN.format(username=username)
        ) from exc
    changes = audit.diff({}, audit.snapshot(user, USER_FIELDS))
    changes.update(_set_roles(user, organisation, roles))
    audit.record(
        organisation=organisation, actor=actor, action="user.create", obj=user, changes=changes
    )
    return user


@transaction.atomic
def user_update(
    *,
    actor: Principal,
    user: User,
    data: Mapping[str, Any],
    roles: list[str] | None = None,
    password: str | None = None,
) -> User:
    visibility.require(actor, "user.manage")
    org = actor.organisation
    _require_member(user, org)
    if roles is not None:
        errors.raise_failures(_role_checks(org, roles))
    before = audit.snapshot(user, list(data))
    for key, value in data.items():
        setattr(user, key, value)
    changes = audit.diff(before, audit.snapshot(user, list(data)))
    if password:
        user.set_password(password)
        changes["password"] = ["***", "***"]
    if changes:
        user.save()
    if roles is not None:
        changes.update(_set_roles(user, org, roles))
    if changes:
        audit.record(organisation=org, actor=actor, action="user.update", obj=user, changes=changes)
    return user


@transaction.atomic
def user_remove(*, actor: Principal, user: User) -> None:
    """Remove the user from the actor's organisation (and deactivate if that was the last)."""
    visibility.require(actor, "user.manage")
    org = actor.organisation
    _require_member(user, org)
    changes = _set_roles(user, org, [])
    if not Membership.objects.filter(user=user).exists():
        user.is_active = False
        user.save(update_fields=["is_active"])
        changes["is_active"] = [True, False]
    audit.record(organisation=org, actor=actor, action="user.remove", obj=user, changes=changes)


# ------------------------------------------------------------------ API keys


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


KEY_FIELDS = ["name", "prefix", "scopes", "expires_at", "user_id"]


@transaction.atomic
def api_key_create(
    *,
    actor: Principal | None,
    organisation: Organisation,
    name: str,
    scopes: list[str],
    user: User | None = None,
    expires_at: datetime | None = None,
) -> tuple[ApiKey, str]:
    """Create a key and return it with its secret, which is never stored or shown again."""
    if actor is not None:
        visibility.require(actor, "api_key.manage")
        organisation = actor.organisation
    checks: list[tuple[str, str | None]] = [
        ("scopes", None if s in ApiScope.values else BAD_SCOPE.format(scope=s)) for s in scopes
    ]
    checks.append(("scopes", None if scopes else "at least one scope is needed"))
    if actor is not None and actor.api_key is not None:
        # A key may hand on only what it holds.
        checks.extend(
            ("scopes", None if s in actor.scopes else SCOPE_BEYOND_OWN.format(scope=s))
            for s in sorted(set(scopes))
        )
    if expires_at is not None and timezone.is_naive(expires_at):
        checks.append(("expires_at", EXPIRY_NAIVE))
    elif expires_at is not None:
        checks.append(("expires_at", EXPIRY_IN_PAST if expires_at <= timezone.now() else None))
    if user is not None:
        member = Membership.objects.filter(user=user, organisation=organisation).exists()
        checks.append(("user_id", None if member else KEY_USER_NOT_MEMBER))
    errors.raise_failures(checks)
    prefix = secrets.token_hex(4)
    secret = f"{KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
    key = ApiKey.objects.create(
        organisation=organisation,
        user=user,
        name=name,
        prefix=prefix,
        digest=digest(secret),
        scopes=sorted(set(scopes)),
        expires_at=expires_at,
    )
    audit.record_created(
        organisation=organisation,
        actor=actor,
        action="api_key.create",
        obj=key,
        fields=KEY_FIELDS,
    )
    return key, secret


@transaction.atomic
def api_key_revoke(*, actor: Principal, key: ApiKey) -> ApiKey:
    visibility.require(actor, "api_key.manage")
    if key.organisation_id != actor.organisation.pk:
        raise errors.NotFound(KEY_NOT_FOUND)
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at", "updated_at"])
        audit.record(
            organisation=key.organisation,
            actor=actor,
            action="api_key.revoke",
            obj=key,
            changes={"revoked_at": [None, key.revoked_at.isoformat()]},
        )
    return key


# Touching last_used_at on every request would turn each read into a write.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def api_key_find(secret: str, *, now: datetime | None = None) -> ApiKey | None:
    """The live key with this secret, or None; reads only.

    A key acting as a user works only while that user is active and a member of the
    key's organisation: removing someone from an organisation silences their keys there.
    """
    now = now or timezone.now()
    still_member = Exists(
        Membership.objects.filter(user=OuterRef("user"), organisation=OuterRef("organisation"))
    )
    key = (
        ApiKey.objects.select_related("organisation", "user")
        .filter(digest=digest(secret), revoked_at__isnull=True, expired_at__isnull=True)
        .filter(Q(user__isnull=True) | still_member)
        .first()
    )
    if key is None or (key.expires_at is not None and key.expires_at <= now):
        return None
    if key.user is not None and not key.user.is_active:
        return None
    return key


def api_key_authenticate(secret: str, *, now: datetime | None = None) -> ApiKey | None:
    """The live key with this secret, or None; notes when it was last used."""
    now = now or timezone.now()
    key = api_key_find(secret, now=now)
    if key is not None:
        api_key_touch(key, now=now)
    return key


def api_key_touch(key: ApiKey, *, now: datetime) -> None:
    """Note the key's use, at most once per LAST_USED_RESOLUTION."""
    if key.last_used_at is None or now - key.last_used_at >= LAST_USED_RESOLUTION:
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
        key.last_used_at = now


EXPIRY_BATCH = 500


@sweeps.register("tenancy.api_key_expiry")
def api_keys_expire_due(now: datetime) -> int:
    """Mark keys whose expiry has passed, with an audit event each; returns how many."""
    with transaction.atomic():
        due = sweeps.claim_due(
            ApiKey.objects.filter(
                expires_at__lte=now, expired_at__isnull=True, revoked_at__isnull=True
            )
            .select_related("organisation")
            .order_by("expires_at"),
            limit=EXPIRY_BATCH,
        )
        for key in due:
            key.expired_at = now
            key.save(update_fields=["expired_at", "updated_at"])
            audit.record(
                organisation=key.organisation,
                actor=None,
                action="api_key.expire",
                obj=key,
                changes={"expired_at": [None, now.isoformat()]},
            )
    return len(due)
