"""`offload bench sla-sweep`: the SLA sweep over a million open clocks.

On the database DATABASE_URL names (`offload bench` points it at
BENCH_DATABASE_URL and migrates it first):

1. A process under a policy (24/7, first response 1 business hour, turnaround 4),
   then ITEMS/2 items with their two clocks each (ITEMS clocks), copied in SQL from
   two template items made by the real services: DUE clocks whose first-response
   75 % warning is due now, the rest started now (nothing due for 45 minutes).
2. `sweep_s`: `clock_sweep.clocks_checked(now)`, the sweep `offload worker` runs:
   due clocks found through the partial index on next_check_at, their items locked
   with SKIP LOCKED, clocks ticked, `sla_warning` events written. `flagged` is the
   number of signals it fired (must equal DUE).
3. `naive_s`: the same question answered by a full scan, in the same run: every
   open clock of the table read and asked, through the pure core, whether a check
   is due (what a sweep without the index would do before doing any work).

Usage: `offload bench sla-sweep [--clocks N] [--due N]`. The last line is one JSON
object; docs/benchmarks.md (## sla-sweep) records the figures.
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import datetime, timedelta
from typing import Any

from bench import setup_django

CLOCKS = 1_000_000
DUE = 10_000
ALWAYS_OPEN: dict[str, Any] = {
    "timezone": "UTC",
    "hours": "24/7",
    "holidays": None,
    "closed": [],
    "partial": [],
}


def template(run: str, started: datetime) -> int:
    """An item with its clocks started at `started`, made by the real services."""
    from offload.contracts.tests.factories import (
        make_calendar,
        make_engagement,
        make_policy,
        target,
    )
    from offload.tenancy.tests.factories import make_client, make_provider
    from offload.work import clocks
    from offload.work.tests.factories import make_item, make_process

    tag = f"{run}-{started.timestamp():.0f}"
    engagement = make_engagement(
        make_client(f"SLA client {tag}", slug=f"sla-c-{tag}"),
        make_provider(f"SLA provider {tag}", slug=f"sla-p-{tag}"),
    )
    process = make_process(engagement=engagement)
    policy = make_policy(
        engagement,
        calendar=make_calendar(engagement, ALWAYS_OPEN),
        targets=[
            target("first_response", priority="", value="1", unit="business_hours"),
            target("turnaround", priority="", value="4", unit="business_hours"),
        ],
    )
    item = make_item(process, reference=f"tpl-{run}-{started.timestamp():.0f}")
    process.sla_policy = policy
    process.save()
    item.process = process
    clocks.clocks_start([clocks.facts(item)], at=started)
    return item.pk


def copies(template_id: int, count: int, prefix: str) -> None:
    """`count` copies of the template item and of its clocks, in SQL."""
    from django.db import connection

    from offload.work.models import SlaClock, WorkItem

    item_columns = [
        f.column for f in WorkItem._meta.concrete_fields if f.column not in ("id", "reference")
    ]
    clock_columns = [
        f.column for f in SlaClock._meta.concrete_fields if f.column not in ("id", "item_id")
    ]
    cols = ", ".join(item_columns)
    clock_cols = ", ".join(clock_columns)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO work_workitem ({cols}, reference) "  # noqa: S608
            f"SELECT {cols}, %s || n FROM work_workitem t, generate_series(1, %s) n "
            "WHERE t.id = %s",
            [prefix, count, template_id],
        )
        cursor.execute(
            f"INSERT INTO work_slaclock ({clock_cols}, item_id) "  # noqa: S608
            f"SELECT {', '.join('c.' + c for c in clock_columns)}, i.id "
            "FROM work_workitem i JOIN work_slaclock c ON c.item_id = %s "
            "WHERE i.client_id = (SELECT client_id FROM work_workitem WHERE id = %s) "
            "AND i.reference LIKE %s",
            [template_id, template_id, prefix + "%"],
        )


def naive(now: datetime) -> tuple[float, int]:
    """Every open clock read and asked whether a check is due."""
    from offload.sla import clock as pure
    from offload.work.models import SlaClock

    t0 = time.perf_counter()
    due = 0
    rows = SlaClock.objects.filter(state__in=["running", "paused"]).values_list("data", flat=True)
    for data in rows.iterator(chunk_size=20_000):
        clock = pure.Clock.from_dict(data)
        if clock.next_check_at is not None and clock.next_check_at <= now:
            due += 1
    return time.perf_counter() - t0, due


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="offload bench sla-sweep")
    parser.add_argument("--clocks", type=int, default=CLOCKS)
    parser.add_argument("--due", type=int, default=DUE)
    args = parser.parse_args(argv)
    setup_django()
    from django.db import connection, transaction
    from django.utils import timezone

    from offload.work import clock_sweep
    from offload.work.models import SlaClock

    if connection.vendor != "postgresql":
        raise SystemExit("offload bench sla-sweep needs PostgreSQL (BENCH_DATABASE_URL)")
    run = f"{int(time.time()) % 10**8:x}"
    now = timezone.now()
    t0 = time.perf_counter()
    # Each item has two clocks; of a due item only first response is due (75 %).
    quiet_items = (args.clocks - 2 * args.due) // 2
    with connection.cursor() as cursor:
        # The clocks of earlier runs would fall due in this one: they go.
        cursor.execute(
            "DELETE FROM work_slaclock WHERE item_id IN (SELECT id FROM work_workitem "
            "WHERE reference LIKE 'due-%%' OR reference LIKE 'quiet-%%' "
            "OR reference LIKE 'tpl-%%')"
        )
    with transaction.atomic():
        due_template = template(run, now - timedelta(minutes=50))
        quiet_template = template(run, now)
        copies(due_template, args.due - 1, f"due-{run}-")
        copies(quiet_template, quiet_items - 1, f"quiet-{run}-")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE work_slaclock")
        cursor.execute("ANALYZE work_workitem")
    total = SlaClock.objects.count()
    print(f"world: {total:,} clocks in the table, {time.perf_counter() - t0:.1f} s")
    naive_s, naive_due = naive(now)
    print(f"naive full scan: {naive_s:.2f} s, {naive_due:,} due")
    t0 = time.perf_counter()
    flagged = clock_sweep.clocks_checked(now)
    sweep_s = time.perf_counter() - t0
    print(f"sweep: {flagged:,} flagged in {sweep_s:.2f} s")
    figures = {
        "bench": "sla-sweep",
        "clocks": total,
        "due": naive_due,
        "sweep_s": round(sweep_s, 3),
        "naive_s": round(naive_s, 3),
        "flagged": flagged,
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
