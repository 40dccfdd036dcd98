"""The attended invoice check on the item page: a button, and the result as a block.

The check itself is `bots.attended` (the same service as the API); the page shows the
button on items of invoice processes to the provider's people who may act on them.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render

from offload.core import errors, htmx
from offload.tenancy import visibility
from offload.tenancy.pages import get_visible_or_404, member_required
from offload.tenancy.visibility import Principal
from offload.work import lifecycle, selectors
from offload.work.bots import attended
from offload.work.lifecycle import Status
from offload.work.models import WorkItem


def bot_context(principal: Principal, item: WorkItem) -> dict[str, Any]:
    """What the item page needs to offer the invoice check."""
    offered = (
        principal.is_provider
        and visibility.allowed(principal, "work_item.act")
        and Status(item.status) not in lifecycle.FINAL
        and attended.is_invoice_process(item.process)
    )
    return {"invoice_check_offered": offered}


@member_required
def work_item_invoice_check(
    request: HttpRequest, principal: Principal, pk: int
) -> HttpResponseBase:
    """Run the invoice check (POST); htmx gets the result block and the timeline back."""
    item = get_visible_or_404(principal, WorkItem.objects.select_related("process"), pk=pk)
    if request.method != "POST":
        return redirect("work_item_detail", pk=item.pk)
    context: dict[str, Any] = {"item": item, "result": None, "problem": ""}
    status = 200
    try:
        context["result"], _ = attended.work_item_invoice_check(actor=principal, item=item)
    except (errors.Conflict, errors.PermissionDenied) as exc:
        context["problem"], status = exc.detail, exc.status
    if not htmx.is_fragment_request(request):
        if status == 200:
            return redirect("work_item_detail", pk=item.pk)
        return render(request, "work/bot_check_refused.html", context, status=status)
    item.refresh_from_db()
    context.update(bot_context(principal, item))
    context["events"] = selectors.work_item_events(item=item)
    context["timeline_oob"] = True
    # htmx swaps only 2xx answers, so a refusal comes back as a 200 with its message.
    return render(request, "work/partials/_bot_check.html", context)
