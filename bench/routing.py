"""`offload bench routing`: pull -> complete cycles, beside a generic job queue.

On the database DATABASE_URL names (`offload bench` points it at
BENCH_DATABASE_URL and migrates it first):

1. Service level, in process (no HTTP): THREADS threads, each a worker with its
   own connection, loop `leases.work_item_claim` then `services.work_item_complete`
   (events, leases and capacity included) against ITEMS queued items spread over
   QUEUES queues whose processes require skills and languages, for SECONDS (timed
   once each has run WARM_UP_CYCLES) or until the backlog is empty.
   `cycles_per_s`, `pull_p99_ms` (the claim's latency in the threads),
   `double_assignments` (items with more than one lease: must be 0; nothing
   expires during the run).
   Then the same on a world of its own, each cycle one
   `services.work_item_complete_and_claim` (complete-and-next) after a first
   pull: `fused_cycles_per_s`, `fused_ratio_vs_peer`, `fused_p99_ms` (one call).
2. The peer: procrastinate's own claim and finish functions
   (`procrastinate_fetch_job_v2`, one claim per call with SKIP LOCKED, and
   `procrastinate_finish_job_v1`) over as many no-op jobs in the same database
   (its schema in a schema of its own), with the same threads, warm-up and time budget.
   `peer_per_s`; `ratio_vs_peer` = cycles_per_s / peer_per_s. The peer runs
   without procrastinate's Python worker loop: that makes it faster, not slower.

3. The issue's yardstick, "a minimal ORM claim manages about 300/s here": the same
   threads on a world of their own, each looping a claim alone through Django's
   ORM (orm_claim_for): `orm_claims_per_s`, whether the machine is as quick as
   when the issue's figures were written.
4. Over HTTP: HTTP_CLIENTS clients, each an agent with its own API key, against
   gunicorn as the README's production section runs it, timed after WARM_UP_CYCLES
   each: `http_cycles_per_s`, `http_p50_ms`, `http_p99_ms` (per request); then the
   same clients looping complete-and-next: `http_fused_cycles_per_s`,
   `http_fused_p50_ms`, `http_fused_p99_ms`. `--http-clients 0` skips both (their
   keys are then null).

Usage: `offload bench routing [--items N] [--threads N] [--seconds S]
[--http-clients N] [--http-seconds S]`. The last line is one JSON object;
docs/benchmarks.md (## routing) records the figures.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import setup_django
from bench.intake import free_port, wait_listening

ITEMS = 50_000
QUEUES = 20
THREADS = 32
HTTP_CLIENTS = 64
# Untimed cycles each thread or client runs first: its connection, prepared
# statements, kept key and routing context are made then, not in the timed window.
WARM_UP_CYCLES = 5
SECONDS = 30.0
LANGUAGES = ["en", "de", "es", "pl"]


@dataclass
class World:
    run: str
    worker_ids: list[int]
    item_ids: list[int]
    provider_id: int
    process_ids: list[int]


@dataclass
class Window:
    """The timed window: it opens when every thread, warmed up, has reached the gate."""

    seconds: float
    start: float = 0.0
    end: float = 0.0

    def gate(self, threads: int) -> threading.Barrier:
        """The gate the threads and the main thread meet at."""
        return threading.Barrier(threads + 1, action=self._open)

    def _open(self) -> None:
        self.start = time.perf_counter()
        self.end = self.start + self.seconds

    def elapsed(self) -> float:
        return time.perf_counter() - self.start


def world_create(run: str, items: int, threads: int) -> World:
    from offload.contracts import services as contract_services
    from offload.contracts.tests.factories import make_engagement
    from offload.tenancy.tests.factories import make_client, make_provider, make_site
    from offload.work import intake

    rng = random.Random(7)
    provider = make_provider(f"Bench {run}", slug=f"bench-{run}")
    site = make_site(provider)
    engagements = [
        make_engagement(make_client(f"Client {run} {k}", slug=f"c{k}-{run}"), provider)
        for k in range(4)
    ]
    processes = []
    for n in range(QUEUES):
        engagement = engagements[n % 4]
        processes.append(
            contract_services.process_create(
                actor=None,
                engagement=engagement,
                name=f"Process {n}",
                slug=f"p{n}-{run}",
                channel="back_office",
                required_skills={f"skill{n % 5}": 1 + n % 3},
                languages=LANGUAGES,
                wrap_up_seconds=0,
            )
        )
    for process in processes:
        intake.queue_default(process)
    by_client: dict[int, list[Any]] = {}
    for process in processes:
        by_client.setdefault(process.client_id, []).append(process)
    item_ids: list[int] = []
    per_client = items // len(by_client)
    for client_processes in by_client.values():
        client = client_processes[0].client
        rows = [
            {
                "reference": f"{run}-{client.pk}-{i}",
                "process": rng.choice(client_processes).slug,
                "priority": rng.choice(["P1", "P2", "P3", "P3", "P4"]),
                "language": rng.choice(LANGUAGES),
                "subject": "Invoice to check",
                "payload": {"amount": rng.randint(1, 10_000)},
            }
            for i in range(per_client)
        ]
        for start in range(0, len(rows), 5_000):
            result = intake.work_items_bulk_create(
                actor=None, client=client, rows=rows[start : start + 5_000]
            )
            item_ids += [int(a["id"]) for a in result.accepted]
    workers = agents_make(provider, site, processes, [f"agent{n}-{run}" for n in range(threads)])
    return World(run, [w.pk for w in workers], item_ids, provider.pk, [p.pk for p in processes])


def agents_make(provider: Any, site: Any, processes: list[Any], usernames: list[str]) -> list[Any]:
    """Available agents certified on every process: level 3 in every skill, English
    and one other language (in turn), room for one back-office item."""
    from offload.workers import services as worker_services
    from offload.workers.tests.factories import make_agent

    workers = []
    for n, username in enumerate(usernames):
        worker = make_agent(
            provider,
            username=username,
            site=site,
            skills={f"skill{k}": 3 for k in range(5)},
            languages=["en", LANGUAGES[1 + n % 3]],
            processes=processes,
            channels={"back_office": 1},
        )
        workers.append(
            worker_services.worker_set_presence(actor=None, worker=worker, presence="available")
        )
    return workers


def bench_service(world: World, seconds: float, fused: bool = False) -> tuple[float, float, int]:
    """Cycles per second, the p99 of the pull in ms, and the double assignments.
    `fused`: each cycle is one `work_item_complete_and_claim` (after a first pull),
    and the latency timed is that call's."""
    from django.db import connection, connections

    from offload.tenancy import visibility
    from offload.work import leases, services
    from offload.workers.models import Worker

    latencies: list[float] = []
    cycles = [0] * len(world.worker_ids)
    failures: list[BaseException] = []
    lock = threading.Lock()
    window = Window(seconds)
    start_gate = window.gate(len(world.worker_ids))

    def work(n: int) -> None:
        try:
            worker = Worker.objects.select_related("user").get(pk=world.worker_ids[n])
            actor = visibility.principal_for_user(worker.user)
            assert actor is not None
            mine: list[float] = []
            for _ in range(WARM_UP_CYCLES):
                warm = leases.work_item_claim(actor=actor)
                if warm is not None:
                    services.work_item_complete(actor=actor, item=warm.item, outcome="resolved")
            start_gate.wait()
            claim = leases.work_item_claim(actor=actor) if fused else None
            while time.perf_counter() < window.end:
                t0 = time.perf_counter()
                if fused:
                    if claim is None:
                        break
                    _, claim = services.work_item_complete_and_claim(
                        actor=actor, item_id=claim.item.pk, outcome="resolved"
                    )
                    mine.append(time.perf_counter() - t0)
                    cycles[n] += 1
                    continue
                claim = leases.work_item_claim(actor=actor)
                mine.append(time.perf_counter() - t0)
                if claim is None:
                    break
                services.work_item_complete(actor=actor, item=claim.item, outcome="resolved")
                cycles[n] += 1
            with lock:
                latencies.extend(mine)
        except BaseException as exc:
            failures.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work, args=(n,)) for n in range(len(world.worker_ids))]
    for thread in threads:
        thread.start()
    start_gate.wait()
    for thread in threads:
        thread.join()
    elapsed = window.elapsed()
    if failures:
        raise failures[0]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM (SELECT item_id FROM work_assignment WHERE item_id = ANY(%s) "
            "GROUP BY item_id HAVING count(*) > 1) AS d",
            [world.item_ids],
        )
        doubles = int(cursor.fetchone()[0])
    p99 = statistics.quantiles(latencies, n=100)[98] * 1000 if len(latencies) > 100 else 0.0
    return sum(cycles) / elapsed, p99, doubles


