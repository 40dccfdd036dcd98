"""Writes for work items (their actions) and queues.

Each action service checks who may act, validates its fields, locks the item's row,
asks the pure lifecycle table whether the move is legal (an illegal one is a 409
naming the current status and the allowed actions), changes the item and appends
its event, all in one transaction. The event vocabulary is docs/events.md.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.utils import timezone
from django.utils.text import slugify

from offload.contracts.models import Priority, Process
from offload.core import errors, sweeps
from offload.tenancy import audit, validators, visibility
from offload.tenancy.models import OrganisationKind, Role, User
from offload.tenancy.services import save_unique, update_model
from offload.tenancy.visibility import Principal
from offload.work import history, leases, lifecycle, mail_send, pgcycle
from offload.work.lifecycle import Action, Status
from offload.work.models import (
    FailureKind,
    ItemRetry,
    Outcome,
    Queue,
    RoutingMode,
    WorkItem,
)

logger = logging.getLogger(__name__)

ILLEGAL_MOVE = "cannot {action} an item that is {current}; allowed: {allowed}"
CLIENT_CANNOT = "a client may only {allowed} its items, not {action} them"
REQUIRED = "must not be empty"
NEGATIVE = "must not be negative"
BAD_CHOICE = "'{value}' is not one of: {allowed}"
NO_SUCH_QUEUE = "no queue '{slug}' in process '{process}'"
SAME_QUEUE = "the item is already in queue '{slug}'"
REOPEN_WINDOW_PASSED = (
    "the item was completed at {completed_at}; it may be reopened only within "
    "{hours} hours of completion (the process's reopen window)"
)
BAD_ORDERING_KEY = "'{key}' is not an ordering key; use one of: {allowed}"
DUPLICATE_ORDERING_KEY = "'{key}' appears more than once"
NOT_TEAM_LEADS = "not team leads of this provider: {ids}"
NOT_A_DICT = "must be a JSON object"
CLIENT_CANNOT_REPRIORITIZE = "a client may not change an item's priority; its provider does"
FINAL_PRIORITY = "cannot change the priority of an item that is {current}"

# What a client principal may do to its own items; everything else is the provider's.
CLIENT_ACTIONS = frozenset(
    {Action.COMMENT, Action.REPLY, Action.RESUME, Action.REOPEN, Action.CANCEL}
)
# The minutes before the n-th system retry: 2**attempt, so 2, 4, 8, ...
RETRY_BASE_MINUTES = 2
RETRY_BATCH = 200
REFERENCE_MAX = 200  # WorkItem.reference's max_length
RETRY_MARK = "~retry"
# `from` of the messages of the client's customer (e-mail), beside provider, client, system.
CUSTOMER = "customer"


def _side(actor: Principal | None) -> str:
    if actor is None:
        return history.SYSTEM
    return "client" if actor.is_client else "provider"


def _require_action(actor: Principal | None, action: Action) -> None:
    """Provider people and bots may do everything; a client admin the client's actions."""
    if actor is None:
        return
    if actor.is_client:
        visibility.require(actor, "work_item.client_act")
        if action not in CLIENT_ACTIONS:
            allowed = ", ".join(a for a in lifecycle.TABLE if a in CLIENT_ACTIONS)
            raise errors.PermissionDenied(CLIENT_CANNOT.format(allowed=allowed, action=action))
    else:
        visibility.require(actor, "work_item.act")


def item_lock(actor: Principal | None, item: WorkItem) -> WorkItem:
    """The item's row, locked until the transaction ends, if the actor may see it and,
    while it is held, is its holder or may supervise (leases.holder_check). Every
    write to an item starts here."""
    qs = WorkItem.objects.select_for_update()
    if actor is not None:
        qs = visibility.visible(actor, qs)
    locked = qs.filter(pk=item.pk).first()
    if locked is None:
        raise errors.NotFound("work item not found")
    leases.holder_check(actor, locked)
    # _save compares against it to keep the holder's lease and capacity in step.
    locked.status_at_lock = locked.status  # type: ignore[attr-defined]
    return locked


