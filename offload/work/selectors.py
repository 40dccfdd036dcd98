"""Reads of work items and their events, always through the visibility rules."""

from __future__ import annotations

from datetime import datetime

from django.db import connection
from django.db.models import BooleanField, Q, QuerySet
from django.db.models.expressions import RawSQL

from offload.tenancy import visibility
from offload.tenancy.visibility import Principal
from offload.work.models import WorkItem, WorkItemEvent


def _has_tag(tag: str) -> Q:
    """Items whose tags list holds `tag` exactly (SQLite has no JSON containment)."""
    if connection.vendor == "sqlite":
        table = WorkItem._meta.db_table
        sql = f'EXISTS (SELECT 1 FROM json_each("{table}"."tags") WHERE json_each.value = %s)'  # noqa: S608 (the model's own table name; the tag is a parameter)
        return Q(RawSQL(sql, (tag,), output_field=BooleanField()))  # noqa: S611 (as above)
    return Q(tags__contains=[tag])


def work_item_list(
    *,
    principal: Principal,
    reference: str | None = None,
    status: str | None = None,
    process: str | None = None,
    priority: str | None = None,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
    assignee: int | None = None,
    tag: str | None = None,
    q: str | None = None,
) -> QuerySet[WorkItem]:
    """The items the principal may see, filtered; one query per page whatever its size."""
    qs = visibility.visible(principal, WorkItem.objects.select_related("process", "queue"))
    filters = Q()
    if reference:
        filters &= Q(reference=reference)
    if status:
        filters &= Q(status=status)
    if process:
        filters &= Q(process__slug=process)
    if priority:
        filters &= Q(priority=priority)
    if created_after:
        filters &= Q(created_at__gte=created_after)
    if created_before:
        filters &= Q(created_at__lt=created_before)
    if assignee is not None:
        filters &= Q(assignee_id=assignee)
    if tag:
        filters &= _has_tag(tag)
    if q:
        filters &= Q(subject__icontains=q)
    return qs.filter(filters)


def work_item_get(*, principal: Principal, item_id: int) -> WorkItem:
    return visibility.get_visible(
        principal, WorkItem.objects.select_related("process", "queue"), pk=item_id
    )


def work_item_events(*, item: WorkItem) -> QuerySet[WorkItemEvent]:
    """The item's events in the order they happened."""
    return WorkItemEvent.objects.filter(item=item).order_by("seq")