def http_keys(world: World, clients: int) -> list[str]:
    """One agent and API key per HTTP client, on the same processes."""
    from offload.contracts.models import Process
    from offload.tenancy.models import Organisation, Site
    from offload.tenancy.tests.factories import make_api_key

    provider = Organisation.objects.get(pk=world.provider_id)
    processes = list(Process.objects.filter(pk__in=world.process_ids))
    site = Site.objects.filter(provider=provider).first()
    usernames = [f"http{n}-{world.run}" for n in range(clients)]
    workers = agents_make(provider, site, processes, usernames)
    return [make_api_key(provider, user=w.user)[1] for w in workers]


def gunicorn_start(log: Path) -> tuple[subprocess.Popen[bytes], int]:
    """The production setup of the README: gunicorn, the cores plus one processes
    of 8 threads."""
    port = free_port()
    env = {
        **os.environ,
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(40),
        "ALLOWED_HOSTS": "127.0.0.1",
        "LOG_LEVEL": "WARNING",
        "DATABASE_CONN_MAX_AGE": "60",
    }
    command = [
        sys.executable, "-m", "gunicorn", "config.wsgi:application",
        "--workers", str((os.cpu_count() or 1) + 1), "--threads", "8",
        "--worker-class", "gthread",
        "--bind", f"127.0.0.1:{port}", "--log-level", "warning",
    ]  # fmt: skip
    with log.open("wb") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)  # noqa: S603
    wait_listening(process, port, log)
    return process, port