def _move(item: WorkItem, action: Action) -> tuple[Status, Status]:
    """(current, target) for `action`, or a 409 naming the current status and the
    allowed actions."""
    current = Status(item.status)
    try:
        return current, lifecycle.apply(current, action)
    except lifecycle.IllegalMove as exc:
        allowed = [str(a) for a in exc.allowed]
        raise errors.Conflict(
            ILLEGAL_MOVE.format(
                action=action, current=current, allowed=", ".join(allowed) or "none (final)"
            ),
            current=str(current),
            allowed=allowed,
        ) from exc


def _begin(actor: Principal | None, item: WorkItem, action: Action) -> tuple[WorkItem, Status]:
    """Lock the item and check the move; returns the locked item and its target status."""
    locked = item_lock(actor, item)
    _, target = _move(locked, action)
    return locked, target


def _status_change(before: str, after: str) -> dict[str, str]:
    return {"from_status": str(before), "to_status": str(after)}


def _save(item: WorkItem, *fields: str) -> None:
    before = getattr(item, "status_at_lock", item.status)
    now = timezone.now()
    if "status" in fields and before != item.status and item.status == Status.QUEUED:
        # Back in a queue: relaxation steps and the pull's age count from now.
        item.queued_at = now
        fields = (*fields, "queued_at")
    item.save(update_fields=[*fields, "updated_at"])
    if before != item.status:
        leases.after_move(item, before, item.status, now)
        item.status_at_lock = item.status  # type: ignore[attr-defined]
    else:
        leases.extend(item, now)


def _text(field: str, value: str) -> tuple[str, str | None]:
    return (field, None if value.strip() else REQUIRED)


# ------------------------------------------------------------------ messages


@transaction.atomic
def work_item_comment(
    *,
    actor: Principal | None,
    item: WorkItem,
    text: str,
    data: Mapping[str, Any] | None = None,
) -> WorkItem:
    """An internal note on the item: not a response to the customer. `data` adds
    fields to the event (the system's notes about e-mail: `auto`, `email_message`)."""
    _require_action(actor, Action.COMMENT)
    errors.raise_failures([_text("text", text)])
    locked, _ = _begin(actor, item, Action.COMMENT)
    history.append(
        locked,
        "commented",
        actor=actor,
        data={**(data or {}), "text": text, "public": False, "from": _side(actor)},
    )
    return locked


@transaction.atomic
def work_item_reply(*, actor: Principal | None, item: WorkItem, text: str) -> WorkItem:
    """A public message on the item. From the provider it counts as a response to the
    customer; from the client it is the customer's answer, and an item waiting on the
    client moves back to work."""
    _require_action(actor, Action.REPLY)
    errors.raise_failures([_text("text", text)])
    locked, _ = _begin(actor, item, Action.REPLY)
    side = _side(actor)
    data: dict[str, Any] = {"text": text, "public": True, "from": side}
    if side != "client":
        # On an e-mail conversation the reply goes out as mail, through the outbox.
        email = mail_send.reply_enqueue(item=locked, text=text)
        if email is not None:
            data.update(channel="email", email_message=email.pk)
    history.append(locked, "replied", actor=actor, data=data)
    if side == "client" and locked.status == Status.WAITING_ON_CLIENT:
        _resume(actor, locked, note="")
    return locked


@transaction.atomic
def work_item_customer_reply(
    *, item: WorkItem, text: str, data: Mapping[str, Any] | None = None
) -> WorkItem:
    """A message from the client's customer on the item's thread (an e-mail): a public
    `replied` from the customer, written by the system; an item waiting on the client
    moves back to work, as when the client replies. `data` adds fields to the event
    (`channel`, `email_message`)."""
    locked, _ = _begin(None, item, Action.REPLY)
    history.append(
        locked,
        "replied",
        actor=None,
        data={**(data or {}), "text": text, "public": True, "from": CUSTOMER},
    )
    if locked.status == Status.WAITING_ON_CLIENT:
        _resume(None, locked, note="", side=CUSTOMER)
    return locked


# ------------------------------------------------------------------ waiting


@transaction.atomic
def work_item_wait(*, actor: Principal | None, item: WorkItem, note: str = "") -> WorkItem:
    """The item waits on the client (an SLA clock may pause while it does)."""
    _require_action(actor, Action.WAIT)
    locked, target = _begin(actor, item, Action.WAIT)
    before, locked.status = locked.status, target
    _save(locked, "status")
    data: dict[str, Any] = _status_change(before, target)
    if note:
        data["note"] = note
    history.append(locked, "waiting_on_client", actor=actor, data=data)
    return locked


