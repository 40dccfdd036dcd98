"""Escalation rules: `GET/POST /escalation-rules`, `GET/PATCH/DELETE
/escalation-rules/{rule_id}`. The rules are docs/sla.md (## Escalation rules)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Router, Status

from offload.core.pagination import DEFAULT_LIMIT, page
from offload.core.schemas import Page, resolve
from offload.tenancy import visibility
from offload.tenancy.api import principal_of
from offload.tenancy.visibility import Principal
from offload.work import escalations, webhooks
from offload.work.escalation_schemas import (
    EscalationRuleIn,
    EscalationRuleOut,
    EscalationRulePatch,
)
from offload.work.models import EscalationRule, Queue

router = Router(tags=["sla"])

WRITES = (
    "Provider admins and ops managers. 422 names `policy_slug` (no such policy of the "
    "client), `metric`, `on_percent` (1 to 100), `move_to_queue_id` (not a queue of a "
    "process with this policy) or, when no action is chosen, every action field."
)


def _queue(principal: Principal, queue_id: int | None) -> Queue | None:
    if queue_id is None:
        return None
    return resolve(
        visibility.visible(principal, Queue.objects.all()), field="move_to_queue_id", pk=queue_id
    )


@router.get("/escalation-rules", response=Page[EscalationRuleOut])
def escalation_rule_list(
    request: HttpRequest,
    policy_slug: str | None = None,
    cursor: str | None = None,
    limit: int = DEFAULT_LIMIT,
) -> dict[str, object]:
    qs = visibility.visible(principal_of(request), EscalationRule.objects.all())
    if policy_slug is not None:
        qs = qs.filter(policy_slug=policy_slug)
    return page(qs, cursor=cursor, limit=limit)


@router.post("/escalation-rules", response={201: EscalationRuleOut}, description=WRITES)
def escalation_rule_create(
    request: HttpRequest, payload: EscalationRuleIn
) -> Status[EscalationRule]:
    principal = principal_of(request)
    client, provider = webhooks.client_and_provider(principal, payload.client_id)
    rule = escalations.escalation_rule_create(
        actor=principal,
        client=client,
        provider=provider,
        policy_slug=payload.policy_slug,
        metric=payload.metric,
        on_percent=payload.on_percent,
        raise_priority=payload.raise_priority,
        notify_team_leads=payload.notify_team_leads,
        move_to_queue=_queue(principal, payload.move_to_queue_id),
        notify_client=payload.notify_client,
        is_active=payload.is_active,
    )
    return Status(201, rule)


@router.get("/escalation-rules/{rule_id}", response=EscalationRuleOut)
def escalation_rule_get(request: HttpRequest, rule_id: int) -> EscalationRule:
    return visibility.get_visible(principal_of(request), EscalationRule.objects.all(), pk=rule_id)


@router.patch("/escalation-rules/{rule_id}", response=EscalationRuleOut, description=WRITES)
def escalation_rule_update(
    request: HttpRequest, rule_id: int, payload: EscalationRulePatch
) -> EscalationRule:
    principal = principal_of(request)
    rule = visibility.get_visible(principal, EscalationRule.objects.all(), pk=rule_id)
    data: dict[str, Any] = payload.model_dump(exclude_unset=True)
    if "move_to_queue_id" in data:
        data["move_to_queue"] = _queue(principal, data.pop("move_to_queue_id"))
    return escalations.escalation_rule_update(actor=principal, rule=rule, data=data)


@router.delete("/escalation-rules/{rule_id}", response={204: None})
def escalation_rule_delete(request: HttpRequest, rule_id: int) -> Status[None]:
    principal = principal_of(request)
    rule = visibility.get_visible(principal, EscalationRule.objects.all(), pk=rule_id)
    escalations.escalation_rule_delete(actor=principal, rule=rule)
    return Status(204, None)
