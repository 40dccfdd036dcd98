"""Reads for workers, always through the visibility rules."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet
from django.db.models.fields.json import KeyTransform

from offload.contracts.models import Process
from offload.tenancy import visibility
from offload.tenancy.visibility import Principal
from offload.workers.models import PresenceChange, Worker


def with_details(queryset: QuerySet[Worker]) -> QuerySet[Worker]:
    """Workers with their user, site, channels and processes: a fixed number of queries
    for any number of workers."""
    processes = Process.objects.only("id", "slug", "name", "client_id", "channel").order_by("id")
    return queryset.select_related("user", "site").prefetch_related(
        "channels", Prefetch("processes", queryset=processes)
    )


def worker_list(
    *,
    principal: Principal,
    kind: str | None = None,
    site_id: int | None = None,
    presence: str | None = None,
    process_id: int | None = None,
    skill: str | None = None,
    skill_level: int | None = None,
    is_active: bool | None = None,
) -> QuerySet[Worker]:
    """The principal's workers (a client's list is empty), filtered.

    `skill` keeps workers with that skill at `skill_level` or above (any level if
    not given); `process_id` keeps those certified on that process.
    """
    qs = visibility.visible(principal, with_details(Worker.objects.all()))
    if kind:
        qs = qs.filter(kind=kind)
    if site_id is not None:
        qs = qs.filter(site_id=site_id)
    if presence:
        qs = qs.filter(presence=presence)
    if process_id is not None:
        qs = qs.filter(processes=process_id)
    if skill:
        qs = qs.alias(skill_level=KeyTransform(skill, "skills")).filter(
            skill_level__gte=skill_level or 1
        )
    if is_active is not None:
        qs = qs.filter(is_active=is_active)
    return qs


def worker_get(*, principal: Principal, worker_id: int) -> Worker:
    """One visible worker with its details, or NotFound."""
    return visibility.get_visible(principal, with_details(Worker.objects.all()), pk=worker_id)


def worker_for_principal(principal: Principal) -> Worker | None:
    """The worker the caller is: a user's login or a key acting as a user ("a worker's
    API key acts as that worker"). None for anyone else, including organisation keys.
    The worker may be inactive; the caller decides what that allows."""
    if principal.user is None or not principal.is_provider:
        return None
    qs = Worker.objects.filter(user=principal.user, provider=principal.organisation)
    return with_details(qs).first()


def presence_change_list(*, principal: Principal, worker: Worker) -> QuerySet[PresenceChange]:
    return visibility.visible(principal, PresenceChange.objects.filter(worker=worker))