def _resume(actor: Principal | None, locked: WorkItem, *, note: str, side: str = "") -> None:
    _, target = _move(locked, Action.RESUME)
    before, locked.status = locked.status, target
    _save(locked, "status")
    data: dict[str, Any] = {**_status_change(before, target), "from": side or _side(actor)}
    if note:
        data["note"] = note
    history.append(locked, "resumed", actor=actor, data=data)


@transaction.atomic
def work_item_resume(*, actor: Principal | None, item: WorkItem, note: str = "") -> WorkItem:
    """The client answered: the item is worked on again."""
    _require_action(actor, Action.RESUME)
    locked = item_lock(actor, item)
    _resume(actor, locked, note=note)
    return locked


# ------------------------------------------------------------------ routing moves


@transaction.atomic
def work_item_escalate(*, actor: Principal | None, item: WorkItem, reason: str) -> WorkItem:
    _require_action(actor, Action.ESCALATE)
    errors.raise_failures([_text("reason", reason)])
    locked, target = _begin(actor, item, Action.ESCALATE)
    before, locked.status = locked.status, target
    _save(locked, "status")
    history.append(
        locked, "escalated", actor=actor, data={**_status_change(before, target), "reason": reason}
    )
    return locked


@transaction.atomic
def work_item_transfer(
    *, actor: Principal | None, item: WorkItem, queue: str, reason: str = ""
) -> WorkItem:
    """Move the item to another queue of its process (by the queue's slug); it waits
    there, unassigned, as queued. A failed item in review goes back to work this way."""
    _require_action(actor, Action.TRANSFER)
    destination = Queue.objects.filter(
        client_id=item.client_id, process_id=item.process_id, slug=queue
    ).first()
    if destination is None:
        process = Process.objects.get(pk=item.process_id)
        raise errors.ValidationFailed.single(
            "queue", NO_SUCH_QUEUE.format(slug=queue, process=process.slug)
        )
    locked, _ = _begin(actor, item, Action.TRANSFER)
    if destination.pk == locked.queue_id:
        raise errors.ValidationFailed.single("queue", SAME_QUEUE.format(slug=queue))
    return transfer_locked(actor, locked, destination, reason=reason)


def transfer_locked(
    actor: Principal | None,
    locked: WorkItem,
    destination: Queue,
    *,
    reason: str = "",
    extra: Mapping[str, Any] | None = None,
    at: datetime | None = None,
) -> WorkItem:
    """Move an item whose row the caller has locked to `destination` (a queue of its
    process), queued and unassigned: the holder's lease ends and its capacity is
    freed (leases.after_move). The caller has checked that the move is legal;
    `extra` adds fields to the `transferred` event (an escalation rule's id)."""
    # A row locked elsewhere (the SLA sweep) was not read by item_lock.
    locked.status_at_lock = locked.status  # type: ignore[attr-defined]
    _, target = _move(locked, Action.TRANSFER)
    before, source = locked.status, locked.queue_id
    locked.status, locked.queue, locked.assignee = target, destination, None
    locked.failure_kind, locked.failure_reason = "", ""
    _save(locked, "status", "queue", "assignee", "failure_kind", "failure_reason")
    data: dict[str, Any] = {
        **_status_change(before, target),
        "from": source,
        "to": destination.pk,
        "to_slug": destination.slug,
    }
    if reason:
        data["reason"] = reason
    data.update(extra or {})
    history.append(locked, "transferred", actor=actor, data=data, at=at)
    return locked


# ------------------------------------------------------------------ priority


