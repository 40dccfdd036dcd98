"""Pages: the agent's workspace (`/workspace/`), where a worker takes and works items.

Presence, "Next item" (pull), the items offered to the worker (push), the items it
holds, the current item with its payload, its process's SOP and its timeline, and
the actions on it: reply, wait on the client, escalate, transfer, complete, release.
Every action calls the service the API calls, as the signed-in worker; htmx swaps the
workspace's body (`#workspace`), and a plain form post redirects back (errors are
shown either way). See docs/workspace.md.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, QueryDict
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone

from offload.contracts import selectors as contract_selectors
from offload.contracts.views import render_markdown
from offload.core import errors, htmx
from offload.tenancy import visibility
from offload.tenancy.pages import get_visible_or_404, member_required
from offload.tenancy.visibility import Principal
from offload.work import dispatch, leases, selectors, services
from offload.work.models import Assignment, Offer, OfferStatus, Outcome, Queue, WorkItem
from offload.workers import selectors as worker_selectors
from offload.workers import services as worker_services
from offload.workers.models import Presence, Worker, WorkerChannel

NOT_A_WORKER_TEMPLATE = "work/workspace_not_worker.html"
PAGE_TEMPLATE = "work/workspace.html"
BODY_TEMPLATE = "work/partials/_workspace.html"
LEASE_TEMPLATE = "work/partials/_workspace_lease.html"

NOTHING_NOW = "Nothing for you right now: no item you may take is waiting."
FINISH_WRAP_UP = "Nothing for you right now: finish your wrap-up (Done) to free your capacity."
TAKEN = "You have {reference}."
REPLIED = "Reply sent."
WAITING = "{reference} is waiting on the client: it stays with you, your capacity is free."
ESCALATED = "{reference} is escalated: it goes back to routing."
TRANSFERRED = "{reference} is transferred to {queue}."
COMPLETED = "{reference} is completed ({outcome})."
RELEASED = "{reference} is back in its queue."
WRAP_UP_DONE = "Wrap-up done: you are ready for the next item."
PRESENCE_SET = "You are {presence}."
OFFER_ACCEPTED = "You accepted {reference}."
OFFER_DECLINED = "You declined {reference}."
OFFER_GONE = "this offer is no longer open"
OFFERS_NOT_READY = "answering offers is not available yet"
UNKNOWN_ACTION = "'{action}' is not an action; use one of: {allowed}"
ACTIONS = ("reply", "wait", "escalate", "transfer", "complete", "release")
# Fields whose problems show beside their form; any other shows at the top.
FORM_FIELDS = frozenset({"text", "reason", "queue", "outcome", "note"})
# The shortcuts the page's script handles, as documented on the page.
SHORTCUTS = (
    ("n", "Next item"),
    ("c", "Complete (resolved)"),
    ("w", "Wait on the client"),
    ("e", "Escalate (focus the reason)"),
    ("r", "Reply (focus the text)"),
)


# ------------------------------------------------------------------ reads


def _worker(principal: Principal) -> Worker | None:
    return worker_selectors.worker_for_principal(principal)


def _seconds(later: datetime | None, earlier: datetime) -> int:
    return max(0, int((later - earlier).total_seconds())) if later else 0


def _visible_item(principal: Principal, raw: str | None) -> WorkItem | None:
    """The item named by a form's `item` field, if the principal sees it."""
    if not raw or not raw.isdigit() or len(raw) > 18:
        return None
    qs = WorkItem.objects.select_related("process", "queue", "client")
    return visibility.visible(principal, qs).filter(pk=int(raw)).first()


def _payload_rows(payload: object) -> list[tuple[str, str, bool]]:
    """(field, value as text, whether it is structured) for the payload's table: text as
    it is, numbers and booleans as JSON writes them, objects and lists as indented JSON."""
    if not isinstance(payload, dict):
        return [("payload", json.dumps(payload, indent=2, ensure_ascii=False), True)]
    rows = []
    for key, value in payload.items():
        if isinstance(value, str):
            rows.append((str(key), value, False))
        elif isinstance(value, dict | list):
            rows.append((str(key), json.dumps(value, indent=2, ensure_ascii=False), True))
        else:
            rows.append((str(key), json.dumps(value), False))
    return rows


