"""Exactly one owner per item under real concurrency (PostgreSQL, SKIP LOCKED).

32 threads, each a worker with its own database connection, pull and complete
5,000 items until none is left. Every item must have been assigned exactly once
(one lease, one `assigned` event), completed once, and every worker's capacity
must be back to zero.
"""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from django.db import connection, connections

from offload.tenancy import visibility
from offload.work import intake, leases, services
from offload.work.models import Assignment, WorkItem, WorkItemEvent
from offload.work.tests.factories import make_process
from offload.workers import services as worker_services
from offload.workers.models import WorkerChannel
from offload.workers.tests.factories import make_agent

THREADS = 32
ITEMS = 5_000

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="concurrent writers need PostgreSQL"
    ),
]


def test_32_workers_pulling_5000_items_assign_each_exactly_once():
    # given
    process = make_process(wrap_up_seconds=0)
    rows = [{"reference": f"C-{n}", "process": process.slug} for n in range(ITEMS)]
    accepted = intake.work_items_bulk_create(actor=None, client=process.client, rows=rows)
    assert len(accepted.accepted) == ITEMS
    workers = [
        worker_services.worker_set_presence(
            actor=None,
            worker=make_agent(
                process.provider, skills={}, processes=[process], channels={"email": 1}
            ),
            presence="available",
        )
        for _ in range(THREADS)
    ]
    completed: list[list[int]] = [[] for _ in workers]
    failures: list[BaseException] = []

    def work(n: int) -> None:
        try:
            actor = visibility.principal_for_user(workers[n].user)
            assert actor is not None
            while True:
                claim = leases.work_item_claim(actor=actor)
                if claim is None:
                    break
                services.work_item_complete(actor=actor, item=claim.item, outcome="resolved")
                completed[n].append(claim.item.pk)
        except BaseException as exc:
            failures.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work, args=(n,)) for n in range(THREADS)]
    # when
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # then
    assert failures == []
    done = [pk for mine in completed for pk in mine]
    assert len(done) == ITEMS
    assert len(set(done)) == ITEMS
    assert WorkItem.objects.filter(client=process.client, status="completed").count() == ITEMS
    per_item = Counter(Assignment.objects.values_list("item_id", flat=True))
    assert set(per_item.values()) == {1}
    assigned = Counter(
        WorkItemEvent.objects.filter(type="assigned").values_list("item_id", flat=True)
    )
    assert len(assigned) == ITEMS
    assert set(assigned.values()) == {1}
    assert sum(WorkerChannel.objects.values_list("load", flat=True)) == 0
    # and the work was shared, not done by one thread holding a lock
    assert sum(1 for mine in completed if mine) > 1