@transaction.atomic
def work_item_reprioritize(
    *, actor: Principal | None, item: WorkItem, priority: str, reason: str = ""
) -> WorkItem:
    """A person reclassifies the item: a new priority, so routing order and the SLA
    clocks' targets follow it (`reprioritized` with `by: person`; an escalation
    rule's raise is `by: rule` and leaves the targets alone). The provider's people
    with `work_item.act` may; a client may not. An item that is closed or cancelled
    keeps its priority (409); the same priority again writes nothing."""
    if actor is not None:
        if actor.is_client:
            raise errors.PermissionDenied(CLIENT_CANNOT_REPRIORITIZE)
        visibility.require(actor, "work_item.act")
    errors.raise_failures(
        [
            (
                "priority",
                None
                if priority in Priority.values
                else BAD_CHOICE.format(value=priority, allowed=", ".join(Priority.values)),
            )
        ]
    )
    priority = str(priority)  # a Priority member is stored and logged as its value
    locked = item_lock(actor, item)
    if locked.status in lifecycle.FINAL:
        raise errors.Conflict(
            FINAL_PRIORITY.format(current=locked.status), current=str(locked.status)
        )
    before = locked.priority
    if before == priority:
        return locked
    locked.priority = priority
    _save(locked, "priority")
    history.append(
        locked,
        "reprioritized",
        actor=actor,
        data={"from": before, "to": priority, "by": "person", "reason": reason},
    )
    return locked


# ------------------------------------------------------------------ outcomes


def work_item_complete(
    *,
    actor: Principal | None,
    item: WorkItem,
    outcome: str,
    result: Mapping[str, Any] | None = None,
    handle_seconds: int | None = None,
) -> WorkItem:
    """Done: resolved or not; an optional result payload for the client's systems and
    the handle time the worker spent, which the KPIs read from the event.

    On PostgreSQL the holder completing the item it works on is one statement
    (offload.work.pgcycle); everything else takes the general path."""
    data = _completion_checked(actor, outcome, result, handle_seconds)
    done = _complete_in_one_statement(actor, item.pk, outcome, result or {}, data)
    return done if done is not None else _complete(actor, item, outcome, result or {}, data)


def work_item_complete_held(
    *,
    actor: Principal,
    item_id: int,
    outcome: str,
    result: Mapping[str, Any] | None = None,
    handle_seconds: int | None = None,
) -> WorkItem:
    """work_item_complete by the item's id, as the API receives it. The holder's
    common case reads nothing first (the statement reads the item as the caller may
    see it); anything else reads the item so first (a 404 before any other answer,
    as for every item action) and takes work_item_complete."""
    data = None
    if _one_statement_open(actor):
        data = _completion_checked(actor, outcome, result, handle_seconds)
        done = _complete_in_one_statement(actor, item_id, outcome, result or {}, data)
        if done is not None:
            return done
    item = visibility.get_visible(actor, WorkItem.objects.all(), pk=item_id)
    if data is None:
        data = _completion_checked(actor, outcome, result, handle_seconds)
    return _complete(actor, item, outcome, result or {}, data)


def work_item_complete_and_claim(
    *,
    actor: Principal,
    item_id: int,
    outcome: str,
    result: Mapping[str, Any] | None = None,
    handle_seconds: int | None = None,
) -> tuple[WorkItem, leases.Claim | None]:
    """work_item_complete_held, then leases.work_item_claim: the holder completes the
    item and takes its next one, as a worker's loop does, in one request.

    On PostgreSQL, with the worker's routing context, both are one statement
    (pgcycle.complete_and_claim) that writes what the two would; anything else
    takes the two in turn. A caller that is not an active worker is refused first;
    once the completion is written it stands whatever the pull answers: a worker
    that may not pull now (not available, deactivated meanwhile) gets no next item."""
    done: WorkItem | None = None
    data = None
    context = leases.routing_context(actor) if _one_statement_open(actor) else None
    if context is not None:
        data = _completion_checked(actor, outcome, result, handle_seconds)
        got = _complete_and_claim_in_one_statement(actor, context, item_id, outcome, result, data)
        if got is not None:
            done, claimed = got
            if claimed.decided:
                return done, leases.claim_of(claimed)
            if claimed.head_missed:
                # The pull below reads past the head, as the worker's next ones will.
                context.head.missed()
    if done is None:
        # A 404 before any other answer, as for every item action; then a 403 for a
        # caller that could never pull, before anything is written. The general path
        # then: the one statement ruled the holder's common case out, or could not
        # run, and so could not the complete statement.
        item = visibility.get_visible(actor, WorkItem.objects.all(), pk=item_id)
        leases.worker_of(actor)
        if data is None:
            data = _completion_checked(actor, outcome, result, handle_seconds)
        done = _complete(actor, item, outcome, result or {}, data)
    try:
        return done, leases.work_item_claim(actor=actor)
    except (errors.Conflict, errors.PermissionDenied):
        return done, None