@dataclass
class HttpFigures:
    cycles_per_s: float
    p50_ms: float
    p99_ms: float


def http_figures(prefix: str, figures: HttpFigures | None) -> dict[str, float | None]:
    """The last line's keys of one HTTP phase; null when it did not run."""
    if figures is None:
        return {f"{prefix}_{key}": None for key in ("cycles_per_s", "p50_ms", "p99_ms")}
    return {
        f"{prefix}_cycles_per_s": round(figures.cycles_per_s, 1),
        f"{prefix}_p50_ms": round(figures.p50_ms, 2),
        f"{prefix}_p99_ms": round(figures.p99_ms, 2),
    }


def bench_http(keys: list[str], seconds: float, fused: bool = False) -> HttpFigures:
    """Each client: POST /work/next then POST /items/{id}/complete, over keep-alive;
    `fused`: POST /work/{id}/complete-and-next with the item it holds (a first pull,
    then the item each answer hands it). Latencies are per request."""
    process, port = gunicorn_start(Path(tempfile.gettempdir()) / "offload-bench-leases.log")
    latencies: list[float] = []
    cycles = [0] * len(keys)
    lock = threading.Lock()
    window = Window(seconds)
    gate = window.gate(len(keys))

    def client(n: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        headers = {"Authorization": f"Bearer {keys[n]}", "Content-Type": "application/json"}
        mine: list[float] = []
        held: int | None = None  # the item a fused cycle completes

        def post(path: str, body: bytes, timed: bool) -> tuple[int, bytes]:
            t0 = time.perf_counter()
            connection.request("POST", path, body=body, headers=headers)
            response = connection.getresponse()
            data = response.read()
            if timed:
                mine.append(time.perf_counter() - t0)
            return response.status, data

        def pull(timed: bool) -> int | None:
            status, data = post("/api/v1/work/next", b"{}", timed)
            return int(json.loads(data)["item"]["id"]) if status == 200 else None

        def cycle(timed: bool) -> bool:
            nonlocal held
            if fused:
                if held is None:
                    return False
                status, data = post(
                    f"/api/v1/work/{held}/complete-and-next", b'{"outcome":"resolved"}', timed
                )
                handed = json.loads(data)["next"] if status == 200 else None
                held = None if handed is None else int(handed["item"]["id"])
                return status == 200
            item_id = pull(timed)
            if item_id is None:
                return False
            done, _ = post(f"/api/v1/items/{item_id}/complete", b'{"outcome":"resolved"}', timed)
            return done == 200

        if fused:
            held = pull(timed=False)
        for _ in range(WARM_UP_CYCLES):
            cycle(timed=False)
        # The server closes a connection idle past its keep-alive while the others
        # warm up; the timed cycles open their own.
        connection.close()
        gate.wait()
        while time.perf_counter() < window.end:
            if not cycle(timed=True):
                break
            cycles[n] += 1
        connection.close()
        with lock:
            latencies.extend(mine)

    try:
        threads = [threading.Thread(target=client, args=(n,)) for n in range(len(keys))]
        for thread in threads:
            thread.start()
        gate.wait()
        for thread in threads:
            thread.join()
        elapsed = window.elapsed()
    finally:
        process.terminate()
        process.wait(timeout=20)
    cuts = statistics.quantiles(latencies, n=100) if len(latencies) > 100 else [0.0] * 99
    return HttpFigures(sum(cycles) / elapsed, cuts[49] * 1000, cuts[98] * 1000)


def bench_peer(jobs: int, threads: int, seconds: float) -> float:
    import procrastinate
    import psycopg
    from django.conf import settings

    db = settings.DATABASES["default"]
    dsn = (
        f"host={db['HOST'] or '127.0.0.1'} port={db['PORT'] or 5432} dbname={db['NAME']} "
        f"user={db['USER']}" + (f" password={db['PASSWORD']}" if db["PASSWORD"] else "")
    )
    schema_sql = (Path(procrastinate.__file__).parent / "sql" / "schema.sql").read_text()
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("DROP SCHEMA IF EXISTS procrastinate_bench CASCADE")
        conn.execute("CREATE SCHEMA procrastinate_bench")
        conn.execute("SET search_path TO procrastinate_bench")
        conn.execute(schema_sql)
        conn.execute(
            "INSERT INTO procrastinate_jobs (queue_name, task_name, args, status) "
            "SELECT 'q' || (n %% 20), 'noop', '{}'::jsonb, 'todo' "
            "FROM generate_series(1, %s) AS n",
            [jobs],
        )
        conn.execute("ANALYZE procrastinate_jobs")
    opened: list[psycopg.Connection[Any]] = []

    def cycle_for(n: int) -> Callable[[], bool]:
        conn = psycopg.connect(dsn, autocommit=True)
        opened.append(conn)
        conn.execute("SET search_path TO procrastinate_bench")
        worker_id = conn.execute("SELECT procrastinate_register_worker_v1()").fetchone()
        assert worker_id is not None

        def cycle() -> bool:
            row = conn.execute(
                "SELECT id FROM procrastinate_fetch_job_v2(NULL, %s)", [worker_id[0]]
            ).fetchone()
            if row is None or row[0] is None:
                return False
            conn.execute("SELECT procrastinate_finish_job_v1(%s, 'succeeded', false)", [row[0]])
            return True

        return cycle

    try:
        return timed(threads, seconds, cycle_for)
    finally:
        for conn in opened:
            conn.close()


def orm_claim_for(world: World) -> Callable[[int], Callable[[], bool]]:
    """The issue's yardstick, "a minimal ORM claim manages about 300/s here": each of
    the world's workers takes, in a transaction with Django's ORM, the best queued
    item of its processes' queues in one of its languages (`select_for_update` with
    SKIP LOCKED) and marks it assigned to itself. A claim alone: no lease, event,
    capacity, completion or routing policy. Run in the same process as ours, it says
    whether the machine is as quick now as when the issue's figures were written
    (`orm_claims_per_s`)."""
    from django.db import transaction

    from offload.work.models import Queue, WorkItem
    from offload.workers.models import Worker

    def cycle_for(n: int) -> Callable[[], bool]:
        worker = Worker.objects.select_related("user").get(pk=world.worker_ids[n])
        queue_ids = list(
            Queue.objects.filter(process__in=worker.processes.all()).values_list("id", flat=True)
        )

        def claim() -> bool:
            with transaction.atomic():
                item = (
                    WorkItem.objects.select_for_update(skip_locked=True)
                    .filter(
                        queue_id__in=queue_ids,
                        language__in=worker.languages,
                        status__in=["queued", "escalated"],
                    )
                    .order_by("priority", "due_at", "created_at", "id")
                    .first()
                )
                if item is None:
                    return False
                item.status, item.assignee = "assigned", worker.user
                item.save(update_fields=["status", "assignee", "updated_at"])
            return True

        return claim

    return cycle_for


def timed(threads: int, seconds: float, cycle_for: Callable[[int], Callable[[], bool]]) -> float:
    """Cycles per second of `threads` threads, each looping its own cycle (made in
    its thread, False when it found nothing) for `seconds` after its warm-up."""
    from django.db import connections

    done = [0] * threads
    failures: list[BaseException] = []
    window = Window(seconds)
    gate = window.gate(threads)

    def work(n: int) -> None:
        try:
            cycle = cycle_for(n)
            for _ in range(WARM_UP_CYCLES):
                cycle()
            gate.wait()
            while time.perf_counter() < window.end and cycle():
                done[n] += 1
        except BaseException as exc:
            failures.append(exc)
            gate.abort()
        finally:
            connections.close_all()

    workers = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
    for thread in workers:
        thread.start()
    gate.wait()
    for thread in workers:
        thread.join()
    if failures:
        raise failures[0]
    return sum(done) / window.elapsed()


def settle() -> None:
    """Before a phase: the backlog's statistics, and a checkpoint, so that each phase
    starts as soon after one as the other (the first write to a page after a
    checkpoint logs the whole page, which weighs on the minutes that follow)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE work_workitem")
        cursor.execute("CHECKPOINT")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="offload bench routing")
    parser.add_argument("--items", type=int, default=ITEMS)
    parser.add_argument("--threads", type=int, default=THREADS)
    parser.add_argument("--seconds", type=float, default=SECONDS)
    parser.add_argument("--http-clients", type=int, default=HTTP_CLIENTS)
    parser.add_argument("--http-seconds", type=float, default=20.0)
    args = parser.parse_args(argv)
    setup_django()
    from django.db import connection

    if connection.vendor != "postgresql":
        raise SystemExit("offload bench routing needs PostgreSQL (BENCH_DATABASE_URL)")
    run = f"{int(time.time()) % 10**8:x}"
    t0 = time.perf_counter()
    world = world_create(run, args.items, args.threads)
    settle()
    built = time.perf_counter() - t0
    print(f"world: {len(world.item_ids):,} items, {len(world.worker_ids)} workers, {built:.1f} s")
    cycles_per_s, p99, doubles = bench_service(world, args.seconds)
    print(f"ours: {cycles_per_s:,.0f} cycles/s, pull p99 {p99:.1f} ms, {doubles} doubles")
    fused_world = world_create(f"{run}f", args.items, args.threads)
    settle()
    fused_per_s, fused_p99, fused_doubles = bench_service(fused_world, args.seconds, fused=True)
    print(
        f"complete-and-next: {fused_per_s:,.0f} cycles/s, p99 {fused_p99:.1f} ms, "
        f"{fused_doubles} doubles"
    )
    peer = bench_peer(args.items, args.threads, args.seconds)
    print(f"procrastinate: {peer:,.0f} claim+finish/s")
    orm_world = world_create(f"{run}o", args.items, args.threads)
    settle()
    orm_per_s = timed(args.threads, args.seconds, orm_claim_for(orm_world))
    print(f"minimal ORM claim: {orm_per_s:,.0f} claims/s")
    http: HttpFigures | None = None
    http_fused: HttpFigures | None = None
    if args.http_clients > 0:
        keys = http_keys(world, args.http_clients)
        http = bench_http(keys, args.http_seconds)
        print(
            f"http: {http.cycles_per_s:,.0f} cycles/s, "
            f"p50 {http.p50_ms:.1f}, p99 {http.p99_ms:.1f} ms per request"
        )
        http_fused = bench_http(keys, args.http_seconds, fused=True)
        print(
            f"http complete-and-next: {http_fused.cycles_per_s:,.0f} cycles/s, "
            f"p50 {http_fused.p50_ms:.1f}, p99 {http_fused.p99_ms:.1f} ms per request"
        )
    figures = {
        "bench": "routing",
        "items": len(world.item_ids),
        "threads": args.threads,
        "cycles_per_s": round(cycles_per_s, 1),
        "peer_per_s": round(peer, 1),
        "ratio_vs_peer": round(cycles_per_s / peer, 3) if peer else None,
        "pull_p99_ms": round(p99, 2),
        "double_assignments": doubles + fused_doubles,
        "fused_cycles_per_s": round(fused_per_s, 1),
        "fused_ratio_vs_peer": round(fused_per_s / peer, 3) if peer else None,
        "fused_p99_ms": round(fused_p99, 2),
        "orm_claims_per_s": round(orm_per_s, 1),
        "http_clients": args.http_clients,
        **http_figures("http", http),
        **http_figures("http_fused", http_fused),
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
