"""Pages: the provider's roster of agents and bots (read-only; edits are the API and
the admin)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.cache import patch_vary_headers

from offload.core import errors, htmx
from offload.core.pagination import paginate
from offload.tenancy import selectors as tenancy_selectors
from offload.tenancy.pages import member_required
from offload.tenancy.visibility import Principal
from offload.workers import selectors
from offload.workers.models import Presence, WorkerKind

PAGE_SIZE = 100
# Longer digit strings than a bigint holds are not a site id; they filter nothing.
ID_DIGITS_MAX = 18


def _id(value: str) -> int | None:
    return int(value) if value.isdigit() and len(value) <= ID_DIGITS_MAX else None


@member_required
def worker_list(request: HttpRequest, principal: Principal) -> HttpResponse:
    """Agents and bots with presence since when, site, skills and load per channel.

    Clients never see workers (they see an item's assignee only): a client is sent home.
    """
    if not principal.is_provider:
        return redirect("home")
    params = request.GET
    presence, kind = params.get("presence", ""), params.get("kind", "")
    workers = selectors.worker_list(
        principal=principal,
        site_id=_id(params.get("site", "")),
        presence=presence if presence in Presence.values else None,
        kind=kind if kind in WorkerKind.values else None,
    )
    form_error = ""
    try:
        rows, next_cursor = paginate(workers, cursor=params.get("cursor"), limit=PAGE_SIZE)
    except errors.ValidationFailed as exc:
        rows, next_cursor, form_error = [], None, exc.detail
    context = {
        "workers": rows,
        "next_cursor": next_cursor,
        "filters": params,
        "sites": tenancy_selectors.site_list(principal=principal).filter(
            provider=principal.organisation
        ),
        "presences": Presence.choices,
        "kinds": WorkerKind.choices,
        "form_error": form_error,
    }
    template = (
        "workers/partials/_worker_rows.html"
        if htmx.is_fragment_request(request)
        else "workers/worker_list.html"
    )
    response = render(request, template, context)
    # The same URL answers a fragment or a page: caches must keep them apart.
    patch_vary_headers(response, ["HX-Request"])
    return response
