"""The actions on a work item: `POST /items/{item_id}/<action>`.

Each endpoint parses its body, finds the item among those the caller may see and
calls the action's service; the answer is the item as it is after the action. An
action the lifecycle forbids in the item's status is a 409 problem naming
`current` and `allowed`.
"""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Router

from offload.tenancy import visibility
from offload.tenancy.api import principal_of
from offload.tenancy.visibility import Principal
from offload.work import services
from offload.work.action_schemas import (
    WorkItemCancelIn,
    WorkItemCommentIn,
    WorkItemCompleteIn,
    WorkItemEscalateIn,
    WorkItemFailIn,
    WorkItemReopenIn,
    WorkItemReplyIn,
    WorkItemReprioritizeIn,
    WorkItemResumeIn,
    WorkItemTransferIn,
    WorkItemWaitIn,
)
from offload.work.models import WorkItem
from offload.work.schemas import WorkItemOut

router = Router(tags=["work"])

CONFLICT = "409: the action is not allowed in the item's status (`current`, `allowed`)"


def _item(request: HttpRequest, item_id: int) -> tuple[Principal, WorkItem]:
    principal = principal_of(request)
    return principal, visibility.get_visible(principal, WorkItem.objects.all(), pk=item_id)


@router.post("/items/{item_id}/comment", response=WorkItemOut, description=CONFLICT)
def work_item_comment(request: HttpRequest, item_id: int, payload: WorkItemCommentIn) -> WorkItem:
    """An internal note on the item."""
    actor, item = _item(request, item_id)
    return services.work_item_comment(actor=actor, item=item, text=payload.text)


@router.post("/items/{item_id}/reply", response=WorkItemOut, description=CONFLICT)
def work_item_reply(request: HttpRequest, item_id: int, payload: WorkItemReplyIn) -> WorkItem:
    """A public reply; a client's reply to an item waiting on it resumes the item."""
    actor, item = _item(request, item_id)
    return services.work_item_reply(actor=actor, item=item, text=payload.text)


@router.post("/items/{item_id}/wait", response=WorkItemOut, description=CONFLICT)
def work_item_wait(request: HttpRequest, item_id: int, payload: WorkItemWaitIn) -> WorkItem:
    """The item waits on the client."""
    actor, item = _item(request, item_id)
    return services.work_item_wait(actor=actor, item=item, note=payload.note)


@router.post("/items/{item_id}/resume", response=WorkItemOut, description=CONFLICT)
def work_item_resume(request: HttpRequest, item_id: int, payload: WorkItemResumeIn) -> WorkItem:
    """The client answered; the item is worked on again."""
    actor, item = _item(request, item_id)
    return services.work_item_resume(actor=actor, item=item, note=payload.note)


@router.post("/items/{item_id}/escalate", response=WorkItemOut, description=CONFLICT)
def work_item_escalate(request: HttpRequest, item_id: int, payload: WorkItemEscalateIn) -> WorkItem:
    actor, item = _item(request, item_id)
    return services.work_item_escalate(actor=actor, item=item, reason=payload.reason)


@router.post("/items/{item_id}/transfer", response=WorkItemOut, description=CONFLICT)
def work_item_transfer(request: HttpRequest, item_id: int, payload: WorkItemTransferIn) -> WorkItem:
    """To another queue of the item's process, by its slug; the item is queued there."""
    actor, item = _item(request, item_id)
    return services.work_item_transfer(
        actor=actor, item=item, queue=payload.queue, reason=payload.reason
    )


@router.post("/items/{item_id}/complete", response=WorkItemOut, description=CONFLICT)
def work_item_complete(request: HttpRequest, item_id: int, payload: WorkItemCompleteIn) -> WorkItem:
    # By id: the holder's completion reads the item only in its own statement.
    return services.work_item_complete_held(
        actor=principal_of(request),
        item_id=item_id,
        outcome=payload.outcome,
        result=payload.result,
        handle_seconds=payload.handle_seconds,
    )


@router.post("/items/{item_id}/fail", response=WorkItemOut, description=CONFLICT)
def work_item_fail(request: HttpRequest, item_id: int, payload: WorkItemFailIn) -> WorkItem:
    """business: to the process's review queue; system: retried automatically with backoff."""
    actor, item = _item(request, item_id)
    return services.work_item_fail(actor=actor, item=item, kind=payload.kind, reason=payload.reason)


@router.post("/items/{item_id}/reopen", response=WorkItemOut, description=CONFLICT)
def work_item_reopen(request: HttpRequest, item_id: int, payload: WorkItemReopenIn) -> WorkItem:
    """A completed item, within the process's reopen window (else 409 naming the window)."""
    actor, item = _item(request, item_id)
    return services.work_item_reopen(actor=actor, item=item, reason=payload.reason)


@router.post("/items/{item_id}/cancel", response=WorkItemOut, description=CONFLICT)
def work_item_cancel(request: HttpRequest, item_id: int, payload: WorkItemCancelIn) -> WorkItem:
    actor, item = _item(request, item_id)
    return services.work_item_cancel(actor=actor, item=item, reason=payload.reason)


@router.post(
    "/items/{item_id}/reprioritize",
    response=WorkItemOut,
    description="The provider's people; a client may not (403). 409 when the item is closed "
    "or cancelled; the same priority again changes nothing.",
)
def work_item_reprioritize(
    request: HttpRequest, item_id: int, payload: WorkItemReprioritizeIn
) -> WorkItem:
    """A new priority: routing order and the SLA targets follow it."""
    actor, item = _item(request, item_id)
    return services.work_item_reprioritize(
        actor=actor, item=item, priority=payload.priority, reason=payload.reason
    )
