"""Builders for work-item tests: queues and items, items made through intake."""

from __future__ import annotations

import itertools
from typing import Any

from offload.contracts import services as contract_services
from offload.contracts.models import Process
from offload.contracts.tests.factories import make_engagement
from offload.work import intake
from offload.work.models import Queue, WorkItem

_seq = itertools.count(1)


def make_process(**overrides: Any) -> Process:
    """A process of a new engagement (a new client and provider) unless one is given."""
    engagement = overrides.pop("engagement", None) or make_engagement()
    n = next(_seq)
    return contract_services.process_create(
        actor=None,
        engagement=engagement,
        name=overrides.pop("name", f"Process {n}"),
        channel=overrides.pop("channel", "email"),
        **overrides,
    )


def make_queue(process: Process, **overrides: Any) -> Queue:
    n = next(_seq)
    fields: dict[str, Any] = {
        "name": f"Queue {n}",
        "slug": f"queue-{n}",
        "languages": [],
        "is_review": False,
        **overrides,
    }
    return Queue.objects.create(
        client_id=process.client_id, provider_id=process.provider_id, process=process, **fields
    )


def make_item(process: Process | None = None, **overrides: Any) -> WorkItem:
    """A queued item, created through intake as the system (actor None)."""
    process = process or make_process()
    fields: dict[str, Any] = {"reference": f"REF-{next(_seq)}", **overrides}
    item, _ = intake.work_item_create(actor=None, client=process.client, process=process, **fields)
    return item