def _complete_and_claim_in_one_statement(
    actor: Principal,
    context: leases.RoutingContext,
    item_id: int,
    outcome: str,
    result: Mapping[str, Any] | None,
    data: Mapping[str, Any],
) -> tuple[WorkItem, pgcycle.ClaimOutcome] | None:
    """The item completed and the pull's outcome by pgcycle's statement, or None
    when this is not the holder's common case (nothing written). Alone (its own
    transaction) when the worker's processes keep no clocks; a next item with clocks
    is then left to the pull (undecided)."""
    now = timezone.now()
    statement = functools.partial(
        pgcycle.complete_and_claim,
        actor=actor,
        item_id=item_id,
        outcome=outcome,
        result=result or {},
        data=data,
        pull=context.pull(),
        now=now,
    )
    if not context.clocked:
        got = statement(alone=True)
        if got is None:
            return None
        if got[0].item is not None:
            return got[0].item, got[1]
    with transaction.atomic():
        got = statement()
        if got is None or got[0].item is None:
            return None
        done, claimed = got
        assert done.item is not None
        if done.has_clocks:
            history.clocks_follow_written(done.item, "completed", now)
        leases.claimed_clocks_follow(claimed, now)
        return done.item, claimed


def _completion_checked(
    actor: Principal | None,
    outcome: str,
    result: Mapping[str, Any] | None,
    handle_seconds: int | None,
) -> dict[str, Any]:
    """The `completed` event's data, once the actor and the input are checked."""
    _require_action(actor, Action.COMPLETE)
    errors.raise_failures(
        [
            (
                "outcome",
                None
                if outcome in Outcome.values
                else BAD_CHOICE.format(value=outcome, allowed=", ".join(Outcome.values)),
            ),
            ("result", None if result is None or isinstance(result, Mapping) else NOT_A_DICT),
            (
                "handle_seconds",
                NEGATIVE if handle_seconds is not None and handle_seconds < 0 else None,
            ),
        ]
    )
    data: dict[str, Any] = {"outcome": outcome}
    if result:
        data["result"] = dict(result)
    if handle_seconds is not None:
        data["handle_seconds"] = handle_seconds
    return data


def _one_statement_open(actor: Principal | None) -> bool:
    """pgcycle's complete can apply: on PostgreSQL, to a provider's user who may act
    on items (a worker holding one)."""
    return (
        connection.vendor == "postgresql"
        and actor is not None
        and actor.user is not None
        and not actor.is_client
        and visibility.allowed(actor, "work_item.act")
    )


def _complete_in_one_statement(
    actor: Principal | None,
    item_id: int,
    outcome: str,
    result: Mapping[str, Any],
    data: Mapping[str, Any],
) -> WorkItem | None:
    """The item completed by pgcycle's statement, or None: the statement path is not
    open to the actor, or this is not the holder's common case (nothing written)."""
    if not _one_statement_open(actor):
        return None
    assert actor is not None
    now = timezone.now()
    statement = functools.partial(
        pgcycle.complete,
        actor=actor,
        item_id=item_id,
        outcome=outcome,
        result=result,
        data=data,
        now=now,
    )
    # Alone (its own transaction) when the worker's processes keep no clocks.
    context = leases.routing_context_kept(actor)
    if context is not None and not context.clocked:
        done = statement(alone=True)
        if done is None:
            return None
        if done.item is not None:
            return done.item
    with transaction.atomic():
        done = statement()
        if done is None or done.item is None:
            return None
        if done.has_clocks:
            # The statement wrote the `completed` event; the clocks follow it.
            history.clocks_follow_written(done.item, "completed", now)
        return done.item


@transaction.atomic
def _complete(
    actor: Principal | None,
    item: WorkItem,
    outcome: str,
    result: Mapping[str, Any],
    data: Mapping[str, Any],
) -> WorkItem:
    locked, target = _begin(actor, item, Action.COMPLETE)
    before = locked.status
    now = timezone.now()
    locked.status, locked.outcome, locked.completed_at = target, outcome, now
    locked.result = dict(result)
    _save(locked, "status", "outcome", "result", "completed_at")
    history.append(
        locked, "completed", actor=actor, data={**_status_change(before, target), **data}, at=now
    )
    return locked


