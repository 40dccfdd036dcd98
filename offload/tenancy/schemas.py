from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from ninja import Schema
from pydantic import Field, StringConstraints

from offload.core.schemas import PatchIn, StrictIn
from offload.tenancy.models import ApiScope, OrganisationKind, Role

Slug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]*$", max_length=80)]
Name = Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]
Country = Annotated[str, StringConstraints(min_length=2, max_length=2)]
Currency = Annotated[str, StringConstraints(min_length=3, max_length=3)]
Language = Annotated[str, StringConstraints(min_length=2, max_length=2)]


class OrganisationOut(Schema):
    id: int
    kind: OrganisationKind
    name: str
    slug: str
    country: str
    timezone: str
    currency: str
    created_at: datetime


class OrganisationIn(StrictIn):
    kind: Literal[OrganisationKind.CLIENT] = OrganisationKind.CLIENT
    name: Name
    slug: Slug | None = None
    country: Country
    timezone: str
    currency: Currency


class OrganisationPatch(PatchIn):
    name: Name | None = None
    slug: Slug | None = None
    country: Country | None = None
    timezone: str | None = None
    currency: Currency | None = None


class OrganisationFilter(Schema):
    kind: OrganisationKind | None = None


class SiteOut(Schema):
    id: int
    provider_id: int
    name: str
    slug: str
    country: str
    timezone: str
    languages: list[str]
    hourly_cost: Decimal


class SiteIn(StrictIn):
    name: Name
    slug: Slug | None = None
    country: Country
    timezone: str
    languages: list[Language] = Field(default_factory=list)
    hourly_cost: Decimal = Field(ge=0, max_digits=12, decimal_places=2)


class SitePatch(PatchIn):
    name: Name | None = None
    slug: Slug | None = None
    country: Country | None = None
    timezone: str | None = None
    languages: list[Language] | None = None
    hourly_cost: Decimal | None = Field(default=None, ge=0, max_digits=12, decimal_places=2)


class UserOut(Schema):
    id: int
    username: str
    email: str
    first_name: str
    last_name: str
    is_bot: bool
    is_active: bool
    roles: list[str]


Username = Annotated[str, StringConstraints(pattern=r"^[\w.@+-]+$", min_length=1, max_length=150)]


class UserIn(StrictIn):
    username: Username
    email: str = ""
    first_name: str = ""
    last_name: str = ""
    password: Annotated[str, StringConstraints(min_length=10, max_length=200)] | None = None
    is_bot: bool = False
    roles: list[Role] = Field(min_length=1)


class UserPatch(PatchIn):
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    is_active: bool | None = None
    password: Annotated[str, StringConstraints(min_length=10, max_length=200)] | None = None
    roles: list[Role] | None = Field(default=None, min_length=1)


class ApiKeyOut(Schema):
    id: int
    name: str
    prefix: str
    scopes: list[str]
    user_id: int | None
    expires_at: datetime | None
    expired_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None
    created_at: datetime


class ApiKeyCreatedOut(ApiKeyOut):
    secret: str = Field(description="Shown once; store it now. Send as 'Authorization: Bearer'.")


class ApiKeyIn(StrictIn):
    name: Name
    scopes: list[ApiScope] = Field(min_length=1)
    user_id: int | None = None
    expires_at: datetime | None = None


class AuditEventOut(Schema):
    id: int
    seq: int
    created_at: datetime
    actor_label: str
    action: str
    object_type: str
    object_id: str
    changes: dict[str, list[object]]
    request_id: str
    ip: str | None


class NotificationOut(Schema):
    id: int
    kind: str
    title: str
    body: str
    link: str = Field(description="A path on this site (e.g. /items/123/), or empty")
    created_at: datetime
    read_at: datetime | None
    emailed_at: datetime | None


class NotificationFilter(Schema):
    unread: bool = Field(default=False, description="true: only the unread ones")


class NotificationUnreadCountOut(Schema):
    unread: int


class NotificationsMarkedOut(Schema):
    marked: int = Field(description="How many were unread and are now read")


class NotificationPreferencesOut(Schema):
    notify_by_email: bool = Field(description="Also e-mail each notification to `email`")
    email: str


class NotificationPreferencesPatch(PatchIn):
    notify_by_email: bool | None = None
