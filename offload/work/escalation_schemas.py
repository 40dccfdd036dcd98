"""Request and answer bodies of the escalation rules (`/escalation-rules`)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from ninja import Schema
from pydantic import Field

from offload.core.schemas import PatchIn, StrictIn
from offload.tenancy.schemas import Slug

Id = Annotated[int, Field(ge=1, le=2**63 - 1)]
TimeMetric = Literal["first_response", "turnaround"]
Percent = Annotated[int, Field(ge=1, le=100)]

PERCENT = "The threshold: a warning percent of the policy, or 100 for the breach"
QUEUE = "Move the item to this queue of its process (a process with this SLA policy)"


class EscalationRuleIn(StrictIn):
    client_id: Id = Field(description="The client whose SLA policy it is")
    policy_slug: Slug = Field(description="The policy's slug: every version of it")
    metric: TimeMetric
    on_percent: Percent = Field(description=PERCENT)
    raise_priority: bool = Field(default=False, description="One step up (P4 to P3 ... P2 to P1)")
    notify_team_leads: bool = Field(
        default=False, description="Notify the team leads of the item's queue"
    )
    move_to_queue_id: Id | None = Field(default=None, description=QUEUE)
    notify_client: bool = Field(
        default=False, description="An sla_escalated event, sent to the client's webhooks"
    )
    is_active: bool = True


class EscalationRulePatch(PatchIn):
    NULLABLE = frozenset({"move_to_queue_id"})

    policy_slug: Slug | None = None
    metric: TimeMetric | None = None
    on_percent: Percent | None = Field(default=None, description=PERCENT)
    raise_priority: bool | None = None
    notify_team_leads: bool | None = None
    move_to_queue_id: Id | None = Field(default=None, description=QUEUE + "; null: no move")
    notify_client: bool | None = None
    is_active: bool | None = None


class EscalationRuleOut(Schema):
    id: int
    client_id: int
    provider_id: int
    policy_slug: str
    metric: str
    on_percent: int
    raise_priority: bool
    notify_team_leads: bool
    move_to_queue_id: int | None
    notify_client: bool
    is_active: bool
    created_at: datetime
    updated_at: datetime
