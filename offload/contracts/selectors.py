"""Reads for the contract side, always through the visibility rules."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import OuterRef, Prefetch, QuerySet, Subquery
from django.utils import timezone

from offload.contracts import calendar_preview
from offload.contracts.models import (
    DEFAULT_ATTAINMENT_PERCENT,
    BusinessCalendar,
    Comparison,
    ContractDocument,
    Engagement,
    Metric,
    Process,
    RateCard,
    SlaPolicy,
    SlaRecompute,
    SlaTarget,
    SopVersion,
)
from offload.core import errors
from offload.sla import BusinessCalendar as BusinessTime
from offload.sla import spec as calendar_spec
from offload.tenancy import geography, visibility
from offload.tenancy.models import AuditEvent, Site
from offload.tenancy.visibility import Principal

SPEC_UNREADABLE = "this calendar's stored spec does not parse ({reason}); correct it first"


def engagement_list(*, principal: Principal, status: str | None = None) -> QuerySet[Engagement]:
    qs = visibility.visible(principal, Engagement.objects.select_related("client", "provider"))
    return qs.filter(status=status) if status else qs


def document_list(
    *,
    principal: Principal,
    engagement_id: int | None = None,
    kind: str | None = None,
    current_only: bool = False,
) -> QuerySet[ContractDocument]:
    qs = visibility.visible(principal, ContractDocument.objects.select_related("engagement"))
    if engagement_id:
        qs = qs.filter(engagement_id=engagement_id)
    if kind:
        qs = qs.filter(kind=kind)
    if current_only:
        qs = qs.filter(superseded_by__isnull=True)
    return qs


def calendar_list(
    *, principal: Principal, engagement_id: int | None = None
) -> QuerySet[BusinessCalendar]:
    qs = visibility.visible(principal, BusinessCalendar.objects.all())
    return qs.filter(engagement_id=engagement_id) if engagement_id else qs


def sla_policy_list(
    *, principal: Principal, engagement_id: int | None = None, current_only: bool = False
) -> QuerySet[SlaPolicy]:
    qs = visibility.visible(principal, SlaPolicy.objects.prefetch_related("targets"))
    if engagement_id:
        qs = qs.filter(engagement_id=engagement_id)
    if current_only:
        qs = qs.filter(superseded_by__isnull=True)
    return qs


# ------------------------------------------------------------------ calendar preview


@dataclass(frozen=True)
class CalendarPreview:
    calendar: BusinessCalendar
    timezone: str
    start: date
    days: list[calendar_preview.PreviewDay]


def calendar_preview_days(
    *,
    calendar: BusinessCalendar,
    start: date | None = None,
    days: int = calendar_preview.DEFAULT_DAYS,
    now: datetime | None = None,
) -> CalendarPreview:
    """`days` local dates of a calendar from `start` (today in its zone when None).

    A range outside the preview's years is a 422 naming the field; a stored spec that
    no longer parses (an admin edit bypasses the checks) is a 409 saying why.
    """
    try:
        parsed = calendar_spec.parse(calendar.spec)
    except calendar_spec.SpecError as exc:
        raise errors.Conflict(SPEC_UNREADABLE.format(reason=exc)) from exc
    if start is None:
        start = (now or timezone.now()).astimezone(ZoneInfo(parsed.timezone)).date()
    errors.raise_failures(calendar_preview.range_problems(start, days))
    engine = BusinessTime.from_spec(calendar.spec)
    return CalendarPreview(
        calendar=calendar,
        timezone=parsed.timezone,
        start=start,
        days=calendar_preview.preview_days(engine, parsed, start, days),
    )


# ------------------------------------------------------------------ SLA policy versions

# The audit actions that bring a policy version into being.
POLICY_CREATED = ("sla_policy.create", "sla_policy.revise", "admin.slapolicy.create")


@dataclass(frozen=True)
class TargetChange:
    """One target of a version against the version before: added (no `before`),
    removed (no `after`) or changed."""

    metric: str
    priority: str  # "" for every priority
    before: str | None
    after: str | None

    @property
    def metric_label(self) -> str:
        return str(Metric(self.metric).label)


@dataclass(frozen=True)
class PolicyVersion:
    policy: SlaPolicy
    created_by: str | None  # the audit trail's actor label; None if it has no entry
    changes: list[TargetChange]  # against the version before it; empty for the first


def describe_target(target: SlaTarget) -> str:
    """A target as a sentence: "within 4 business hours, credit 2.5 % of fees"."""
    text = (
        f"{target.get_comparison_display().lower()} {target.target_value.normalize():f}"
        f" {target.get_unit_display().lower()}"
    )
    if target.comparison == Comparison.WITHIN and (
        target.attainment_percent != DEFAULT_ATTAINMENT_PERCENT
    ):  # the default goes unsaid, so a change of it shows in the versions' diff
        text += f", for {target.attainment_percent.normalize():f} % of items"
    for terms in ("credit", "bonus"):
        percent = getattr(target, terms).get("percent_of_fees")
        if percent is not None:
            text += f", {terms} {percent} % of fees"
    if target.calendar is not None:
        text += f", on {target.calendar.name}"
    return text


def target_changes(older: SlaPolicy | None, newer: SlaPolicy) -> list[TargetChange]:
    """Which metric/priority targets changed between two versions, from what to what."""
    if older is None:
        return []
    before = {(t.metric, t.priority): describe_target(t) for t in older.targets.all()}
    after = {(t.metric, t.priority): describe_target(t) for t in newer.targets.all()}
    return [
        TargetChange(key[0], key[1], before.get(key), after.get(key))
        for key in sorted(before.keys() | after.keys())
        if before.get(key) != after.get(key)
    ]


def _creators(versions: list[SlaPolicy]) -> dict[int, str]:
    """Who made each version, from the audit trail of its client (one query)."""
    if not versions:
        return {}
    rows = (
        AuditEvent.objects.filter(
            organisation_id=versions[0].client_id,
            object_type=SlaPolicy._meta.label_lower,
            object_id__in=[str(v.pk) for v in versions],
            action__in=POLICY_CREATED,
        )
        .order_by("-seq")
        .values_list("object_id", "actor_label")
    )
    return {int(object_id): label for object_id, label in rows}  # the earliest wins


def sla_policy_versions(*, principal: Principal, policy: SlaPolicy) -> list[PolicyVersion]:
    """Every version of the policy's slug for its client, newest first, each with who
    made it and how its targets differ from the version before. Three queries."""
    qs = visibility.visible(
        principal,
        SlaPolicy.objects.filter(client_id=policy.client_id, slug=policy.slug)
        .select_related("calendar")
        .prefetch_related(
            Prefetch("targets", queryset=SlaTarget.objects.select_related("calendar"))
        )
        .order_by("-version"),
    )
    versions = list(qs)
    creators = _creators(versions)
    older: list[SlaPolicy | None] = [*versions[1:], None]
    return [
        PolicyVersion(policy=v, created_by=creators.get(v.pk), changes=target_changes(o, v))
        for v, o in zip(versions, older[: len(versions)], strict=True)
    ]


# ------------------------------------------------------------------ recompute requests


def sla_recompute_due(*, now: datetime) -> QuerySet[SlaRecompute]:
    """Recompute requests still to do and due by `now`, oldest first, for the work
    app's sweep to claim (offload.core.sweeps.claim_due) and mark done
    (services.sla_recompute_done) in one transaction."""
    return (
        SlaRecompute.objects.filter(done_at__isnull=True, due_at__lte=now)
        .select_related("policy", "calendar")
        .order_by("due_at", "id")
    )


def sla_policy_earlier_versions(*, policy: SlaPolicy) -> QuerySet[SlaPolicy]:
    """The versions of `policy`'s slug before it: a policy recompute moves their open
    items to `policy`."""
    return SlaPolicy.objects.filter(
        client_id=policy.client_id, slug=policy.slug, version__lt=policy.version
    )


def rate_card_list(*, principal: Principal, engagement_id: int | None = None) -> QuerySet[RateCard]:
    qs = visibility.visible(principal, RateCard.objects.all())
    return qs.filter(engagement_id=engagement_id) if engagement_id else qs


CURRENT_SOP = "current_sop"


def _current_sops() -> Prefetch[Any]:
    """Each process's latest SOP version only (not every version's body), into
    `process.current_sop` as a list of zero or one."""
    latest = SopVersion.objects.filter(process=OuterRef("process")).order_by("-version")
    return Prefetch(
        "sop_versions",
        queryset=SopVersion.objects.filter(version=Subquery(latest.values("version")[:1])),
        to_attr=CURRENT_SOP,
    )


def process_list(
    *, principal: Principal, engagement_id: int | None = None, channel: str | None = None
) -> QuerySet[Process]:
    """Processes with their current SOP prefetched: one query for any number of them."""
    qs = visibility.visible(
        principal,
        Process.objects.select_related("sla_policy", "client", "engagement").prefetch_related(
            _current_sops()
        ),
    )
    if engagement_id:
        qs = qs.filter(engagement_id=engagement_id)
    if channel:
        qs = qs.filter(channel=channel)
    return qs


def process_current_sop(process: Process) -> SopVersion | None:
    """The latest SOP version: from the prefetch of `process_list` if it ran, else one query."""
    prefetched: list[SopVersion] | None = getattr(process, CURRENT_SOP, None)
    if prefetched is not None:
        return prefetched[0] if prefetched else None
    return process.sop_versions.order_by("-version").first()


@dataclass(frozen=True)
class SiteShore:
    site: Site
    shore: geography.Shore


def engagement_site_shores(*, engagement: Engagement) -> list[SiteShore]:
    """Each of the provider's sites, classified onshore/nearshore/offshore for this client."""
    sites = Site.objects.filter(provider_id=engagement.provider_id).order_by("name")
    return [
        SiteShore(site, geography.classify(site.country, engagement.client.country))
        for site in sites
    ]
