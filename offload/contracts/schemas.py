from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from ninja import Schema
from pydantic import Field, StringConstraints

from offload.contracts.calendar_preview import Reason
from offload.contracts.lifecycle import Stage
from offload.contracts.models import (
    DEFAULT_ATTAINMENT_PERCENT,
    Channel,
    Comparison,
    DocumentKind,
    Metric,
    PricingUnit,
    Priority,
    Unit,
    default_pause_statuses,
    default_warning_percents,
)
from offload.core.schemas import PatchIn, StrictIn
from offload.tenancy.geography import Shore
from offload.tenancy.schemas import Currency, Language, Name, Slug


class EngagementOut(Schema):
    id: int
    client_id: int
    provider_id: int
    name: str
    slug: str
    description: str
    status: Stage
    status_changed_at: datetime | None
    created_at: datetime


class EngagementIn(StrictIn):
    client_id: int
    name: Name
    slug: Slug | None = None
    description: str = ""


class EngagementPatch(PatchIn):
    name: Name | None = None
    slug: Slug | None = None
    description: str | None = None


class EngagementTransitionIn(StrictIn):
    status: Stage


class SiteShoreOut(Schema):
    site_id: int
    site: str
    country: str
    shore: Shore


class DocumentOut(Schema):
    id: int
    engagement_id: int
    kind: DocumentKind
    title: str
    version: int
    effective_from: date
    effective_to: date | None
    signed_on: date | None
    signed_by_client: str
    signed_by_provider: str
    body: str
    has_file: bool
    is_current: bool
    superseded_by_id: int | None

    @staticmethod
    def resolve_has_file(obj: Any) -> bool:
        return bool(obj.file)


# Who signed for a party; the column holds 200 characters.
SIGNATORY_MAX = 200
Signatory = Annotated[str, StringConstraints(max_length=SIGNATORY_MAX, strip_whitespace=True)]


class DocumentIn(StrictIn):
    engagement_id: int
    kind: DocumentKind
    title: Name
    effective_from: date
    effective_to: date | None = None
    signed_on: date | None = None
    signed_by_client: Signatory = ""
    signed_by_provider: Signatory = ""
    body: str = ""


class CalendarOut(Schema):
    id: int
    engagement_id: int
    name: str
    slug: str
    spec: dict[str, Any]


class CalendarIn(StrictIn):
    engagement_id: int
    name: Name
    slug: Slug | None = None
    spec: dict[str, Any] = Field(description="The business-calendar spec of docs/calendars.md")


class CalendarPatch(PatchIn):
    name: Name | None = None
    slug: Slug | None = None
    spec: dict[str, Any] | None = None


class CalendarDayOut(Schema):
    date: date
    weekday: Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    windows: list[tuple[str, str]] = Field(
        description='Open windows as local "HH:MM" pairs; "24:00" ends the day'
    )
    open_minutes: int = Field(description="Real minutes open (a clock change counts)")
    reason: Reason | None = Field(
        description="Why the day has no weekly hours or other ones; null on a working day"
    )
    holiday: str | None = Field(description="The public holiday's name, if the date is one")


class CalendarPreviewOut(Schema):
    calendar_id: int
    timezone: str
    start: date
    days: list[CalendarDayOut]


ATTAINMENT_HELP = (
    "Time metrics: the share of a month's measured items that must meet the target, 0-100"
)


class Terms(StrictIn):
    percent_of_fees: Decimal = Field(ge=0, le=100)


class SlaTargetIn(StrictIn):
    metric: Metric
    priority: Priority | None = None
    target_value: Decimal = Field(gt=0, max_digits=12, decimal_places=4)
    unit: Unit
    comparison: Comparison
    window: str = "monthly"
    calendar_id: int | None = None
    credit: Terms | None = None
    bonus: Terms | None = None
    attainment_percent: Decimal = Field(
        default=DEFAULT_ATTAINMENT_PERCENT,
        ge=0,
        le=100,
        max_digits=5,
        decimal_places=2,
        description=ATTAINMENT_HELP,
    )


class SlaTargetOut(Schema):
    metric: Metric
    priority: str | None
    target_value: Decimal
    unit: Unit
    comparison: Comparison
    window: str
    calendar_id: int | None
    credit: dict[str, Any]
    bonus: dict[str, Any]
    attainment_percent: Decimal = Field(description=ATTAINMENT_HELP)

    @staticmethod
    def resolve_priority(obj: Any) -> str | None:
        return obj.priority or None


class SlaPolicyOut(Schema):
    id: int
    engagement_id: int
    name: str
    slug: str
    version: int
    is_current: bool
    calendar_id: int
    pause_statuses: list[str]
    warning_percents: list[int]
    at_risk_percent: Decimal
    superseded_by_id: int | None
    targets: list[SlaTargetOut]


