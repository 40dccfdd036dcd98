from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from ninja import Schema
from pydantic import Field, StringConstraints

from offload.contracts.models import Channel, Priority
from offload.core.schemas import StrictIn
from offload.tenancy.schemas import Slug
from offload.work import intake
from offload.work.lifecycle import Status

Reference = Annotated[str, StringConstraints(min_length=1, max_length=intake.REFERENCE_MAX)]
Tag = Annotated[str, StringConstraints(min_length=1, max_length=intake.TAG_MAX)]


class WorkItemOut(Schema):
    id: int
    reference: str
    process: str
    client_id: int
    queue: str
    priority: Priority
    channel: Channel
    subject: str
    payload: dict[str, Any]
    language: str
    status: Status
    assignee_id: int | None
    tags: list[str]
    parent_id: int | None
    outcome: str
    failure_kind: str
    created_at: datetime
    updated_at: datetime

    # Read along with the item where a query could (WorkItem.process_slug); else
    # from the related rows.
    @staticmethod
    def resolve_process(obj: Any) -> str:
        slug = getattr(obj, "process_slug", None)
        return str(slug if slug is not None else obj.process.slug)

    @staticmethod
    def resolve_queue(obj: Any) -> str:
        slug = getattr(obj, "queue_slug", None)
        return str(slug if slug is not None else obj.queue.slug)


class WorkItemIn(StrictIn):
    reference: Reference = Field(description="The client's own id; unique per client")
    process: Slug = Field(description="The process's slug")
    client: Slug | None = Field(
        default=None,
        description="The client's slug: for a provider whose clients share this process slug",
    )
    priority: Priority = Priority.P3
    subject: Annotated[str, StringConstraints(max_length=intake.SUBJECT_MAX)] = ""
    payload: dict[str, Any] = Field(
        default_factory=dict, description="Validated against the process's item schema"
    )
    language: Annotated[str, StringConstraints(max_length=8)] = Field(
        default="", description="ISO 639-1"
    )
    tags: list[Tag] = Field(default_factory=list, max_length=intake.TAGS_MAX)
    parent_id: int | None = None


class WorkItemBulkIn(StrictIn):
    client: Slug | None = Field(
        default=None, description="The client's slug; a provider names it (see docs/work-items.md)"
    )
    # Rows are checked one by one by intake, so a bad row is that row's error, not the call's.
    items: list[dict[str, Any]] = Field(
        description=f"Up to {intake.MAX_BULK_ROWS} items, each shaped like WorkItemIn "
        "without client and parent_id"
    )


class BulkRowOut(Schema):
    index: int
    id: int
    reference: str


class BulkErrorOut(Schema):
    index: int
    field: str
    message: str


class WorkItemBulkOut(Schema):
    accepted: list[BulkRowOut]
    duplicates: list[BulkRowOut]
    errors: list[BulkErrorOut]


class WorkItemFilter(Schema):
    reference: str | None = None
    status: Status | None = None
    process: str | None = Field(default=None, description="The process's slug")
    priority: Priority | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    assignee: int | None = Field(default=None, description="The assignee's user id")
    tag: str | None = None
    q: str | None = Field(default=None, description="Case-insensitive text in the subject")


class WorkItemEventOut(Schema):
    seq: int
    type: str
    at: datetime
    actor: str
    actor_user_id: int | None
    actor_api_key_id: int | None
    data: dict[str, Any]

    @staticmethod
    def resolve_actor(obj: Any) -> str:
        return str(obj.actor_label)
