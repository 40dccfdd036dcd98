"""Reads for the contract side, always through the visibility rules."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import OuterRef, Prefetch, QuerySet, Subquery

from offload.contracts.models import (
    BusinessCalendar,
    ContractDocument,
    Engagement,
    Process,
    RateCard,
    SlaPolicy,
    SopVersion,
)
from offload.tenancy import geography, visibility
from offload.tenancy.models import Site
from offload.tenancy.visibility import Principal


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
