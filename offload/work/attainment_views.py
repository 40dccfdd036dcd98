"""Page: SLA attainment by month (`/attainment/`), for a client's own engagements and
for the provider's.

Picking an engagement or a month swaps the panel (htmx, the same URL answering a
fragment); freezing a month is a plain POST to the same URL, through the same service
as the API (offload.work.attainment), so its checks and audit trail are the same.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import render
from django.utils.cache import patch_vary_headers

from offload.contracts.models import Engagement
from offload.core import errors, htmx
from offload.tenancy import visibility
from offload.tenancy.pages import get_visible_or_404, member_required
from offload.tenancy.visibility import Principal
from offload.work import attainment

BREACHES_SHOWN = 50


def _engagement(principal: Principal, params: QueryDict) -> Engagement | None:
    """The engagement asked for (404 if not visible), else the first visible one."""
    raw = params.get("engagement", "")
    qs = Engagement.objects.select_related("client")
    if raw:
        if not raw.isdigit():
            raise Http404("engagement not found")
        return get_visible_or_404(principal, qs, pk=int(raw))
    return visibility.visible(principal, qs).order_by("client__name", "name").first()


def _panel(
    principal: Principal, engagement: Engagement, month: date, cursor: str
) -> dict[str, Any]:
    result = attainment.attainment_get(principal=principal, engagement=engagement, month=month)
    try:
        breaches, next_cursor = attainment.newest_first(
            attainment.attainment_breaches(principal=principal, engagement=engagement, month=month),
            cursor=cursor or None,
            limit=BREACHES_SHOWN,
        )
    except errors.ValidationFailed:  # a cursor this page did not make: start over
        breaches, next_cursor = [], None
    closed = month < attainment.month_current()
    return {
        "result": result,
        "breaches": breaches,
        "next_cursor": next_cursor,
        "closed": closed,
        "can_freeze": (
            closed
            and not result.frozen
            and bool(result.lines)
            and visibility.allowed(principal, "attainment.freeze")
        ),
    }


@member_required
def attainment_page(request: HttpRequest, principal: Principal) -> HttpResponse:
    """An engagement's month: its lines against their targets and its breaches."""
    params = request.POST if request.method == "POST" else request.GET
    engagement = _engagement(principal, params)
    context: dict[str, Any] = {
        "engagements": visibility.visible(
            principal, Engagement.objects.select_related("client")
        ).order_by("client__name", "name"),
        "engagement": engagement,
        "problems": [],
        "error": "",
    }
    status = 200
    try:
        month = attainment.month_parse(params["month"]) if params.get("month") else None
    except errors.ValidationFailed as exc:
        context["problems"], status, month = exc.errors, 422, None
    month = month or attainment.month_current()
    context["month"] = month
    context["month_label"] = attainment.month_label(month)
    if engagement is not None and request.method == "POST" and status == 200:
        try:
            attainment.attainment_freeze(actor=principal, engagement=engagement, month=month)
            context["frozen_now"] = True
        except errors.PermissionDenied as exc:
            context["error"], status = exc.detail, 403
        except errors.Conflict as exc:
            context["error"], status = exc.detail, 409
    if engagement is not None:
        context.update(_panel(principal, engagement, month, params.get("cursor", "")))
    template = (
        "work/partials/_attainment.html"
        if htmx.is_fragment_request(request)
        else "work/attainment.html"
    )
    response = render(request, template, context, status=status)
    # The same URL answers a fragment or a page: caches must keep them apart.
    patch_vary_headers(response, ["HX-Request"])
    return response