def _context(
    principal: Principal,
    worker: Worker,
    item: WorkItem | None,
    *,
    notice: str = "",
    error: str = "",
    problems: list[errors.FieldError] | None = None,
    form: QueryDict | None = None,
) -> dict[str, Any]:
    """Everything the workspace shows. Without an item, the first held one is current."""
    now = timezone.now()
    held = list(
        visibility.visible(
            principal,
            Assignment.objects.filter(worker=worker, ended_at__isnull=True)
            .select_related("item", "item__process", "item__queue", "item__client")
            .order_by("assigned_at", "pk"),
        )
    )
    lease = None
    if item is None and held:
        item = held[0].item
    if item is not None:
        lease = next((a for a in held if a.item_id == item.pk), None)
    wrap_ups = list(
        visibility.visible(
            principal,
            Assignment.objects.filter(
                worker=worker, wrap_up_until__isnull=False, wrap_seconds=0
            ).select_related("item"),
        )
    )
    offers = list(
        visibility.visible(
            principal,
            Offer.objects.filter(worker=worker, status=OfferStatus.OPEN, expires_at__gt=now)
            .select_related("item", "item__process")
            .order_by("expires_at"),
        )
    )
    context: dict[str, Any] = {
        "worker": worker,
        # Read again: the worker's prefetched channels predate this request's claim.
        "channels": list(WorkerChannel.objects.filter(worker=worker).order_by("channel")),
        "presences": Presence.choices,
        "held": held,
        "item": item,
        "lease": lease,
        "elapsed": _seconds(now, lease.assigned_at) if lease else 0,
        "lease_left": _seconds(lease.lease_expires_at, now) if lease else 0,
        "wrap_ups": wrap_ups,
        "wrap_left": max((_seconds(w.wrap_up_until, now) for w in wrap_ups), default=0),
        "offers": [
            {"offer": o, "left": _seconds(o.expires_at, now), "item": o.item} for o in offers
        ],
        "can_answer_offers": _offer_service("accept") is not None,
        "notice": notice,
        "error": error,
        "problems": {p.field: p.message for p in problems or []},
        "other_problems": [p for p in problems or [] if p.field not in FORM_FIELDS],
        "form": form or QueryDict(),
        "outcomes": Outcome.choices,
        "actions": ACTIONS,
        "shortcuts": SHORTCUTS,
    }
    if item is not None:
        sop = contract_selectors.process_current_sop(item.process)
        context.update(
            payload=_payload_rows(item.payload),
            sop=sop,
            sop_html=render_markdown(sop.body) if sop else "",
            events=list(selectors.work_item_events(item=item)),
            clocks=selectors.item_clocks(item=item, now=now),
            viewer_zone=principal.organisation.timezone,
            queues=list(
                visibility.visible(
                    principal,
                    Queue.objects.filter(process_id=item.process_id, client_id=item.client_id),
                )
                .exclude(pk=item.queue_id)
                .order_by("name")
            ),
        )
    return context


def _url(item: WorkItem | None) -> str:
    return reverse("workspace_item", args=[item.pk]) if item else reverse("workspace")


def _respond(
    request: HttpRequest,
    principal: Principal,
    worker: Worker,
    item: WorkItem | None,
    *,
    notice: str = "",
    error: str = "",
    problems: list[errors.FieldError] | None = None,
    status: int = 200,
) -> HttpResponse:
    """htmx: the workspace's body, with the URL of the item it now shows. A plain post:
    back to the page (PRG), or the page with the errors."""
    failed = bool(error or problems)
    if htmx.is_fragment_request(request):
        context = _context(
            principal,
            worker,
            item,
            notice=notice,
            error=error,
            problems=problems,
            form=request.POST if failed else None,
        )
        # htmx swaps only 2xx answers, so a refused action comes back as a 200.
        response = render(request, BODY_TEMPLATE, context)
        response["HX-Push-Url"] = _url(context["item"])
        return response
    if failed:
        context = _context(
            principal, worker, item, error=error, problems=problems, form=request.POST
        )
        return render(request, PAGE_TEMPLATE, context, status=status)
    if notice:
        messages.success(request, notice)
    return redirect(_url(item))


def _not_a_worker(request: HttpRequest) -> HttpResponse:
    return render(request, NOT_A_WORKER_TEMPLATE)


# ------------------------------------------------------------------ pages


