"""Periodic sweeps of due-time tables, run by `offload worker`.

Anything that must happen at a time is a row with a due time in its own app's
table. An app registers a sweep here (from its AppConfig.ready); the worker calls
every sweep each tick. A sweep claims its due rows with `claim_due`, which takes
row locks with SKIP LOCKED on PostgreSQL so two workers never take the same row,
and relies on SQLite's IMMEDIATE transactions (one writer at a time) there. A
sweep does its work in the transaction that claimed the rows, so a killed worker
rolls back and the rows are still due for the next one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

from django.conf import settings
from django.db import connections, transaction
from django.db.models import Model, QuerySet

logger = logging.getLogger(__name__)

M = TypeVar("M", bound=Model)

SweepFn = Callable[[datetime], int]


@dataclass(frozen=True)
class Sweep:
    name: str
    fn: SweepFn


_registry: dict[str, Sweep] = {}


def register(name: str) -> Callable[[SweepFn], SweepFn]:
    """Register `fn(now) -> rows handled` as a sweep under a unique name."""

    def decorator(fn: SweepFn) -> SweepFn:
        _registry[name] = Sweep(name=name, fn=fn)
        return fn

    return decorator


def unregister(name: str) -> None:
    """Forget a sweep (tests register temporary ones)."""
    _registry.pop(name, None)


def registered() -> list[Sweep]:
    return sorted(_registry.values(), key=lambda s: s.name)


def claim_due(queryset: QuerySet[M], *, limit: int) -> list[M]:
    """Lock and return up to `limit` rows; call inside transaction.atomic().

    Only the swept table's rows are locked (`of=("self",)`): rows joined in by
    select_related, such as a key's organisation, stay free for other writers.
    """
    features = connections[queryset.db].features
    if features.has_select_for_update_skip_locked:
        of = ("self",) if features.has_select_for_update_of else ()
        queryset = queryset.select_for_update(skip_locked=True, of=of)
    return list(queryset[:limit])


def claim_stale(queryset: QuerySet[M], *, field: str, now: datetime, limit: int) -> list[M]:
    """Claim (as claim_due) up to `limit` rows of a background job whose heartbeat
    `field` is older than OFFLOAD_JOB_STALE_SECONDS: their worker died (see
    docs/background.md). Call inside transaction.atomic()."""
    cutoff = now - timedelta(seconds=settings.OFFLOAD_JOB_STALE_SECONDS)
    stale = queryset.filter(**{f"{field}__lt": cutoff}).order_by(field)
    return claim_due(stale, limit=limit)


def claim_leased(queryset: QuerySet[M], *, limit: int, field: str, until: datetime) -> list[M]:
    """Claim up to `limit` rows and push their due-time `field` to `until`, in one short
    transaction of its own, for a sweep that then waits on a network outside it.

    The rows stay due, a lease ahead: a worker killed before it records its work
    leaves them to be taken again when the lease runs out (at least once). Record
    only if the row's `field` still equals `until`, so a row that changed hands
    meanwhile is left alone."""
    with transaction.atomic(using=queryset.db):
        rows = claim_due(queryset, limit=limit)
        queryset.model._default_manager.filter(pk__in=[r.pk for r in rows]).update(**{field: until})
    return rows


def run_all(now: datetime) -> dict[str, int]:
    """Run every sweep once; one failing sweep is logged and does not stop the rest."""
    handled: dict[str, int] = {}
    for sweep in registered():
        try:
            handled[sweep.name] = sweep.fn(now)
        except Exception:
            logger.exception("sweep %s failed", sweep.name)
            handled[sweep.name] = -1
    return handled
