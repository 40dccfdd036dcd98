"""Escalation rules: what happens when an item's SLA clock warns or breaches.

A rule belongs to a client and names an SLA policy by its slug, so every version of
the policy keeps it. When a clock of an item signals a threshold (a warning percent,
or 100 for the breach), the SLA code calls `signal_escalate` in its transaction, with
the item's row locked and the `sla_warning` / `sla_breached` event appended; each
matching active rule then acts, and every action is an event on the item, written by
the system. The rules are docs/sla.md (## Escalation rules).

Provider admins and ops managers write rules (`escalation_rule.manage`); every write
is audited on the client's chain. The client reads its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from django.db import transaction

from offload.contracts.models import SlaPolicy
from offload.core import errors
from offload.core.errors import FieldError
from offload.sla.clock import Metric
from offload.tenancy import audit, notifications, visibility
from offload.tenancy.models import Organisation, OrganisationKind
from offload.tenancy.visibility import Principal
from offload.work import history, lifecycle, services
from offload.work.models import EscalationRule, Queue, SlaClock, WorkItem

METRICS = tuple(m.value for m in Metric)
BREACH = 100

# What signal_escalate answers, one entry per action taken.
RAISE_PRIORITY = "raise_priority"
MOVE_TO_QUEUE = "move_to_queue"
NOTIFY_TEAM_LEADS = "notify_team_leads"
NOTIFY_CLIENT = "notify_client"

# One step up; P1 is the top.
RAISED = {"P4": "P3", "P3": "P2", "P2": "P1"}
METRIC_NAMES = {"first_response": "first-response", "turnaround": "turnaround"}

BAD_METRIC = "'{value}' is not one of: " + ", ".join(METRICS)
BAD_PERCENT = "a whole percent of the target from 1 to 100 (100 is the breach)"
NO_SUCH_POLICY = "the client has no SLA policy '{slug}'"
QUEUE_NOT_OF_POLICY = (
    "must be a queue of one of the client's processes whose SLA policy is '{slug}'"
)
NO_ACTION = (
    "a rule needs at least one action: raise_priority, notify_team_leads, "
    "move_to_queue_id or notify_client"
)
NOT_YOUR_CLIENT = "no client with this id is served by you"
TITLE_MAX = notifications.TITLE_MAX

# Audited, in this order.
RULE_FIELDS = [
    "policy_slug",
    "metric",
    "on_percent",
    "raise_priority",
    "notify_team_leads",
    "move_to_queue_id",
    "notify_client",
    "is_active",
]
ACTION_FIELDS = ("raise_priority", "notify_team_leads", "move_to_queue_id", "notify_client")
# What an update may change: every audited field but the queue's id, which comes
# as the queue itself (`move_to_queue`, None to clear it).
EDITABLE = frozenset(RULE_FIELDS) - {"move_to_queue_id"} | {"move_to_queue"}


# ------------------------------------------------------------------ signals


def signal_escalate(*, item: WorkItem, metric: str, percent: int, at: datetime) -> list[str]:
    """Run the client's active rules for this signal of one of the item's clocks: the
    rules of the slug of the item's process's SLA policy, of `metric`, whose
    `on_percent` is `percent`. Returns the actions taken, one entry each, in order
    (rule by rule, by id; within a rule: raise_priority, move_to_queue,
    notify_team_leads, notify_client).

    The caller holds the item's row lock and its transaction; `item` is changed in
    place. Each action is an event at `at`, by the system. Routing actions (raising
    the priority, moving) apply only to an open item; the notices apply always."""
    slug = (
        SlaPolicy.objects.filter(processes__pk=item.process_id)
        .values_list("slug", flat=True)
        .first()
    )
    if slug is None:
        return []
    rules = EscalationRule.objects.filter(
        client_id=item.client_id,
        policy_slug=slug,
        metric=metric,
        on_percent=percent,
        is_active=True,
    ).select_related("move_to_queue")
    taken: list[str] = []
    for rule in rules.order_by("id"):
        if rule.raise_priority and _raise_priority(item, rule, at):
            taken.append(RAISE_PRIORITY)
        if rule.move_to_queue is not None and _move(item, rule, rule.move_to_queue, at):
            taken.append(MOVE_TO_QUEUE)
        if rule.notify_team_leads and _notify_team_leads(item, rule, metric, percent, at):
            taken.append(NOTIFY_TEAM_LEADS)
        if rule.notify_client:
            data = {"metric": metric, "percent": percent, "rule": rule.pk}
            # history.append puts it in the webhook outbox of subscribed endpoints.
            history.append(item, "sla_escalated", actor=None, data=data, at=at)
            taken.append(NOTIFY_CLIENT)
    return taken


def _raise_priority(item: WorkItem, rule: EscalationRule, at: datetime) -> bool:
    """One step up, for routing only: `by: rule`, so the clocks keep their targets."""
    raised = RAISED.get(item.priority)
    if raised is None or item.status not in lifecycle.OPEN:
        return False
    before, item.priority = item.priority, raised
    item.save(update_fields=["priority", "updated_at"])
    history.append(
        item,
        "reprioritized",
        actor=None,
        data={"from": before, "to": raised, "by": "rule", "rule": rule.pk},
        at=at,
    )
    return True


def _move(item: WorkItem, rule: EscalationRule, queue: Queue, at: datetime) -> bool:
    """A transfer by the system (the holder's lease ends), to a queue of the item's
    own process; a rule shared by several processes moves only the items of its
    queue's process."""
    if (
        item.status not in lifecycle.OPEN
        or queue.process_id != item.process_id
        or queue.pk == item.queue_id
    ):
        return False
    reason = f"escalation rule {rule.pk}: {rule.metric} at {rule.on_percent}%"
    services.transfer_locked(None, item, queue, reason=reason, extra={"rule": rule.pk}, at=at)
    return True


def _notify_team_leads(
    item: WorkItem, rule: EscalationRule, metric: str, percent: int, at: datetime
) -> bool:
    """The team leads of the queue the item is in now (after a move, the new one's).
    A lead notified of this signal by this rule before is not notified again."""
    queue = Queue.objects.get(pk=item.queue_id)
    leads = list(queue.team_leads.all())
    if not leads:
        return False
    name = METRIC_NAMES.get(metric, metric)
    breach = percent >= BREACH
    title = (
        f"{item.reference} breached its {name} SLA"
        if breach
        else f"{item.reference} has used {percent}% of its {name} SLA"
    )
    due_at = (
        SlaClock.objects.filter(item=item, metric=metric).values_list("due_at", flat=True).first()
    )
    body = f"Queue {queue.name}, priority {item.priority}."
    if due_at is not None:
        body += f" Due {due_at:%Y-%m-%d %H:%M} UTC."
    if item.subject:
        body += f"\n{item.subject}"
    sent = notifications.notification_send(
        recipients=leads,
        kind="sla_breach" if breach else "sla_warning",
        title=title if len(title) <= TITLE_MAX else title[: TITLE_MAX - 3] + "...",
        body=body,
        link=f"/items/{item.pk}/",
        dedupe_key=f"sla:{item.pk}:{metric}:{percent}:{rule.pk}",
    )
    if not sent:
        return False
    history.append(
        item,
        "sla_notified",
        actor=None,
        data={
            "users": sorted({n.recipient_id for n in sent}),
            "rule": rule.pk,
            "metric": metric,
            "percent": percent,
        },
        at=at,
    )
    return True


# ------------------------------------------------------------------ rules


def _require(actor: Principal | None, provider: Organisation) -> None:
    if actor is None:
        return
    visibility.require(actor, "escalation_rule.manage")
    visibility.require_side(actor, OrganisationKind.PROVIDER)
    if actor.organisation.pk != provider.pk:
        raise errors.NotFound(NOT_YOUR_CLIENT)


def escalation_rule_problems(client_id: int, values: Mapping[str, Any]) -> list[FieldError]:
    """What is wrong with a rule of the client whose fields would be `values` (every
    field, the queue as `move_to_queue`). The services and the admin's form ask it."""
    problems: list[FieldError] = []
    slug = values["policy_slug"]
    if not SlaPolicy.objects.filter(client_id=client_id, slug=slug).exists():
        problems.append(FieldError("policy_slug", NO_SUCH_POLICY.format(slug=slug)))
    if values["metric"] not in METRICS:
        problems.append(FieldError("metric", BAD_METRIC.format(value=values["metric"])))
    percent = values["on_percent"]
    if isinstance(percent, bool) or not isinstance(percent, int) or not 1 <= percent <= 100:
        problems.append(FieldError("on_percent", BAD_PERCENT))
    queue: Queue | None = values["move_to_queue"]
    if (
        queue is not None
        and not Queue.objects.filter(
            pk=queue.pk, client_id=client_id, process__sla_policy__slug=slug
        ).exists()
    ):
        problems.append(FieldError("move_to_queue_id", QUEUE_NOT_OF_POLICY.format(slug=slug)))
    if not (
        values["raise_priority"]
        or values["notify_team_leads"]
        or queue is not None
        or values["notify_client"]
    ):
        problems.extend(FieldError(name, NO_ACTION) for name in ACTION_FIELDS)
    return problems


def _raise(problems: list[FieldError]) -> None:
    if problems:
        raise errors.ValidationFailed(problems)


@transaction.atomic
def escalation_rule_create(
    *,
    actor: Principal | None,
    client: Organisation,
    provider: Organisation,
    policy_slug: str,
    metric: str,
    on_percent: int,
    raise_priority: bool = False,
    notify_team_leads: bool = False,
    move_to_queue: Queue | None = None,
    notify_client: bool = False,
    is_active: bool = True,
) -> EscalationRule:
    """A new rule of the client for its policy `policy_slug` (any version)."""
    _require(actor, provider)
    values: dict[str, Any] = {
        "policy_slug": policy_slug,
        "metric": str(metric),
        "on_percent": on_percent,
        "raise_priority": raise_priority,
        "notify_team_leads": notify_team_leads,
        "move_to_queue": move_to_queue,
        "notify_client": notify_client,
        "is_active": is_active,
    }
    _raise(escalation_rule_problems(client.pk, values))
    rule = EscalationRule.objects.create(client=client, provider=provider, **values)
    audit.record_created(
        organisation=client,
        actor=actor,
        action="escalation_rule.create",
        obj=rule,
        fields=RULE_FIELDS,
    )
    return rule


@transaction.atomic
def escalation_rule_update(
    *, actor: Principal | None, rule: EscalationRule, data: Mapping[str, Any]
) -> EscalationRule:
    """Change a rule's fields (`EDITABLE`; `move_to_queue` None clears the move). The
    rule as it would be is checked whole; only what changed is saved and audited."""
    # Not joined to its (nullable) queue: PostgreSQL locks no outer join's rows.
    locked = (
        EscalationRule.objects.select_for_update()
        .select_related("client", "provider")
        .get(pk=rule.pk)
    )
    _require(actor, locked.provider)
    data = {k: (str(v) if k == "metric" else v) for k, v in data.items() if k in EDITABLE}
    values = {
        **{f: getattr(locked, f) for f in EDITABLE},
        **data,
    }
    _raise(escalation_rule_problems(locked.client_id, values))
    before = audit.snapshot(locked, RULE_FIELDS)
    for key, value in data.items():
        setattr(locked, key, value)
    changes = audit.diff(before, audit.snapshot(locked, RULE_FIELDS))
    if changes:
        locked.save()
        audit.record(
            organisation=locked.client,
            actor=actor,
            action="escalation_rule.update",
            obj=locked,
            changes=changes,
        )
    return locked


@transaction.atomic
def escalation_rule_delete(*, actor: Principal | None, rule: EscalationRule) -> None:
    """Delete a rule; the events it wrote stay in the items' histories."""
    locked = EscalationRule.objects.select_related("client", "provider").get(pk=rule.pk)
    _require(actor, locked.provider)
    audit.record_deleted(
        organisation=locked.client,
        actor=actor,
        action="escalation_rule.delete",
        obj=locked,
        fields=RULE_FIELDS,
    )
    locked.delete()