@transaction.atomic
def work_item_fail(*, actor: Principal | None, item: WorkItem, kind: str, reason: str) -> WorkItem:
    """A business failure (bad input) goes to the process's review queue for a human;
    a system failure is retried automatically, as a linked item, with backoff."""
    _require_action(actor, Action.FAIL)
    errors.raise_failures(
        [
            (
                "kind",
                None
                if kind in FailureKind.values
                else BAD_CHOICE.format(value=kind, allowed=", ".join(FailureKind.values)),
            ),
            _text("reason", reason),
        ]
    )
    locked, target = _begin(actor, item, Action.FAIL)
    before = locked.status
    now = timezone.now()
    locked.status, locked.failure_kind, locked.failure_reason = target, kind, reason
    locked.assignee = None
    fields = ["status", "failure_kind", "failure_reason", "assignee"]
    data: dict[str, Any] = {
        **_status_change(before, target),
        "kind": kind,
        "reason": reason,
        "attempt": locked.attempt,
    }
    process = Process.objects.get(pk=locked.process_id)
    if kind == FailureKind.BUSINESS:
        review = review_queue_for(process)
        data["from"], data["to"] = locked.queue_id, review.pk
        locked.queue = review
        fields.append("queue")
    elif locked.attempt <= process.max_system_retries:
        due_at = now + retry_delay(locked.attempt)
        ItemRetry.objects.create(
            item=locked, client_id=locked.client_id, provider_id=locked.provider_id, due_at=due_at
        )
        data["retry_due_at"] = due_at.isoformat()
    else:
        data["retries_exhausted"] = True
    _save(locked, *fields)
    history.append(locked, "failed", actor=actor, data=data, at=now)
    return locked


def retry_delay(attempt: int) -> timedelta:
    """Backoff before retrying a system failure of the `attempt`-th try: 2, 4, 8 ... minutes."""
    return timedelta(minutes=RETRY_BASE_MINUTES**attempt)


def review_queue_for(process: Process) -> Queue:
    """The process's review queue, created (`<process slug>-review`) on first need."""
    existing = Queue.objects.filter(process=process, is_review=True).order_by("pk").first()
    if existing is not None:
        return existing
    # Two first business failures at once must not both create one.
    Process.objects.select_for_update().filter(pk=process.pk).first()
    existing = Queue.objects.filter(process=process, is_review=True).order_by("pk").first()
    if existing is not None:
        return existing
    slug = f"{process.slug}-review"[:80]
    if Queue.objects.filter(client_id=process.client_id, slug=slug).exists():
        slug = f"{process.slug[:60]}-review-{process.pk}"
    return Queue.objects.create(
        client_id=process.client_id,
        provider_id=process.provider_id,
        process=process,
        name=f"{process.name} review"[:200],
        slug=slug,
        is_review=True,
    )


@transaction.atomic
def work_item_reopen(*, actor: Principal | None, item: WorkItem, reason: str = "") -> WorkItem:
    """A completed item goes back to the queue, within the process's reopen window."""
    _require_action(actor, Action.REOPEN)
    locked, target = _begin(actor, item, Action.REOPEN)
    process = Process.objects.get(pk=locked.process_id)
    now = timezone.now()
    completed_at = locked.completed_at
    window = timedelta(hours=process.reopen_window_hours)
    if completed_at is None or now > completed_at + window:
        raise errors.Conflict(
            REOPEN_WINDOW_PASSED.format(
                completed_at=completed_at.isoformat() if completed_at else "an unknown time",
                hours=process.reopen_window_hours,
            ),
            current=str(locked.status),
            reopen_window_hours=process.reopen_window_hours,
            completed_at=completed_at.isoformat() if completed_at else None,
        )
    before = locked.status
    data: dict[str, Any] = {
        **_status_change(before, target),
        "outcome": locked.outcome,
        "completed_at": completed_at.isoformat(),
    }
    if reason:
        data["reason"] = reason
    locked.status, locked.assignee = target, None
    locked.outcome, locked.result, locked.completed_at = "", {}, None
    _save(locked, "status", "assignee", "outcome", "result", "completed_at")
    history.append(locked, "reopened", actor=actor, data=data, at=now)
    return locked


