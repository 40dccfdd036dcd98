"""SLA attainment of an engagement's month (docs/attainment.md):
`GET /engagements/{engagement_id}/attainment?month=YYYY-MM`,
`GET /engagements/{engagement_id}/attainment/breaches?month=YYYY-MM`,
`POST /engagements/{engagement_id}/attainment/freeze {"month": "YYYY-MM"}`."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any

from django.http import HttpRequest
from ninja import Router, Schema, Status
from pydantic import Field, StringConstraints

from offload.contracts.models import Engagement
from offload.core.pagination import DEFAULT_LIMIT
from offload.core.schemas import Page, StrictIn
from offload.tenancy import visibility
from offload.tenancy.api import principal_of
from offload.tenancy.visibility import Principal
from offload.work import attainment

router = Router(tags=["attainment"])

Month = Annotated[str, StringConstraints(min_length=1, max_length=32)]


class AttainmentLineOut(Schema):
    metric: str
    priority: str
    measured: int = Field(description="Clocks stopped in the month, met or breached")
    met: int
    missed: int = Field(description="Clocks stopped in the month that breached")
    attainment_percent: Decimal | None = Field(
        description="100 * met / measured, cut to two places; null when nothing was measured"
    )
    target_percent: Decimal | None = Field(
        description="The target's attainment_percent; null when the version has no target"
    )
    target_met: bool
    policy_id: int | None = Field(description="The policy version whose target applies")


class AttainmentOut(Schema):
    engagement_id: int
    month: str = Field(description="YYYY-MM")
    frozen: bool
    frozen_at: datetime | None
    frozen_by: str | None = Field(description="The username of who froze it, if a person")
    rows: list[AttainmentLineOut]


class AttainmentBreachOut(Schema):
    clock_id: int
    item_id: int
    reference: str
    subject: str
    metric: str
    priority: str
    due_at: datetime | None
    stopped_at: datetime | None


class AttainmentFreezeIn(StrictIn):
    month: Month = Field(description="The closed month to freeze, YYYY-MM")


def _out(result: attainment.Attainment) -> dict[str, Any]:
    return {
        "engagement_id": result.engagement.pk,
        "month": result.month_label,
        "frozen": result.frozen,
        "frozen_at": result.frozen_at,
        "frozen_by": result.frozen_by,
        "rows": result.lines,
    }


def _engagement(principal: Principal, engagement_id: int) -> Engagement:
    return visibility.get_visible(principal, Engagement.objects.all(), pk=engagement_id)


def _month(raw: str | None) -> date:
    return attainment.month_parse(raw) if raw is not None else attainment.month_current()


@router.get("/engagements/{engagement_id}/attainment", response=AttainmentOut)
def attainment_get(
    request: HttpRequest,
    engagement_id: int,
    month: str | None = None,
) -> dict[str, Any]:
    """A month (YYYY-MM, UTC; the current one when left out): its frozen lines as
    stored, else computed from the clocks."""
    principal = principal_of(request)
    engagement = _engagement(principal, engagement_id)
    result = attainment.attainment_get(
        principal=principal, engagement=engagement, month=_month(month)
    )
    return _out(result)


@router.get("/engagements/{engagement_id}/attainment/breaches", response=Page[AttainmentBreachOut])
def attainment_breaches(
    request: HttpRequest,
    engagement_id: int,
    month: str | None = None,
    cursor: str | None = None,
    limit: int = DEFAULT_LIMIT,
) -> dict[str, object]:
    principal = principal_of(request)
    engagement = _engagement(principal, engagement_id)
    clocks = attainment.attainment_breaches(
        principal=principal, engagement=engagement, month=_month(month)
    )
    rows, next_cursor = attainment.newest_first(clocks, cursor=cursor, limit=limit)
    items = [
        {
            "clock_id": c.pk,
            "item_id": c.item_id,
            "reference": c.item.reference,
            "subject": c.item.subject,
            "metric": c.metric,
            "priority": c.priority,
            "due_at": c.due_at,
            "stopped_at": c.stopped_at,
        }
        for c in rows
    ]
    return {"items": items, "next_cursor": next_cursor}


@router.post("/engagements/{engagement_id}/attainment/freeze", response={201: AttainmentOut})
def attainment_freeze(
    request: HttpRequest, engagement_id: int, payload: AttainmentFreezeIn
) -> Status[dict[str, Any]]:
    principal = principal_of(request)
    engagement = _engagement(principal, engagement_id)
    result = attainment.attainment_freeze(
        actor=principal, engagement=engagement, month=attainment.month_parse(payload.month)
    )
    return Status(201, _out(result))
