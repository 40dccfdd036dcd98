"""Pages: the work-item list (client portal and provider side) and an item's timeline
with its SLA clocks; the client portal's list also shows SLA risk by queue."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime, time
from typing import Any

import nh3
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.safestring import mark_safe

from offload.contracts.models import Priority, Process
from offload.core import errors, htmx
from offload.core.pagination import paginate
from offload.tenancy import visibility
from offload.tenancy.pages import get_visible_or_404, member_required
from offload.tenancy.visibility import Principal
from offload.work import attachments, bot_views, csv_import, selectors
from offload.work.lifecycle import Status
from offload.work.models import Attachment, EmailMessage, WorkItem

PAGE_SIZE = 50
# An uploaded CSV up to this size rides along in the preview's commit form (base64,
# no session state); a larger one is uploaded again to commit.
IMPORT_KEEP_BYTES = 2 * 1024 * 1024
CHOOSE_A_FILE = "choose a file"


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
    context: dict[str, Any] = {
        "items": page,
        "next_cursor": next_cursor,
        "filters": params,
        "statuses": [s.value for s in Status],
        "priorities": Priority.values,
        "form_error": form_error,
    }
    if htmx.is_fragment_request(request):
        return render(request, "work/partials/_item_rows.html", context)
    if principal.is_client:
        # The provider's team leads have the floor; a client sees the same figures here.
        context["sla_queues"] = sorted(
            selectors.sla_by_queue(principal=principal).values(),
            key=lambda row: (row.queue.name, row.queue.pk),
        )
    return render(request, "work/item_list.html", context)


@member_required
def work_item_detail(request: HttpRequest, principal: Principal, pk: int) -> HttpResponse:
    item = get_visible_or_404(
        principal, WorkItem.objects.select_related("process", "queue", "client", "parent"), pk=pk
    )
    events = selectors.work_item_events(item=item)
    return render(
        request,
        "work/item_detail.html",
        {
            "item": item,
            "events": events,
            **_files(principal, item),
            **_emails(item),
            **_clocks(principal, item),
            **bot_views.bot_context(principal, item),
        },
    )


def _clocks(principal: Principal, item: WorkItem) -> dict[str, Any]:
    """The item's SLA clocks as of now, and the zone their due times show in."""
    return {
        "clocks": selectors.item_clocks(item=item, now=timezone.now()),
        "viewer_zone": principal.organisation.timezone,
    }


# Remote images in mail are trackers as often as pictures: HTML bodies lose them.
EMAIL_HTML_TAGS = nh3.ALLOWED_TAGS - {"img", "area", "map"}


def _emails(item: WorkItem) -> dict[str, Any]:
    """The item's e-mail conversation; HTML bodies only as nh3 leaves them."""
    emails = list(EmailMessage.objects.filter(item=item).order_by("id"))
    for email in emails:
        # S308: nh3 has just removed every script, style, event handler and unsafe URL.
        email.safe_html = mark_safe(nh3.clean(email.html_body, tags=EMAIL_HTML_TAGS))  # type: ignore[attr-defined]  # noqa: S308
    return {"emails": emails}


def _files(principal: Principal, item: WorkItem) -> dict[str, Any]:
    return {
        "attachments": list(Attachment.objects.filter(item=item)),
        "can_attach": attachments.may_attach(principal)
        and item.status not in {Status.CLOSED, Status.CANCELLED},
    }


@member_required
def work_item_attachments(request: HttpRequest, principal: Principal, pk: int) -> HttpResponse:
    """Upload a file to the item; htmx gets the files block back, a plain form the page."""
    item = get_visible_or_404(principal, WorkItem.objects.all(), pk=pk)
    if request.method != "POST":
        return redirect("work_item_detail", pk=item.pk)
    problems: list[errors.FieldError] = []
    upload = request.FILES.get("file")
    try:
        if upload is None:
            raise errors.ValidationFailed([errors.FieldError("file", CHOOSE_A_FILE)])
        attachments.attachment_add(
            actor=principal,
            item=item,
            filename=upload.name or "file",
            data=attachments.upload_bytes(upload),
            content_type=upload.content_type,
        )
    except errors.ValidationFailed as exc:
        problems = exc.errors
    except (errors.Conflict, errors.PermissionDenied) as exc:
        problems = [errors.FieldError("file", exc.detail)]
    item.refresh_from_db()
    if htmx.is_fragment_request(request):
        # htmx swaps only 2xx answers, so the form's errors come back as a 200.
        context = {"item": item, "problems": problems, **_files(principal, item)}
        return render(request, "work/partials/_attachments.html", context)
    if problems:
        events = selectors.work_item_events(item=item)
        context = {"item": item, "events": events, "problems": problems}
        context.update(_files(principal, item))
        context.update(_emails(item))
        context.update(_clocks(principal, item))
        context.update(bot_views.bot_context(principal, item))
        return render(request, "work/item_detail.html", context, status=422)
    return redirect("work_item_detail", pk=item.pk)


@member_required
def work_item_attachment(
    request: HttpRequest, principal: Principal, pk: int, attachment_id: int
) -> HttpResponseBase:
    attachment = get_visible_or_404(
        principal, Attachment.objects.filter(item_id=pk), pk=attachment_id
    )
    return attachments.download(attachment)


def _import_run(request: HttpRequest, principal: Principal) -> dict[str, Any]:
    """Preview the posted file, or commit it (`commit=1`, the file carried as `content`)."""
    params = request.POST
    raw = params.get("process", "")
    process = get_visible_or_404(
        principal, Process.objects.select_related("client"), pk=int(raw) if raw.isdigit() else 0
    )
    upload = request.FILES.get("file")
    data = b""
    if upload is not None:
        data = upload.read()
    elif params.get("content"):
        try:
            data = base64.b64decode(params["content"], validate=True)
        except binascii.Error:
            data = b""
    out: dict[str, Any] = {"process": process, "mapping": params.get("mapping", "")}
    if not data:
        out["problems"] = [errors.FieldError("file", CHOOSE_A_FILE)]
        return out
    try:
        if params.get("commit") == "1":
            out["result"] = csv_import.csv_commit(
                actor=principal,
                client=process.client,
                process=process,
                data=data,
                mapping=out["mapping"],
            )
        else:
            out["preview"] = csv_import.csv_preview(
                actor=principal,
                client=process.client,
                process=process,
                data=data,
                mapping=out["mapping"],
            )
            if len(data) <= IMPORT_KEEP_BYTES:
                out["content"] = base64.b64encode(data).decode()
    except errors.ValidationFailed as exc:
        out["problems"] = exc.errors
    return out


@member_required
def work_items_import(request: HttpRequest, principal: Principal) -> HttpResponse:
    """CSV import: the form; a post answers the preview (htmx: the partial only), and
    the preview's button commits the same file."""
    if not visibility.allowed(principal, "work_item.create"):
        return render(request, "403.html", status=403)
    processes = visibility.visible(principal, Process.objects.select_related("client"))
    context: dict[str, Any] = {"processes": processes.order_by("client__name", "name")}
    if request.method == "POST":
        context.update(_import_run(request, principal))
        if htmx.is_fragment_request(request):
            return render(request, "work/partials/_import_preview.html", context)
    return render(request, "work/item_import.html", context)
