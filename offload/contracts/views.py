"""Pages: the home list, an organisation's engagements, processes and documents, a
calendar with its next days, and an SLA policy with its versions.

Every object a page shows is looked up through `offload.tenancy.visibility`, so
another client's URL answers 404 exactly like a missing one.
"""

from __future__ import annotations

import json
from datetime import date, timedelta

import markdown
import nh3
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.cache import patch_vary_headers

from offload.contracts import calendar_preview, selectors
from offload.contracts.models import (
    BusinessCalendar,
    ContractDocument,
    Engagement,
    Process,
    SlaPolicy,
)
from offload.core import errors, htmx
from offload.tenancy import selectors as tenancy_selectors
from offload.tenancy.models import Organisation, OrganisationKind
from offload.tenancy.pages import get_visible_or_404, member_required
from offload.tenancy.visibility import Principal


@member_required
def home(request: HttpRequest, principal: Principal) -> HttpResponse:
    if principal.is_client:
        return redirect("organisation_detail", slug=principal.organisation.slug)
    organisations = tenancy_selectors.organisation_list(principal=principal)
    engagements = selectors.engagement_list(principal=principal)
    return render(
        request,
        "contracts/home.html",
        {"organisations": organisations, "engagements": engagements},
    )


ORGANISATION_TABS = ("engagements", "processes", "documents")
TAB_LABELS = {
    "engagements": "Engagements",
    "processes": "Processes",
    "documents": "Contract documents",
}


@member_required
def organisation_detail(request: HttpRequest, principal: Principal, slug: str) -> HttpResponse:
    organisation = get_visible_or_404(principal, Organisation.objects.all(), slug=slug)
    side = "client" if organisation.kind == OrganisationKind.CLIENT else "provider"
    tab = request.GET.get("tab", "engagements")
    if tab not in ORGANISATION_TABS:
        tab = "engagements"
    # Only the shown tab's queryset is evaluated; the others stay lazy.
    rows: dict[str, QuerySet[Engagement] | QuerySet[Process] | QuerySet[ContractDocument]] = {
        "engagements": selectors.engagement_list(principal=principal),
        "processes": selectors.process_list(principal=principal),
        "documents": selectors.document_list(principal=principal, current_only=True),
    }
    context = {
        "organisation": organisation,
        "tab": tab,
        "tabs": [(name, TAB_LABELS[name]) for name in ORGANISATION_TABS],
        tab: rows[tab].filter(**{side: organisation}),
    }
    template = (
        "contracts/partials/_organisation_tabs.html"
        if htmx.is_fragment_request(request)
        else "contracts/organisation_detail.html"
    )
    response = render(request, template, context)
    # The same URL answers a fragment or a page: caches must keep them apart.
    patch_vary_headers(response, ["HX-Request"])
    return response


@member_required
def engagement_detail(request: HttpRequest, principal: Principal, pk: int) -> HttpResponse:
    engagement = get_visible_or_404(
        principal, Engagement.objects.select_related("client", "provider"), pk=pk
    )
    context = {
        "engagement": engagement,
        "documents": selectors.document_list(principal=principal, engagement_id=engagement.pk),
        "processes": selectors.process_list(principal=principal, engagement_id=engagement.pk),
        "policies": selectors.sla_policy_list(
            principal=principal, engagement_id=engagement.pk, current_only=True
        ),
        "rate_cards": selectors.rate_card_list(principal=principal, engagement_id=engagement.pk),
        "calendars": selectors.calendar_list(principal=principal, engagement_id=engagement.pk),
        "sites": selectors.engagement_site_shores(engagement=engagement),
    }
    return render(request, "contracts/engagement_detail.html", context)


def render_markdown(text: str) -> str:
    """SOPs are Markdown written by people; the HTML is sanitised before it is shown."""
    return nh3.clean(markdown.markdown(text, extensions=["tables", "fenced_code"]))


@member_required
def process_detail(request: HttpRequest, principal: Principal, pk: int) -> HttpResponse:
    process = get_visible_or_404(
        principal,
        Process.objects.select_related("engagement", "sla_policy", "client"),
        pk=pk,
    )
    sop = selectors.process_current_sop(process)
    return render(
        request,
        "contracts/process_detail.html",
        {
            "process": process,
            "sop": sop,
            "sop_html": render_markdown(sop.body) if sop else "",
            "item_schema": json.dumps(process.item_schema, indent=2, sort_keys=True),
        },
    )


@member_required
def document_detail(request: HttpRequest, principal: Principal, pk: int) -> HttpResponse:
    document = get_visible_or_404(
        principal,
        ContractDocument.objects.select_related("engagement", "superseded_by"),
        pk=pk,
    )
    return render(request, "contracts/document_detail.html", {"document": document})


# A calendar page shows a fortnight; its arrows move by one.
PREVIEW_DAYS = 14


def _start_param(raw: str | None) -> date | None:
    """The `start` of a calendar page, or None (today) if it is missing, not a date or
    outside the preview's years: a page falls back rather than failing."""
    try:
        start = date.fromisoformat(raw or "")
    except ValueError:
        return None
    return None if calendar_preview.range_problems(start, PREVIEW_DAYS) else start


@member_required
def calendar_detail(request: HttpRequest, principal: Principal, pk: int) -> HttpResponse:
    """A calendar: its spec and a fortnight of its days; htmx swaps the fortnight."""
    calendar = get_visible_or_404(
        principal, BusinessCalendar.objects.select_related("engagement", "client"), pk=pk
    )
    context: dict[str, object] = {
        "calendar": calendar,
        "spec": json.dumps(calendar.spec, indent=2, sort_keys=True),
    }
    try:
        preview = selectors.calendar_preview_days(
            calendar=calendar, start=_start_param(request.GET.get("start")), days=PREVIEW_DAYS
        )
    except errors.OffloadError as exc:  # a stored spec that no longer parses
        context["problem"] = exc.detail
    else:
        step = timedelta(days=PREVIEW_DAYS)
        context["preview"] = preview
        earlier, later = preview.start - step, preview.start + step
        context["earlier"] = None if _start_param(earlier.isoformat()) is None else earlier
        context["later"] = None if _start_param(later.isoformat()) is None else later
    template = (
        "contracts/partials/_calendar_preview.html"
        if htmx.is_fragment_request(request)
        else "contracts/calendar_detail.html"
    )
    response = render(request, template, context)
    patch_vary_headers(response, ["HX-Request"])
    return response


@member_required
def sla_policy_detail(request: HttpRequest, principal: Principal, pk: int) -> HttpResponse:
    """One version of a policy, and the history of its slug with what each changed."""
    policy = get_visible_or_404(
        principal,
        SlaPolicy.objects.select_related("engagement", "client", "calendar"),
        pk=pk,
    )
    versions = selectors.sla_policy_versions(principal=principal, policy=policy)
    shown = next(v for v in versions if v.policy.pk == policy.pk)
    return render(
        request,
        "contracts/sla_policy_detail.html",
        {"policy": policy, "shown": shown.policy, "versions": versions, "current": versions[0]},
    )
