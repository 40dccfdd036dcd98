"""Pages: a client's webhook endpoints and each endpoint's delivery log.

The client portal shows a client its own endpoints; a provider's admins see those
of the clients they serve. Creating, editing, deleting and redelivering go through
the same services as the API (offload.work.webhooks), so the checks and the audit
trail are the same.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from offload.contracts.models import Engagement
from offload.core import errors, htmx
from offload.core.pagination import paginate
from offload.tenancy import visibility
from offload.tenancy.pages import get_visible_or_404, member_required
from offload.tenancy.visibility import Principal
from offload.work import webhooks
from offload.work.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint

PAGE_SIZE = 50


def _clients(principal: Principal) -> list[tuple[int, str]]:
    """The clients an endpoint may be made for: (id, name), from visible engagements."""
    engagements = visibility.visible(principal, Engagement.objects.select_related("client"))
    seen = {e.client_id: e.client.name for e in engagements}
    return sorted(seen.items(), key=lambda pair: pair[1])


def _event_types(params: Any) -> list[str]:
    chosen = params.getlist("event_types")
    return [webhooks.ALL] if webhooks.ALL in chosen else chosen


def _form_context(principal: Principal) -> dict[str, Any]:
    return {
        "can_manage": visibility.allowed(principal, "webhook.manage"),
        "clients": _clients(principal) if principal.is_provider else [],
        "event_types": sorted(webhooks.EVENT_TYPES),
    }


@member_required
def webhook_list(request: HttpRequest, principal: Principal) -> HttpResponse:
    """The endpoints, with their pending and dead deliveries; a form to add one."""
    context: dict[str, Any] = _form_context(principal)
    status = 200
    if request.method == "POST":
        params = request.POST
        raw_client = params.get("client_id", "")
        try:
            visibility.require(principal, "webhook.manage")
            client, provider = webhooks.client_and_provider(
                principal, int(raw_client) if raw_client.isdigit() else None
            )
            endpoint = webhooks.webhook_endpoint_create(
                actor=principal,
                client=client,
                provider=provider,
                url=params.get("url", ""),
                event_types=_event_types(params),
            )
            # The secret is shown on this answer only, as on the API.
            context["created"] = endpoint
        except errors.ValidationFailed as exc:
            context["problems"], context["posted"], status = exc.errors, params, 422
        except errors.PermissionDenied as exc:
            context["problems"] = [errors.FieldError("url", exc.detail)]
            status = 403
    endpoints = (
        visibility.visible(principal, WebhookEndpoint.objects.select_related("client"))
        .annotate(
            pending=Count("deliveries", filter=Q(deliveries__status=DeliveryStatus.PENDING)),
            dead=Count("deliveries", filter=Q(deliveries__status=DeliveryStatus.DEAD)),
        )
        .order_by("client__name", "id")
    )
    context["endpoints"] = endpoints
    return render(request, "work/webhook_list.html", context, status=status)


def _deliveries(principal: Principal, endpoint: WebhookEndpoint, params: Any) -> dict[str, Any]:
    status = params.get("status", "")
    qs = visibility.visible(
        principal, WebhookDelivery.objects.filter(endpoint=endpoint).select_related("event")
    )
    if status in DeliveryStatus.values:
        qs = qs.filter(status=status)
    try:
        rows, next_cursor = paginate(
            qs.order_by("-pk"), cursor=params.get("cursor"), limit=PAGE_SIZE
        )
    except errors.ValidationFailed:
        rows, next_cursor = [], None
    return {
        "deliveries": rows,
        "next_cursor": next_cursor,
        "status_filter": status,
        "statuses": DeliveryStatus.values,
    }


@member_required
def webhook_detail(request: HttpRequest, principal: Principal, pk: int) -> HttpResponse:
    """One endpoint: its settings (editable by its managers) and its delivery log."""
    endpoint = get_visible_or_404(
        principal, WebhookEndpoint.objects.select_related("client"), pk=pk
    )
    context: dict[str, Any] = {"endpoint": endpoint, **_form_context(principal)}
    status = 200
    if request.method == "POST":
        params = request.POST
        try:
            if params.get("delete") == "1":
                webhooks.webhook_endpoint_delete(actor=principal, endpoint=endpoint)
                return redirect("webhook_list")
            webhooks.webhook_endpoint_update(
                actor=principal,
                endpoint=endpoint,
                data={
                    "url": params.get("url", ""),
                    "event_types": _event_types(params),
                    "is_active": params.get("is_active") == "on",
                },
            )
            return redirect("webhook_detail", pk=endpoint.pk)
        except errors.ValidationFailed as exc:
            context["problems"], status = exc.errors, 422
            endpoint.refresh_from_db()
        except errors.PermissionDenied as exc:
            context["problems"], status = [errors.FieldError("url", exc.detail)], 403
    context.update(_deliveries(principal, endpoint, request.GET))
    if htmx.is_fragment_request(request):
        return render(request, "work/partials/_delivery_rows.html", context)
    return render(request, "work/webhook_detail.html", context, status=status)


@member_required
def webhook_redeliver(request: HttpRequest, principal: Principal, pk: int) -> HttpResponse:
    """Send one delivery again; htmx swaps its row, a plain form returns to the log."""
    delivery = get_visible_or_404(
        principal, WebhookDelivery.objects.select_related("event", "endpoint"), pk=pk
    )
    if request.method != "POST":
        return redirect("webhook_detail", pk=delivery.endpoint_id)
    problem = ""
    try:
        delivery = webhooks.webhook_delivery_redeliver(
            actor=principal, delivery=delivery, reason=request.POST.get("reason", "")
        )
    except errors.PermissionDenied as exc:
        problem = exc.detail
    context = {
        "delivery": delivery,
        "problem": problem,
        "can_manage": visibility.allowed(principal, "webhook.manage"),
    }
    if htmx.is_fragment_request(request):
        return render(request, "work/partials/_delivery_row.html", context)
    if problem:
        return render(request, "403.html", status=403)
    return redirect("webhook_detail", pk=delivery.endpoint_id)