@member_required
def workspace(request: HttpRequest, principal: Principal) -> HttpResponseBase:
    """The worker's workspace; its first held item is the current one."""
    if not principal.is_provider:
        return redirect("home")
    worker = _worker(principal)
    if worker is None:
        return _not_a_worker(request)
    template = BODY_TEMPLATE if htmx.is_fragment_request(request) else PAGE_TEMPLATE
    return render(request, template, _context(principal, worker, None))


def _item_or_404(principal: Principal, pk: int) -> WorkItem:
    return get_visible_or_404(
        principal, WorkItem.objects.select_related("process", "queue", "client"), pk=pk
    )


@member_required
def workspace_item(request: HttpRequest, principal: Principal, pk: int) -> HttpResponseBase:
    """The workspace showing one item (its actions only while the worker holds it)."""
    item = _item_or_404(principal, pk)
    if not principal.is_provider:
        return redirect("home")
    worker = _worker(principal)
    if worker is None:
        return _not_a_worker(request)
    template = BODY_TEMPLATE if htmx.is_fragment_request(request) else PAGE_TEMPLATE
    return render(request, template, _context(principal, worker, item))


# ------------------------------------------------------------------ the worker's moves


def _worker_post(
    request: HttpRequest, principal: Principal
) -> tuple[Worker | None, HttpResponseBase | None]:
    """The worker behind a post, or the answer for anyone else (and for a GET)."""
    if request.method != "POST":
        return None, redirect("workspace")
    if not principal.is_provider:
        return None, redirect("home")
    worker = _worker(principal)
    if worker is None:
        return None, _not_a_worker(request)
    return worker, None


@member_required
def workspace_presence(request: HttpRequest, principal: Principal) -> HttpResponseBase:
    worker, answer = _worker_post(request, principal)
    if worker is None:
        assert answer is not None
        return answer
    item = _visible_item(principal, request.POST.get("item"))
    presence = request.POST.get("presence", "")
    try:
        worker = worker_services.worker_set_presence(
            actor=principal, worker=worker, presence=presence
        )
    except errors.ValidationFailed as exc:
        return _respond(request, principal, worker, item, problems=exc.errors, status=422)
    except (errors.Conflict, errors.PermissionDenied) as exc:
        return _respond(request, principal, worker, item, error=exc.detail, status=409)
    notice = PRESENCE_SET.format(presence=Presence(worker.presence).label.lower())
    return _respond(request, principal, worker, item, notice=notice)


@member_required
def workspace_next(request: HttpRequest, principal: Principal) -> HttpResponseBase:
    """Pull: the best item the worker may take now becomes its current item."""
    worker, answer = _worker_post(request, principal)
    if worker is None:
        assert answer is not None
        return answer
    try:
        claim = leases.work_item_claim(actor=principal)
    except (errors.Conflict, errors.PermissionDenied) as exc:
        item = _visible_item(principal, request.POST.get("item"))
        return _respond(request, principal, worker, item, error=exc.detail, status=409)
    if claim is None:
        in_wrap_up = Assignment.objects.filter(
            worker=worker, wrap_up_until__isnull=False, wrap_seconds=0
        ).exists()
        item = _visible_item(principal, request.POST.get("item"))
        notice = FINISH_WRAP_UP if in_wrap_up else NOTHING_NOW
        return _respond(request, principal, worker, item, notice=notice)
    return _respond(
        request, principal, worker, claim.item, notice=TAKEN.format(reference=claim.item.reference)
    )


@member_required
def workspace_wrap_up_done(request: HttpRequest, principal: Principal) -> HttpResponseBase:
    worker, answer = _worker_post(request, principal)
    if worker is None:
        assert answer is not None
        return answer
    item = _visible_item(principal, request.POST.get("item"))
    try:
        leases.wrap_up_end(actor=principal)
    except (errors.Conflict, errors.PermissionDenied) as exc:
        return _respond(request, principal, worker, item, error=exc.detail, status=409)
    return _respond(request, principal, worker, item, notice=WRAP_UP_DONE)


