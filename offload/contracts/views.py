"""Pages: the home list, an organisation's engagements, processes and documents."""

from __future__ import annotations

import markdown
import nh3
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from offload.contracts import selectors
from offload.contracts.models import ContractDocument, Engagement, Process
from offload.core import errors
from offload.tenancy import selectors as tenancy_selectors
from offload.tenancy import visibility
from offload.tenancy.models import Organisation
from offload.tenancy.visibility import Principal


def _principal(request: HttpRequest) -> Principal:
    principal = visibility.principal_for_user(request.user)  # type: ignore[arg-type]
    if principal is None:
        raise Http404("You belong to no organisation.")
    return principal


def _get(principal: Principal, qs: object, **lookup: object) -> object:
    try:
        return visibility.get_visible(principal, qs, **lookup)  # type: ignore[arg-type]
    except errors.NotFound as exc:
        raise Http404(str(exc)) from exc


@login_required
def home(request: HttpRequest) -> HttpResponse:
    principal = _principal(request)
    if principal.is_client:
        return redirect("organisation_detail", slug=principal.organisation.slug)
    organisations = tenancy_selectors.organisation_list(principal=principal)
    engagements = selectors.engagement_list(principal=principal)
    return render(
        request,
        "contracts/home.html",
        {"organisations": organisations, "engagements": engagements},
    )


ORGANISATION_TABS = frozenset({"engagements", "processes", "documents"})


@login_required
def organisation_detail(request: HttpRequest, slug: str) -> HttpResponse:
    principal = _principal(request)
    organisation = _get(principal, Organisation.objects.all(), slug=slug)
    assert isinstance(organisation, Organisation)
    side = "client" if organisation.kind == "client" else "provider"
    engagements = selectors.engagement_list(principal=principal).filter(**{side: organisation})
    processes = selectors.process_list(principal=principal).filter(**{side: organisation})
    documents = selectors.document_list(principal=principal, current_only=True).filter(
        **{side: organisation}
    )
    tab = request.GET.get("tab", "engagements")
    if tab not in ORGANISATION_TABS:
        tab = "engagements"
    context = {
        "organisation": organisation,
        "engagements": engagements,
        "processes": processes,
        "documents": documents.select_related("engagement"),
        "tab": tab,
    }
    if request.headers.get("HX-Request"):
        return render(request, f"contracts/partials/_{tab}.html", context)
    return render(request, "contracts/organisation_detail.html", context)


@login_required
def engagement_detail(request: HttpRequest, pk: int) -> HttpResponse:
    principal = _principal(request)
    engagement = _get(principal, Engagement.objects.select_related("client", "provider"), pk=pk)
    assert isinstance(engagement, Engagement)
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


@login_required
def process_detail(request: HttpRequest, pk: int) -> HttpResponse:
    principal = _principal(request)
    process = _get(principal, Process.objects.select_related("engagement", "sla_policy"), pk=pk)
    assert isinstance(process, Process)
    sop = selectors.process_current_sop(process)
    return render(
        request,
        "contracts/process_detail.html",
        {"process": process, "sop": sop, "sop_html": render_markdown(sop.body) if sop else ""},
    )


@login_required
def document_detail(request: HttpRequest, pk: int) -> HttpResponse:
    principal = _principal(request)
    document = _get(principal, ContractDocument.objects.select_related("engagement"), pk=pk)
    return render(request, "contracts/document_detail.html", {"document": document})
