"""`offload bench routing-floor`: how far the pull -> complete cycle is from its floor.

On the world of `offload bench routing` (bench/routing.py), THREADS threads, each a
worker with its own connection, for SECONDS each phase (timed once every thread
has run WARM_UP_CYCLES):

1. `statements_cycles_per_s`: offload's own cycle statements (offload.work.pgcycle)
   called straight, without the services around them.
2. `floor_cycles_per_s`: hand-written statements that make only the writes the
   issue asks of a cycle (the item assigned then completed, the lease inserted then
   ended, the two events, the capacity unit taken and given back, the worker's
   idleness), with the least claim that still honours the worker's queues and
   languages: one read of the provider's backlog in the pull's order, locking the
   first row it can. No routing context check, no clocks, no webhook rows, no
   visibility, no wrap-up, no bound on the rows read, no fallback. Prepared from
   generic plans, as offload's own are. It runs second, on a database the first
   phase has churned, which if anything understates the gap.

Each phase has a world of its own (a provider and its backlog).
`statements_vs_floor` is their ratio: what the routing rules and guarantees cost
in the database. `offload bench routing` measures the services themselves.

Usage: `offload bench routing-floor [--items N] [--threads N] [--seconds S]`.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from bench import setup_django
from bench.routing import World, timed, world_create

ITEMS = 50_000
THREADS = 32
SECONDS = 15.0

FLOOR_CLAIM = """
WITH picked AS (
    SELECT i.id, i.channel FROM work_workitem i
    WHERE i.provider_id = %(provider)s AND i.status IN ('queued', 'escalated')
      AND i.queue_id = ANY(%(queues)s) AND i.language = ANY(%(languages)s)
    ORDER BY i.priority, i.due_at NULLS LAST, i.created_at, i.id
    LIMIT 1 FOR UPDATE SKIP LOCKED
),
cap AS (
    UPDATE workers_workerchannel wc SET load = wc.load + 1 FROM picked p
    WHERE wc.worker_id = %(worker)s AND wc.channel = p.channel AND wc.load < wc.capacity
    RETURNING wc.id
),
upd AS (
    UPDATE work_workitem i SET status = 'assigned', assignee_id = %(user)s, updated_at = %(now)s
    FROM picked p WHERE i.id = p.id AND EXISTS (SELECT 1 FROM cap)
    RETURNING i.*
),
lease AS (
    INSERT INTO work_assignment (item_id, worker_id, client_id, provider_id, assigned_at,
        lease_expires_at, how, work_seconds, wrap_seconds, created_at, updated_at, end_reason)
    SELECT u.id, %(worker)s, u.client_id, u.provider_id, %(now)s,
           %(now)s + interval '5 minutes', 'pull', 0, 0, %(now)s, %(now)s, ''
    FROM upd u
),
ev AS (
    INSERT INTO work_workitemevent (item_id, client_id, provider_id, seq, type, at,
        actor_user_id, actor_label, data)
    SELECT u.id, u.client_id, u.provider_id,
           (SELECT COALESCE(MAX(e.seq), 0) + 1 FROM work_workitemevent e WHERE e.item_id = u.id),
           'assigned', %(now)s, %(user)s, '', '{}'::jsonb
    FROM upd u
),
busy AS (
    UPDATE workers_worker SET idle_since = NULL
    WHERE id = %(worker)s AND EXISTS (SELECT 1 FROM upd)
)
SELECT u.* FROM upd u
"""

FLOOR_COMPLETE = """
WITH cur AS (
    SELECT i.id, i.channel FROM work_workitem i WHERE i.id = %(item)s FOR UPDATE
),
held AS (
    SELECT a.id FROM work_assignment a
    WHERE a.item_id = %(item)s AND a.ended_at IS NULL AND a.worker_id = %(worker)s
    FOR UPDATE
),
upd AS (
    UPDATE work_workitem i SET status = 'completed', outcome = 'resolved',
        completed_at = %(now)s, updated_at = %(now)s
    FROM cur, held WHERE i.id = cur.id
    RETURNING i.*
),
lease AS (
    UPDATE work_assignment a SET ended_at = %(now)s, end_reason = 'completed',
        updated_at = %(now)s
    FROM held WHERE a.id = held.id AND EXISTS (SELECT 1 FROM upd)
),
cap AS (
    UPDATE workers_workerchannel wc SET load = wc.load - 1 FROM cur
    WHERE wc.worker_id = %(worker)s AND wc.channel = cur.channel AND wc.load > 0
      AND EXISTS (SELECT 1 FROM upd)
),
idle AS (
    UPDATE workers_worker SET idle_since = %(now)s
    WHERE id = %(worker)s AND EXISTS (SELECT 1 FROM upd)
),
ev AS (
    INSERT INTO work_workitemevent (item_id, client_id, provider_id, seq, type, at,
        actor_user_id, actor_label, data)
    SELECT u.id, u.client_id, u.provider_id,
           (SELECT COALESCE(MAX(e.seq), 0) + 1 FROM work_workitemevent e WHERE e.item_id = u.id),
           'completed', %(now)s, %(user)s, '', '{}'::jsonb
    FROM upd u
)
SELECT u.* FROM upd u
"""


def floor_cycle(world: World, n: int) -> Callable[[], bool]:
    from offload.core import prepared
    from offload.work.models import Queue
    from offload.workers.models import Worker

    worker = Worker.objects.get(pk=world.worker_ids[n])
    queues = list(
        Queue.objects.filter(process__in=worker.processes.all()).values_list("id", flat=True)
    )
    params: dict[str, Any] = {
        "worker": worker.pk,
        "user": worker.user_id,
        "provider": worker.provider_id,
        "queues": queues,
        "languages": list(worker.languages),
    }

    # Prepared on the server from generic plans, as offload's own statements are.
    claim, complete = prepared.statement(FLOOR_CLAIM), prepared.statement(FLOOR_COMPLETE)

    def cycle() -> bool:
        rows = prepared.rows(claim, {**params, "now": datetime.now(UTC)})
        if not rows:
            return False
        done = prepared.rows(complete, {**params, "item": rows[0][0], "now": datetime.now(UTC)})
        return bool(done)

    return cycle


def statements_cycle(world: World, n: int) -> Callable[[], bool]:
    from offload.tenancy import visibility
    from offload.work import leases, pgcycle
    from offload.workers.models import Worker

    worker = Worker.objects.select_related("user").get(pk=world.worker_ids[n])
    actor = visibility.principal_for_user(worker.user)
    assert actor is not None
    context = leases.routing_context(actor)
    assert context is not None
    assert not context.clocked

    def cycle() -> bool:
        # As a pull runs them: the head alone first, past it after a miss.
        got = leases.claim_statement(actor, context, context.pull(), datetime.now(UTC), alone=True)
        if got.item is None:
            return False
        done = pgcycle.complete(
            actor=actor,
            item_id=got.item.pk,
            outcome="resolved",
            result={},
            data={"outcome": "resolved"},
            now=datetime.now(UTC),
            alone=True,
        )
        return done is not None and done.item is not None

    return cycle


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="offload bench routing-floor")
    parser.add_argument("--items", type=int, default=ITEMS)
    parser.add_argument("--threads", type=int, default=THREADS)
    parser.add_argument("--seconds", type=float, default=SECONDS)
    args = parser.parse_args(argv)
    setup_django()
    from django.db import connection

    if connection.vendor != "postgresql":
        raise SystemExit("offload bench routing-floor needs PostgreSQL (BENCH_DATABASE_URL)")
    run = f"{int(time.time()) % 10**8:x}"
    # A world (a provider and its backlog) each, so neither phase reads the other's
    # completed items in its backlog indexes.
    worlds = [world_create(f"{run}{phase}", args.items, args.threads) for phase in "fs"]
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE work_workitem")
    statements = timed(args.threads, args.seconds, lambda n: statements_cycle(worlds[1], n))
    print(f"offload's statements: {statements:,.0f} cycles/s")
    floor = timed(args.threads, args.seconds, lambda n: floor_cycle(worlds[0], n))
    print(f"floor: {floor:,.0f} cycles/s")
    figures = {
        "bench": "routing-floor",
        "items": len(worlds[0].item_ids),
        "threads": args.threads,
        "floor_cycles_per_s": round(floor, 1),
        "statements_cycles_per_s": round(statements, 1),
        "statements_vs_floor": round(statements / floor, 3) if floor else None,
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
