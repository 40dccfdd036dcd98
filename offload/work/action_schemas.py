"""Request bodies of the work-item actions and of queue management."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from ninja import Schema
from pydantic import Field, StringConstraints

from offload.contracts.models import Priority
from offload.core.schemas import PatchIn, StrictIn
from offload.tenancy.schemas import Language, Name, Slug
from offload.work.models import FailureKind, Outcome, RoutingMode

TEXT_MAX = 20_000
NOTE_MAX = 2_000
# A day and a half of handling is longer than any single piece of work.
HANDLE_SECONDS_MAX = 36 * 3600
ORDERING_MAX = 8
TEAM_LEADS_MAX = 50

Text = Annotated[str, StringConstraints(min_length=1, max_length=TEXT_MAX)]
Reason = Annotated[str, StringConstraints(min_length=1, max_length=NOTE_MAX)]
Note = Annotated[str, StringConstraints(max_length=NOTE_MAX)]
OrderingKey = Annotated[str, StringConstraints(min_length=1, max_length=40)]
# An id that fits a bigint column, so a larger number is a 422 naming the field.
Id = Annotated[int, Field(ge=1, le=2**63 - 1)]


class WorkItemCommentIn(StrictIn):
    text: Text = Field(description="An internal note; not sent to the customer")


class WorkItemReplyIn(StrictIn):
    text: Text = Field(description="A public message; from the provider it counts as a response")


class WorkItemWaitIn(StrictIn):
    note: Note = Field(default="", description="What the item waits for")


class WorkItemResumeIn(StrictIn):
    note: Note = ""


class WorkItemEscalateIn(StrictIn):
    reason: Reason


class WorkItemTransferIn(StrictIn):
    queue: Slug = Field(description="The slug of another queue of the item's process")
    reason: Note = ""


class WorkItemCompleteIn(StrictIn):
    outcome: Outcome
    result: dict[str, Any] = Field(
        default_factory=dict, description="A result payload for the client's systems"
    )
    handle_seconds: int | None = Field(
        default=None, ge=0, le=HANDLE_SECONDS_MAX, description="Time spent handling the item"
    )


class WorkItemFailIn(StrictIn):
    kind: FailureKind = Field(
        description="business: bad input, to the review queue; system: retried automatically"
    )
    reason: Reason


class WorkItemReopenIn(StrictIn):
    reason: Note = ""


class WorkItemCancelIn(StrictIn):
    reason: Reason


class WorkItemReprioritizeIn(StrictIn):
    priority: Priority = Field(description="P1 (highest) to P4; the SLA targets follow it")
    reason: Note = ""


class QueueOut(Schema):
    id: int
    client_id: int
    provider_id: int
    process_id: int
    name: str
    slug: str
    languages: list[str]
    is_review: bool
    routing_mode: RoutingMode
    ordering: list[str]
    team_lead_ids: list[int]
    created_at: datetime

    @staticmethod
    def resolve_team_lead_ids(obj: Any) -> list[int]:
        return sorted(user.pk for user in obj.team_leads.all())


class QueueIn(StrictIn):
    process_id: Id
    name: Name
    slug: Slug | None = None
    languages: list[Language] = Field(default_factory=list, max_length=50)
    is_review: bool = False
    routing_mode: RoutingMode = RoutingMode.PULL
    ordering: list[OrderingKey] = Field(
        default_factory=list,
        max_length=ORDERING_MAX,
        description="Keys from: priority, due_at, created_at, attempt; '-' sorts descending",
    )
    team_lead_ids: list[Id] = Field(default_factory=list, max_length=TEAM_LEADS_MAX)


class QueuePatch(PatchIn):
    name: Name | None = None
    slug: Slug | None = None
    languages: list[Language] | None = Field(default=None, max_length=50)
    is_review: bool | None = None
    routing_mode: RoutingMode | None = None
    ordering: list[OrderingKey] | None = Field(default=None, max_length=ORDERING_MAX)
    team_lead_ids: list[Id] | None = Field(default=None, max_length=TEAM_LEADS_MAX)
