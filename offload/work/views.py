"""Pages: the work-item list (client portal and provider side) and an item's timeline."""

from __future__ import annotations

from datetime import datetime, time

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from offload.contracts.models import Priority
from offload.core import errors, htmx
from offload.core.pagination import paginate
from offload.tenancy.pages import get_visible_or_404, member_required
from offload.tenancy.visibility import Principal
from offload.work import selectors
from offload.work.lifecycle import Status
from offload.work.models import WorkItem

PAGE_SIZE = 50


def _day(value: str, *, end: bool = False) -> datetime | None:
    """A date from a filter box as the start (or the end) of that day in UTC."""
    try:
        day = datetime.fromisoformat(value).date()
    except ValueError:
        return None
    moment = datetime.combine(day, time.max if end else time.min)
    return timezone.make_aware(moment, timezone.get_current_timezone())


@member_required
def work_item_list(request: HttpRequest, principal: Principal) -> HttpResponse:
    """Items with filters; htmx swaps the table only, so typing in a filter stays put."""
    params = request.GET
    status, priority = params.get("status", ""), params.get("priority", "")
    items = selectors.work_item_list(
        principal=principal,
        status=status if status in {s.value for s in Status} else None,
        priority=priority if priority in Priority.values else None,
        process=params.get("process") or None,
        q=params.get("q") or None,
        reference=params.get("reference") or None,
        created_after=_day(params.get("from", "")),
        created_before=_day(params.get("to", ""), end=True),
    ).select_related("client")
    form_error = ""
    try:
        page, next_cursor = paginate(
            items.order_by("-pk"), cursor=params.get("cursor"), limit=PAGE_SIZE
        )
    except errors.ValidationFailed as exc:
        page, next_cursor, form_error = [], None, exc.detail
    context = {
        "items": page,
        "next_cursor": next_cursor,
        "filters": params,
        "statuses": [s.value for s in Status],
        "priorities": Priority.values,
        "form_error": form_error,
    }
    if htmx.is_fragment_request(request):
        return render(request, "work/partials/_item_rows.html", context)
    return render(request, "work/item_list.html", context)


@member_required
def work_item_detail(request: HttpRequest, principal: Principal, pk: int) -> HttpResponse:
    item = get_visible_or_404(
        principal, WorkItem.objects.select_related("process", "queue", "client", "parent"), pk=pk
    )
    events = selectors.work_item_events(item=item)
    return render(request, "work/item_detail.html", {"item": item, "events": events})
