"""`offload bench intake`: work-item intake through the HTTP API, beside COPY.

Three figures, on the database DATABASE_URL names (`offload bench` points it at
BENCH_DATABASE_URL and migrates it first):

1. Bulk intake end to end: the app served as a subprocess (`offload serve
   --no-worker`: Django's threaded runserver, DEBUG off) on loopback, BULK_CLIENTS
   client threads posting `POST /api/v1/items/bulk` batches of BATCH items, each
   item with a ~1 KB payload checked against a realistic process schema; the items
   and their `created` and `queued` events are written (with `--webhooks`, the
   client also has an endpoint for `created`, so an outbox row per item too).
   `items_per_s` = accepted items / wall time.
2. The physical limit: the same rows (items and their two events; fresh references)
   written by psycopg `COPY` straight into the same tables, one transaction per
   batch with its ids reserved first, one connection. `copy_rows_per_s` counts item
   rows (each with its two event rows, so the unit matches `items_per_s`);
   `copy_table_rows_per_s` counts every row written. `ratio_vs_copy` =
   items_per_s / copy_rows_per_s.
3. Single-item intake: SINGLE_CLIENTS client threads each posting `POST
   /api/v1/items` one after another; `single_p50_ms` and `single_p99_ms` are the
   client-side latencies.

Usage: `offload bench intake [--batches N] [--single N] [--webhooks]`. The last line is one JSON
object; docs/benchmarks.md (## intake) records the figures and the machine.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import setup_django

BATCH = 1_000
BULK_CLIENTS = 6
SINGLE_CLIENTS = 32

# A claims-handling process: the shape of what a client's system sends.
ITEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["account_number", "customer", "claim", "lines", "message"],
    "properties": {
        "account_number": {"type": "string", "pattern": "^AC-[0-9]{8}$"},
        "customer": {
            "type": "object",
            "additionalProperties": False,
            "required": ["name", "email", "address"],
            "properties": {
                "name": {"type": "string", "minLength": 1, "maxLength": 120},
                "email": {"type": "string", "pattern": "^[^@\\s]+@[^@\\s]+\\.[a-z]{2,}$"},
                "phone": {"type": "string", "pattern": "^\\+[0-9]{8,15}$"},
                "segment": {"enum": ["consumer", "smb", "enterprise"]},
                "address": {
                    "type": "object",
                    "required": ["line1", "city", "postcode", "country"],
                    "properties": {
                        "line1": {"type": "string", "maxLength": 200},
                        "line2": {"type": "string", "maxLength": 200},
                        "city": {"type": "string", "maxLength": 100},
                        "postcode": {"type": "string", "maxLength": 16},
                        "country": {"type": "string", "pattern": "^[A-Z]{2}$"},
                    },
                },
            },
        },
        "claim": {
            "type": "object",
            "required": ["number", "amount", "currency", "incident_date", "kind"],
            "properties": {
                "number": {"type": "string", "pattern": "^CL-[0-9]{6}$"},
                "amount": {"type": "number", "minimum": 0, "maximum": 1_000_000},
                "currency": {"enum": ["USD", "EUR", "GBP", "PHP", "MXN"]},
                "incident_date": {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"},
                "kind": {"enum": ["damage", "theft", "loss", "liability", "other"]},
                "police_report": {"type": ["string", "null"], "maxLength": 40},
            },
        },
        "lines": {
            "type": "array",
            "minItems": 1,
            "maxItems": 20,
            "items": {
                "type": "object",
                "required": ["sku", "description", "quantity", "unit_price"],
                "properties": {
                    "sku": {"type": "string", "pattern": "^[A-Z0-9-]{4,20}$"},
                    "description": {"type": "string", "maxLength": 200},
                    "quantity": {"type": "integer", "minimum": 1},
                    "unit_price": {"type": "number", "minimum": 0},
                },
            },
        },
        "message": {"type": "string", "maxLength": 4000},
        "attachments": {"type": "array", "items": {"type": "string"}, "maxItems": 10},
        "consent": {"type": "boolean"},
    },
}

# Words of a customer's message, drawn at random.
TEXT = (
    "the parcel arrived damaged and the box was open when the courier left it at the "
    "door so I would like a refund or a replacement as soon as possible please call "
    "me back on the number above between nine and five my neighbour saw the van"
)
WORDS = TEXT.split(" ")


def payload(rng: random.Random) -> dict[str, Any]:
    """One claim of about 1 KB as compact JSON."""
    return {
        "account_number": f"AC-{rng.randrange(10**8):08d}",
        "customer": {
            "name": f"Customer {rng.randrange(10**6)}",
            "email": f"customer{rng.randrange(10**6)}@example.com",
            "phone": f"+1555{rng.randrange(10**7):07d}",
            "segment": rng.choice(["consumer", "smb", "enterprise"]),
            "address": {
                "line1": f"{rng.randrange(1, 999)} Main Street",
                "line2": f"Apartment {rng.randrange(1, 99)}",
                "city": rng.choice(["Springfield", "Riverside", "Fairview", "Madison"]),
                "postcode": f"{rng.randrange(10**5):05d}",
                "country": "US",
            },
        },
        "claim": {
            "number": f"CL-{rng.randrange(10**6):06d}",
            "amount": round(rng.uniform(10, 5000), 2),
            "currency": "USD",
            "incident_date": f"2026-0{rng.randrange(1, 10)}-1{rng.randrange(10)}",
            "kind": rng.choice(["damage", "theft", "loss"]),
            "police_report": None,
        },
        "lines": [
            {
                "sku": f"SKU-{rng.randrange(10**6):06d}",
                "description": " ".join(rng.choices(WORDS, k=6)),
                "quantity": rng.randrange(1, 5),
                "unit_price": round(rng.uniform(1, 500), 2),
            }
            for _ in range(3)
        ],
        "message": " ".join(rng.choices(WORDS, k=45)),
        "attachments": [f"photo-{i}.jpg" for i in range(2)],
        "consent": True,
    }


def item(rng: random.Random, reference: str, process: str) -> dict[str, Any]:
    return {
        "reference": reference,
        "process": process,
        "priority": rng.choice(["P1", "P2", "P3", "P4"]),
        "subject": "Damaged parcel claim",
        "language": "en",
        "tags": ["claims", "web"],
        "payload": payload(rng),
    }


# ------------------------------------------------------------------ set-up


@dataclass(frozen=True)
class World:
    client_id: int
    provider_id: int
    process_id: int
    process_slug: str
    queue_id: int
    channel: str
    secret: str


def world_create(run: str, *, webhooks_on: bool = False) -> World:
    """A provider, a client, an engagement, the claims process with its queue, a
    client admin's API key (and, with `webhooks_on`, a webhook endpoint for `created`
    events): all new, named after the run so runs never collide."""
    from offload.contracts import services as contracts
    from offload.tenancy import services as tenancy
    from offload.work import intake, webhooks

    provider = tenancy.organisation_create(
        actor=None,
        kind="provider",
        name=f"Bench provider {run}",
        country="PH",
        timezone="Asia/Manila",
        currency="USD",
    )
    client = tenancy.organisation_create(
        actor=None,
        kind="client",
        name=f"Bench client {run}",
        country="US",
        timezone="America/New_York",
        currency="USD",
    )
    engagement = contracts.engagement_create(
        actor=None, client=client, provider=provider, name=f"Claims {run}"
    )
    process = contracts.process_create(
        actor=None,
        engagement=engagement,
        name=f"Claims {run}",
        channel="back_office",
        languages=["en", "es"],
        item_schema=ITEM_SCHEMA,
    )
    queue = intake.queue_default(process)
    if webhooks_on:
        webhooks.webhook_endpoint_create(
            actor=None,
            client=client,
            provider=provider,
            url="https://claims.example.com/hooks",
            event_types=["created"],
        )
    admin = tenancy.user_create(
        actor=None, organisation=client, username=f"bench-{run}", roles=["client_admin"]
    )
    _, secret = tenancy.api_key_create(
        actor=None, organisation=client, name="bench", scopes=["read", "write"], user=admin
    )
    return World(
        client_id=client.pk,
        provider_id=provider.pk,
        process_id=process.pk,
        process_slug=process.slug,
        queue_id=queue.pk,
        channel=process.channel,
        secret=secret,
    )


# ------------------------------------------------------------------ the server


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    port: int

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def server_start(log: Path) -> Server:
    """`offload serve --no-worker` on a free loopback port, DEBUG off, as in production."""
    port = free_port()
    env = {
        **os.environ,
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(40),
        "ALLOWED_HOSTS": "127.0.0.1",
        "LOG_LEVEL": "WARNING",
    }
    with log.open("wb") as out:
        process = subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "offload.cli", "serve", "--no-worker", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    wait_listening(process, port, log)
    return Server(process, port)


def wait_listening(process: subprocess.Popen[bytes], port: int, log: Path) -> None:
    """Until the server accepts connections on `port`; its log's tail if it dies."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited: {log.read_text()[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("the server did not start within 60 s")


