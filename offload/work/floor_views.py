"""Page: the team lead's floor (`/floor/`), which refreshes itself.

The page's body is a partial that htmx fetches again every few seconds from the same
URL (docs/workspace.md); its reads are offload.work.floor, a fixed number of queries.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.cache import patch_vary_headers

from offload.core import htmx
from offload.tenancy.models import Role
from offload.tenancy.pages import member_required
from offload.tenancy.visibility import Principal
from offload.work import floor as floor_reads

# Who watches the floor; the other provider roles get a page that says so.
FLOOR_ROLES = frozenset({Role.ADMIN, Role.OPS_MANAGER, Role.TEAM_LEAD})
# How often the page fetches its body again, in seconds.
REFRESH_SECONDS = 5


@member_required
def floor(request: HttpRequest, principal: Principal) -> HttpResponse:
    """Queues, agents and bots of the provider, live. Clients are sent home."""
    if not principal.is_provider:
        return redirect("home")
    if not principal.has_role(*FLOOR_ROLES):
        return render(request, "work/floor_not_allowed.html", status=403)
    context = {
        "floor": floor_reads.floor_get(principal=principal),
        "refresh_seconds": REFRESH_SECONDS,
        "risk_minutes": int(floor_reads.SLA_RISK_WINDOW.total_seconds() // 60),
    }
    template = (
        "work/partials/_floor.html" if htmx.is_fragment_request(request) else "work/floor.html"
    )
    response = render(request, template, context)
    # The same URL answers a fragment or a page: caches must keep them apart.
    patch_vary_headers(response, ["HX-Request"])
    return response