@transaction.atomic
def work_item_cancel(*, actor: Principal | None, item: WorkItem, reason: str) -> WorkItem:
    _require_action(actor, Action.CANCEL)
    errors.raise_failures([_text("reason", reason)])
    locked, target = _begin(actor, item, Action.CANCEL)
    before, locked.status, locked.assignee = locked.status, target, None
    _save(locked, "status", "assignee")
    history.append(
        locked,
        "cancelled",
        actor=actor,
        data={**_status_change(before, target), "reason": reason, "from": _side(actor)},
    )
    return locked


# ------------------------------------------------------------------ system retries


def _retry_reference(parent: WorkItem, attempt: int, tag: str = "") -> str:
    """`<original reference>~retry<n>` for the n-th retry, within the column's length."""
    base = parent.reference
    previous = f"{RETRY_MARK}{parent.attempt - 1}"
    if parent.attempt > 1 and base.endswith(previous):
        base = base[: -len(previous)]
    suffix = f"{RETRY_MARK}{attempt - 1}{tag}"
    return base[: REFERENCE_MAX - len(suffix)] + suffix


def _retry(row: ItemRetry, now: datetime) -> WorkItem | None:
    """Create the retry item of one due row; the caller holds the row's lock."""
    parent = WorkItem.objects.select_for_update().get(pk=row.item_id)
    row.done_at = now
    if parent.status != Status.FAILED or parent.failure_kind != FailureKind.SYSTEM:
        # Cancelled or transferred back to work by a person meanwhile: nothing to retry.
        row.save(update_fields=["done_at", "updated_at"])
        return None
    attempt = parent.attempt + 1
    reference = _retry_reference(parent, attempt)
    if WorkItem.objects.filter(client_id=parent.client_id, reference=reference).exists():
        reference = _retry_reference(parent, attempt, tag=f"-{row.pk}")
    retry = WorkItem.objects.create(
        client_id=parent.client_id,
        provider_id=parent.provider_id,
        process_id=parent.process_id,
        queue_id=parent.queue_id,
        reference=reference,
        priority=parent.priority,
        channel=parent.channel,
        subject=parent.subject,
        payload=parent.payload,
        language=parent.language,
        tags=parent.tags,
        due_at=parent.due_at,
        parent=parent,
        attempt=attempt,
        status=Status.QUEUED,
    )
    history.append(
        retry,
        "created",
        actor=None,
        data={
            "reference": retry.reference,
            "priority": retry.priority,
            "parent": parent.pk,
            "attempt": attempt,
        },
        at=now,
    )
    history.append(retry, "queued", actor=None, data={"queue": retry.queue_id}, at=now)
    history.append(
        parent,
        "retried",
        actor=None,
        data={"retry_item": retry.pk, "reference": retry.reference, "attempt": attempt},
        at=now,
    )
    row.retry_item = retry
    row.save(update_fields=["done_at", "retry_item", "updated_at"])
    return retry


@sweeps.register("work.system_retry")
def work_item_retries_due(now: datetime) -> int:
    """Create the linked retry of every system failure whose backoff has passed."""
    with transaction.atomic():
        due = sweeps.claim_due(
            ItemRetry.objects.filter(done_at__isnull=True, due_at__lte=now).order_by("due_at"),
            limit=RETRY_BATCH,
        )
        for row in due:
            _retry(row, now)
    return len(due)


# ------------------------------------------------------------------ queues

QUEUE_FIELDS = ["name", "slug", "languages", "is_review", "routing_mode", "ordering", "process_id"]
ORDERING_KEYS = ("priority", "due_at", "created_at", "attempt")


def _ordering_problems(ordering: Any) -> list[tuple[str, str | None]]:
    if not isinstance(ordering, list):
        return [("ordering", "must be a list of ordering keys")]
    problems: list[tuple[str, str | None]] = []
    allowed = ", ".join(k for key in ORDERING_KEYS for k in (key, f"-{key}"))
    seen: set[str] = set()
    for i, key in enumerate(ordering):
        bare = key.removeprefix("-") if isinstance(key, str) else None
        if bare not in ORDERING_KEYS:
            problems.append((f"ordering[{i}]", BAD_ORDERING_KEY.format(key=key, allowed=allowed)))
        elif bare in seen:
            problems.append((f"ordering[{i}]", DUPLICATE_ORDERING_KEY.format(key=bare)))
        if bare is not None:
            seen.add(bare)
    return problems