def post(port: int, secret: str, path: str, body: bytes) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        connection.request(
            "POST",
            path,
            body=body,
            headers={"Authorization": f"Bearer {secret}", "Content-Type": "application/json"},
        )
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


# ------------------------------------------------------------------ the figures


def bench_bulk(
    server: Server, world: World, run: str, batches: int, clients: int = BULK_CLIENTS
) -> float:
    """Items accepted per second through `POST /api/v1/items/bulk`."""
    rng = random.Random(1)
    bodies = [
        json.dumps(
            {"items": [item(rng, f"{run}-b{b}-{i}", world.process_slug) for i in range(BATCH)]}
        ).encode()
        for b in range(batches + 1)
    ]
    # Warm up: the first call compiles the validator and fills the caches.
    status, answer = post(server.port, world.secret, "/api/v1/items/bulk", bodies.pop())
    if status != 200:
        raise RuntimeError(f"bulk warm-up answered {status}: {answer[:500]!r}")
    queue = list(bodies)
    lock = threading.Lock()
    accepted = [0]
    failures: list[str] = []

    def send() -> None:
        while True:
            with lock:
                if not queue:
                    return
                body = queue.pop()
            status, answer = post(server.port, world.secret, "/api/v1/items/bulk", body)
            if status != 200:
                failures.append(f"{status}: {answer[:300]!r}")
                return
            with lock:
                accepted[0] += len(json.loads(answer)["accepted"])

    threads = [threading.Thread(target=send) for _ in range(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    if failures:
        raise RuntimeError(f"bulk failed: {failures[0]}")
    if accepted[0] != batches * BATCH:
        raise RuntimeError(f"accepted {accepted[0]} of {batches * BATCH}")
    return accepted[0] / elapsed


def bench_single(server: Server, world: World, run: str, calls: int) -> tuple[float, float]:
    """(p50, p99) milliseconds of `POST /api/v1/items` at SINGLE_CLIENTS clients."""
    rng = random.Random(2)
    bodies = [
        json.dumps(item(rng, f"{run}-s{i}", world.process_slug)).encode()
        for i in range(calls + SINGLE_CLIENTS)
    ]
    for body in bodies[:SINGLE_CLIENTS]:  # warm-up, one by one
        post(server.port, world.secret, "/api/v1/items", body)
    queue = bodies[SINGLE_CLIENTS:]
    lock = threading.Lock()
    latencies: list[float] = []
    failures: list[str] = []
    barrier = threading.Barrier(SINGLE_CLIENTS)

    def send() -> None:
        barrier.wait()
        while True:
            with lock:
                if not queue:
                    return
                body = queue.pop()
            started = time.perf_counter()
            status, answer = post(server.port, world.secret, "/api/v1/items", body)
            took = time.perf_counter() - started
            if status != 201:
                failures.append(f"{status}: {answer[:300]!r}")
                return
            with lock:
                latencies.append(took)

    threads = [threading.Thread(target=send) for _ in range(SINGLE_CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if failures:
        raise RuntimeError(f"single intake failed: {failures[0]}")
    cuts = statistics.quantiles(latencies, n=100, method="inclusive")
    return cuts[49] * 1000, cuts[98] * 1000


def _copy_batches(
    world: World, run: str, batches: int
) -> list[tuple[list[list[Any]], list[tuple[int, list[Any]]]]]:
    """Per batch: the values of the item rows and of their event rows (with the
    index of their item) that intake writes, ids left to fill in."""
    from offload.work import pgcopy
    from offload.work.models import WorkItem, WorkItemEvent

    rng = random.Random(1)
    now = datetime.now(UTC)
    item_values = pgcopy.row_values(WorkItem, now=now)
    event_values = pgcopy.row_values(WorkItemEvent, now=now)
    prepared = []
    for b in range(batches):
        items: list[list[Any]] = []
        events: list[tuple[int, list[Any]]] = []
        for i in range(BATCH):
            fields = item(rng, f"{run}-c{b}-{i}", world.process_slug)
            common = {"client_id": world.client_id, "provider_id": world.provider_id}
            items.append(
                item_values(
                    {
                        **common,
                        "id": 0,
                        "process_id": world.process_id,
                        "queue_id": world.queue_id,
                        "reference": fields["reference"],
                        "priority": fields["priority"],
                        "channel": world.channel,
                        "subject": fields["subject"],
                        "payload": fields["payload"],
                        "language": fields["language"],
                        "status": "queued",
                        "tags": fields["tags"],
                    }
                )
            )
            created = {"reference": fields["reference"], "priority": fields["priority"]}
            for seq, kind, data in (
                (1, "created", created),
                (2, "queued", {"queue": world.queue_id}),
            ):
                event = {
                    **common,
                    "id": 0,
                    "item_id": 0,
                    "seq": seq,
                    "type": kind,
                    "at": now,
                    "actor_label": "bench",
                    "data": data,
                }
                events.append((i, event_values(event)))
        prepared.append((items, events))
    return prepared


def bench_copy(world: World, run: str, batches: int) -> tuple[float, float]:
    """(item rows/s, table rows/s) of psycopg COPY of the same rows, one transaction
    per batch, ids reserved first as the fast path does."""
    import psycopg
    from django.conf import settings

    from offload.work import pgcopy
    from offload.work.models import WorkItem, WorkItemEvent

    item_table, event_table = WorkItem._meta.db_table, WorkItemEvent._meta.db_table
    # Where the ids go in a row's values (the primary key comes first).
    item_of_event = [f.attname for f in WorkItemEvent._meta.concrete_fields].index("item_id")
    prepared = _copy_batches(world, run, batches)
    copy_items = pgcopy.copy_statement(WorkItem)
    copy_events = pgcopy.copy_statement(WorkItemEvent)
    reserve = "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)"
    rows = 0
    with psycopg.connect(settings.DATABASE_URL) as conn:
        started = time.perf_counter()
        for items, events in prepared:
            with conn.transaction(), conn.cursor() as cur:
                item_ids = sorted(
                    r[0] for r in cur.execute(reserve, [item_table, len(items)]).fetchall()
                )
                event_ids = sorted(
                    r[0] for r in cur.execute(reserve, [event_table, len(events)]).fetchall()
                )
                with cur.copy(copy_items) as copy:
                    for pk, values in zip(item_ids, items, strict=True):
                        values[0] = pk
                        copy.write_row(values)
                with cur.copy(copy_events) as copy:
                    for pk, (i, values) in zip(event_ids, events, strict=True):
                        values[0], values[item_of_event] = pk, item_ids[i]
                        copy.write_row(values)
            rows += len(items) + len(events)
        elapsed = time.perf_counter() - started
    return batches * BATCH / elapsed, rows / elapsed


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="offload bench intake")
    parser.add_argument("--batches", type=int, default=20, help=f"bulk batches of {BATCH}")
    parser.add_argument("--clients", type=int, default=BULK_CLIENTS, help="bulk clients")
    parser.add_argument("--single", type=int, default=2000, help="single-item calls")
    parser.add_argument("--webhooks", action="store_true", help="the client has a webhook endpoint")
    args = parser.parse_args(argv)

    setup_django()
    from django.db import connection

    run = secrets.token_hex(4)
    world = world_create(run, webhooks_on=args.webhooks)
    connection.close()
    log = Path(tempfile.gettempdir()) / f"offload-bench-intake-{run}.log"
    server = server_start(log)
    try:
        items_per_s = bench_bulk(server, world, run, args.batches, args.clients)
        p50, p99 = bench_single(server, world, run, args.single)
    finally:
        server.stop()
    copy_per_s, copy_table_rows_per_s = bench_copy(world, run, args.batches)
    figures = {
        "bench": "intake",
        "server": "offload serve (Django runserver, threaded, DEBUG off)",
        "vendor": connection.vendor,
        "batch": BATCH,
        "bulk_items": args.batches * BATCH,
        "bulk_clients": args.clients,
        "webhooks": args.webhooks,
        "items_per_s": round(items_per_s),
        "copy_rows_per_s": round(copy_per_s),
        "copy_table_rows_per_s": round(copy_table_rows_per_s),
        "ratio_vs_copy": round(items_per_s / copy_per_s, 3),
        "single_clients": SINGLE_CLIENTS,
        "single_calls": args.single,
        "single_p50_ms": round(p50, 1),
        "single_p99_ms": round(p99, 1),
    }
    print(f"bulk {items_per_s:,.0f} items/s; COPY {copy_per_s:,.0f} items/s")
    print(f"single p50 {p50:.1f} ms, p99 {p99:.1f} ms at {SINGLE_CLIENTS} clients")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
