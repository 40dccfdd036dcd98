"""Several `offload worker`s sweeping SLA clocks at once never fire a threshold twice."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta

import pytest
from django.db import connection, connections

from offload.work import clock_sweep, intake
from offload.work.models import SlaClock, WorkItemEvent
from offload.work.tests.test_clocks import sla_process

WORKERS = 4
ITEMS = 300

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="concurrent writers need PostgreSQL"
    ),
]


def test_four_sweepers_fire_each_warning_exactly_once():
    # given: items whose first-response warning (75 % of 1 h) is due at the sweep
    process = sla_process()
    rows = [{"reference": f"S-{n}", "process": process.slug} for n in range(ITEMS)]
    intake.work_items_bulk_create(actor=None, client=process.client, rows=rows)
    start = SlaClock.objects.filter(item__process=process).values_list("started_at", flat=True)[0]
    now = start + timedelta(minutes=46)
    # small batches, so the sweepers interleave
    fired = [0] * WORKERS
    failures: list[BaseException] = []
    gate = threading.Barrier(WORKERS)

    def sweep(n: int) -> None:
        try:
            gate.wait()
            while True:
                done = clock_sweep.clocks_check(now, limit=25)
                fired[n] += done
                if done == 0 and not SlaClock.objects.filter(next_check_at__lte=now).exists():
                    return
        except BaseException as exc:
            failures.append(exc)
        finally:
            connections.close_all()

    # when
    threads = [threading.Thread(target=sweep, args=(n,)) for n in range(WORKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # then: one warning per item, whoever fired it, and all of them fired
    assert not failures
    warnings = Counter(
        WorkItemEvent.objects.filter(item__process=process, type="sla_warning").values_list(
            "item_id", flat=True
        )
    )
    assert sum(fired) == ITEMS
    assert len(warnings) == ITEMS
    assert set(warnings.values()) == {1}