def _act(principal: Principal, item: WorkItem, action: str, form: QueryDict) -> tuple[str, bool]:
    """Run one action on the item; (the notice, whether the worker still holds it)."""
    reference = item.reference
    if action == "reply":
        services.work_item_reply(actor=principal, item=item, text=form.get("text", ""))
        return REPLIED, True
    if action == "wait":
        services.work_item_wait(actor=principal, item=item, note=form.get("note", "").strip())
        return WAITING.format(reference=reference), True
    if action == "escalate":
        services.work_item_escalate(actor=principal, item=item, reason=form.get("reason", ""))
        return ESCALATED.format(reference=reference), False
    if action == "transfer":
        queue = form.get("queue", "")
        services.work_item_transfer(
            actor=principal, item=item, queue=queue, reason=form.get("transfer_reason", "").strip()
        )
        return TRANSFERRED.format(reference=reference, queue=queue), False
    if action == "complete":
        outcome = form.get("outcome", "")
        services.work_item_complete(actor=principal, item=item, outcome=outcome)
        return COMPLETED.format(reference=reference, outcome=outcome.replace("_", " ")), False
    if action == "release":
        leases.lease_release(actor=principal, item_id=item.pk)
        return RELEASED.format(reference=reference), False
    raise errors.ValidationFailed.single(
        "action", UNKNOWN_ACTION.format(action=action, allowed=", ".join(ACTIONS))
    )


@member_required
def workspace_item_act(request: HttpRequest, principal: Principal, pk: int) -> HttpResponseBase:
    """One action on the current item (`action`: reply, wait, escalate, transfer,
    complete, release), with that action's fields."""
    item = _item_or_404(principal, pk)
    worker, answer = _worker_post(request, principal)
    if worker is None:
        assert answer is not None
        return answer
    try:
        notice, still_held = _act(principal, item, request.POST.get("action", ""), request.POST)
    except errors.ValidationFailed as exc:
        return _respond(request, principal, worker, item, problems=exc.errors, status=422)
    except (errors.Conflict, errors.PermissionDenied, errors.NotFound) as exc:
        return _respond(request, principal, worker, item, error=exc.detail, status=409)
    item.refresh_from_db()
    return _respond(request, principal, worker, item if still_held else None, notice=notice)


@member_required
def workspace_item_heartbeat(
    request: HttpRequest, principal: Principal, pk: int
) -> HttpResponseBase:
    """The page's minute heartbeat: the worker is still on the item, extend the lease."""
    item = _item_or_404(principal, pk)
    worker, answer = _worker_post(request, principal)
    if worker is None:
        assert answer is not None
        return answer
    lease: Assignment | None
    try:
        lease = leases.lease_heartbeat(actor=principal, item_id=item.pk)
    except (errors.Conflict, errors.PermissionDenied):
        lease = None
    now = timezone.now()
    context = {
        "item": item,
        "lease": lease,
        "lease_left": _seconds(lease.lease_expires_at, now) if lease else 0,
    }
    return render(request, LEASE_TEMPLATE, context)


def _offer_service(answer: str) -> Callable[..., Any] | None:
    """Push routing's offer_accept / offer_decline (offload.work.dispatch); without
    them the page lists offers but offers no buttons."""
    service: Callable[..., Any] | None = getattr(dispatch, f"offer_{answer}", None)
    return service if callable(service) else None


@member_required
def workspace_item_offer(request: HttpRequest, principal: Principal, pk: int) -> HttpResponseBase:
    """Accept or decline (`answer`) the open offer of this item to the worker."""
    item = _item_or_404(principal, pk)
    worker, answer = _worker_post(request, principal)
    if worker is None:
        assert answer is not None
        return answer
    choice = request.POST.get("answer", "")
    service = _offer_service(choice) if choice in {"accept", "decline"} else None
    offer = (
        visibility.visible(principal, Offer.objects.all())
        .filter(item=item, worker=worker, status=OfferStatus.OPEN)
        .first()
    )
    try:
        if service is None:
            raise errors.Conflict(OFFERS_NOT_READY)
        if offer is None:
            raise errors.Conflict(OFFER_GONE)
        service(actor=principal, offer_id=offer.pk)
    except errors.ValidationFailed as exc:
        return _respond(request, principal, worker, None, problems=exc.errors, status=422)
    except (errors.Conflict, errors.PermissionDenied, errors.NotFound) as exc:
        return _respond(request, principal, worker, None, error=exc.detail, status=409)
    if choice == "accept":
        return _respond(
            request, principal, worker, item, notice=OFFER_ACCEPTED.format(reference=item.reference)
        )
    return _respond(
        request, principal, worker, None, notice=OFFER_DECLINED.format(reference=item.reference)
    )
