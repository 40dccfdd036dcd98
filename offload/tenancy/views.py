"""Pages: the signed-in user's notification inbox and their e-mail preference.

The same services as the API (offload.tenancy.notifications) do the writes; a
notification of another user, or of another organisation, is a 404 like a missing one.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from offload.core import errors, htmx, pagination
from offload.tenancy import notifications, selectors
from offload.tenancy.models import Notification
from offload.tenancy.pages import get_visible_or_404, member_required
from offload.tenancy.visibility import Principal

PAGE_SIZE = 50
EMAIL_ON = "Notifications will also be e-mailed to you."
EMAIL_ON_NO_ADDRESS = "E-mail copies are on, but your account has no e-mail address yet."
EMAIL_OFF = "Notifications will no longer be e-mailed to you."
ALL_READ = "Marked {count} notification(s) read."


@member_required
def notification_list(request: HttpRequest, principal: Principal) -> HttpResponse:
    """The inbox, newest first; `?unread=1` shows the unread ones only."""
    params = request.GET
    unread_only = params.get("unread") == "1"
    qs = selectors.notification_list(principal=principal, unread_only=unread_only)
    form_error = ""
    try:
        rows, next_cursor = pagination.paginate(
            qs, cursor=params.get("cursor"), limit=PAGE_SIZE, newest_first=True
        )
    except errors.ValidationFailed as exc:
        rows, next_cursor, form_error = [], None, exc.detail
    context = {
        "notifications": rows,
        "next_cursor": next_cursor,
        "unread_only": unread_only,
        "form_error": form_error,
    }
    return render(request, "tenancy/notification_list.html", context)


@member_required
def notification_read(request: HttpRequest, principal: Principal, pk: int) -> HttpResponse:
    """Mark one read; htmx swaps its row (and the header's badge), a form returns to the
    inbox."""
    notification = get_visible_or_404(principal, Notification.objects.all(), pk=pk)
    if request.method != "POST":
        return redirect("notification_list")
    notification = notifications.notification_mark_read(actor=principal, notification=notification)
    if htmx.is_fragment_request(request):
        # The badge comes along out of band (its count from the context processor).
        context = {"notification": notification, "badge_oob": True}
        return render(request, "tenancy/partials/_notification_row.html", context)
    return redirect("notification_list")


@member_required
def notification_read_all(request: HttpRequest, principal: Principal) -> HttpResponse:
    if request.method == "POST":
        count = notifications.notification_mark_all_read(actor=principal)
        messages.success(request, ALL_READ.format(count=count))
    return redirect("notification_list")


@member_required
def notification_preferences(request: HttpRequest, principal: Principal) -> HttpResponse:
    """The e-mail toggle (a checkbox on the inbox page)."""
    if request.method == "POST":
        wanted = request.POST.get("notify_by_email") in {"on", "true", "1"}
        user = notifications.notification_preferences_update(
            actor=principal, notify_by_email=wanted
        )
        if not wanted:
            messages.success(request, EMAIL_OFF)
        elif user.email:
            messages.success(request, EMAIL_ON)
        else:
            messages.warning(request, EMAIL_ON_NO_ADDRESS)
    return redirect("notification_list")