class SlaPolicyVersionOut(SlaPolicyOut):
    created_at: datetime
    created_by: str | None = Field(
        description="Who made this version, as the audit trail names them; null if unrecorded"
    )


PAUSE_STATUSES_HELP = "Statuses in which clocks pause: escalated, failed, waiting_on_client"
WARNING_PERCENTS_HELP = "Percents of a target at which a clock warns: 1-99, ascending, at most 5"


class SlaPolicyIn(StrictIn):
    engagement_id: int
    name: Name
    slug: Slug | None = None
    calendar_id: int
    pause_statuses: list[str] = Field(
        default_factory=default_pause_statuses, description=PAUSE_STATUSES_HELP
    )
    warning_percents: list[int] = Field(
        default_factory=default_warning_percents, description=WARNING_PERCENTS_HELP
    )
    at_risk_percent: Decimal = Field(default=Decimal(0), ge=0, le=100)
    targets: list[SlaTargetIn] = Field(min_length=1)


class SlaPolicyPatch(PatchIn):
    name: Name | None = None
    calendar_id: int | None = None
    pause_statuses: list[str] | None = Field(default=None, description=PAUSE_STATUSES_HELP)
    warning_percents: list[int] | None = Field(default=None, description=WARNING_PERCENTS_HELP)
    at_risk_percent: Decimal | None = Field(default=None, ge=0, le=100)
    targets: list[SlaTargetIn] | None = Field(default=None, min_length=1)


class Tier(StrictIn):
    from_volume: int = Field(ge=0)
    price: Decimal = Field(ge=0)


class RateCardOut(Schema):
    id: int
    engagement_id: int
    name: str
    slug: str
    pricing_unit: PricingUnit
    price: Decimal
    currency: str
    tiers: list[dict[str, Any]]
    minimum_monthly_fee: Decimal
    effective_from: date
    effective_to: date | None


class RateCardIn(StrictIn):
    engagement_id: int
    name: Name
    slug: Slug | None = None
    pricing_unit: PricingUnit
    price: Decimal = Field(ge=0, max_digits=14, decimal_places=4)
    currency: Currency
    tiers: list[Tier] = Field(default_factory=list)
    minimum_monthly_fee: Decimal = Field(default=Decimal(0), ge=0, max_digits=14, decimal_places=2)
    effective_from: date
    effective_to: date | None = None


class RateCardPatch(PatchIn):
    NULLABLE = frozenset({"effective_to"})

    name: Name | None = None
    slug: Slug | None = None
    price: Decimal | None = Field(default=None, ge=0, max_digits=14, decimal_places=4)
    tiers: list[Tier] | None = None
    minimum_monthly_fee: Decimal | None = Field(default=None, ge=0, max_digits=14, decimal_places=2)
    effective_to: date | None = None


SkillName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9_]+$", max_length=64)]


class ProcessOut(Schema):
    id: int
    engagement_id: int
    client_id: int
    name: str
    slug: str
    description: str
    channel: Channel
    required_skills: dict[str, int]
    languages: list[str]
    item_schema: dict[str, Any]
    pricing_unit: PricingUnit
    sla_policy_id: int | None
    max_system_retries: int
    reopen_window_hours: int
    wrap_up_seconds: int
    sop: str
    sop_version: int | None


class ProcessIn(StrictIn):
    engagement_id: int
    name: Name
    slug: Slug | None = None
    description: str = ""
    channel: Channel
    required_skills: dict[SkillName, int] = Field(default_factory=dict)
    languages: list[Language] = Field(default_factory=list)
    item_schema: dict[str, Any] = Field(default_factory=lambda: {"type": "object"})
    pricing_unit: PricingUnit = PricingUnit.PER_ITEM
    sla_policy_id: int | None = None
    max_system_retries: int = Field(default=3, ge=0, le=10)
    reopen_window_hours: int = Field(default=72, ge=0, le=24 * 365)
    wrap_up_seconds: int = Field(
        default=60, ge=0, le=3600, description="Longest wrap-up after completing an item"
    )
    sop: str = ""


class ProcessPatch(PatchIn):
    NULLABLE = frozenset({"sla_policy_id"})

    name: Name | None = None
    slug: Slug | None = None
    description: str | None = None
    channel: Channel | None = None
    required_skills: dict[SkillName, int] | None = None
    languages: list[Language] | None = None
    item_schema: dict[str, Any] | None = None
    pricing_unit: PricingUnit | None = None
    sla_policy_id: int | None = None
    max_system_retries: int | None = Field(default=None, ge=0, le=10)
    reopen_window_hours: int | None = Field(default=None, ge=0, le=24 * 365)
    wrap_up_seconds: int | None = Field(default=None, ge=0, le=3600)
    sop: str | None = None


class SopVersionOut(Schema):
    version: int
    body: str
    author_id: int | None
    created_at: datetime