def _queue_problems(data: Mapping[str, Any]) -> list[tuple[str, str | None]]:
    problems: list[tuple[str, str | None]] = []
    for i, lang in enumerate(data.get("languages") or []):
        problems.append((f"languages[{i}]", validators.language_error(lang)))
    if "routing_mode" in data and data["routing_mode"] not in RoutingMode.values:
        problems.append(
            (
                "routing_mode",
                BAD_CHOICE.format(
                    value=data["routing_mode"], allowed=", ".join(RoutingMode.values)
                ),
            )
        )
    if "ordering" in data:
        problems.extend(_ordering_problems(data["ordering"]))
    return problems


def _team_leads(provider_id: int, ids: Sequence[int]) -> list[User]:
    """The users named by `ids`, each a team lead of the provider, or a 422 naming the rest."""
    leads = list(
        User.objects.filter(
            pk__in=set(ids),
            memberships__organisation_id=provider_id,
            memberships__role=Role.TEAM_LEAD,
        ).distinct()
    )
    missing = sorted(set(ids) - {u.pk for u in leads})
    if missing:
        errors.raise_failures(
            [("team_lead_ids", NOT_TEAM_LEADS.format(ids=", ".join(map(str, missing))))]
        )
    return leads


def _leads_snapshot(queue: Queue) -> list[int]:
    return sorted(queue.team_leads.values_list("pk", flat=True))


@transaction.atomic
def queue_create(
    *,
    actor: Principal | None,
    process: Process,
    name: str,
    slug: str = "",
    languages: list[str] | None = None,
    is_review: bool = False,
    routing_mode: str = RoutingMode.PULL,
    ordering: list[str] | None = None,
    team_lead_ids: Sequence[int] = (),
) -> Queue:
    if actor is not None:
        visibility.require(actor, "queue.manage")
        visibility.require_side(actor, OrganisationKind.PROVIDER)
        if not visibility.can_see(actor, process):
            raise errors.NotFound("process not found")
    data = {
        "name": name,
        "languages": list(languages or []),
        "is_review": is_review,
        "routing_mode": routing_mode,
        "ordering": list(ordering or []),
    }
    errors.raise_failures(_queue_problems(data))
    leads = _team_leads(process.provider_id, team_lead_ids)
    slug = slug or slugify(name)[:80] or "queue"
    queue = Queue(
        client_id=process.client_id,
        provider_id=process.provider_id,
        process=process,
        slug=slug,
        **data,
    )
    save_unique(queue, field="slug", value=slug, save=queue.save)
    queue.team_leads.set(leads)
    changes = audit.diff({}, audit.snapshot(queue, QUEUE_FIELDS))
    if leads:
        changes["team_lead_ids"] = [None, _leads_snapshot(queue)]
    audit.record(
        organisation=queue.client, actor=actor, action="queue.create", obj=queue, changes=changes
    )
    return queue


@transaction.atomic
def queue_update(
    *,
    actor: Principal,
    queue: Queue,
    data: Mapping[str, Any],
    team_lead_ids: Sequence[int] | None = None,
) -> Queue:
    """Edit a queue's fields; `team_lead_ids`, when given, replaces its team leads."""
    visibility.require(actor, "queue.manage")
    visibility.require_side(actor, OrganisationKind.PROVIDER)
    errors.raise_failures(_queue_problems(data))
    leads = None if team_lead_ids is None else _team_leads(queue.provider_id, team_lead_ids)
    updated = update_model(
        actor=actor, organisation=queue.client, obj=queue, data=data, action="queue.update"
    )
    if leads is not None:
        before = _leads_snapshot(updated)
        updated.team_leads.set(leads)
        after = _leads_snapshot(updated)
        if before != after:
            audit.record(
                organisation=updated.client,
                actor=actor,
                action="queue.update",
                obj=updated,
                changes={"team_lead_ids": [before, after]},
            )
    return updated
