"""Bulk intake's write: PostgreSQL COPY (offload.work.pgcopy) or the ORM (SQLite), the
same rows either way, and safe against concurrent writers of the same references."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection, transaction
from django.utils import timezone

from offload.contracts.models import Process
from offload.tenancy.tests.factories import make_key_principal, make_user
from offload.tenancy.visibility import Principal
from offload.work import intake, pgcopy, webhooks
from offload.work.models import (
    Queue,
    WebhookDelivery,
    WebhookEndpoint,
    WorkItem,
    WorkItemEvent,
)
from offload.work.tests.factories import make_item, make_process, make_queue

pytestmark = pytest.mark.django_db

on_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="COPY and a real race need PostgreSQL"
)

SCHEMA = {
    "type": "object",
    "required": ["account"],
    "properties": {"account": {"type": "string", "pattern": "^AC-[0-9]{4}$"}},
}


def _world() -> tuple[Process, Principal]:
    """A process with an English default queue and a Spanish one, three endpoints of
    its client (every type, `created` only, inactive), one of another client, and a
    client admin's key acting for its user."""
    process = make_process(item_schema=SCHEMA, languages=["en", "es"])
    make_queue(process, slug="support")
    make_queue(process, slug="support-es", languages=["es"])
    for types, active in ((["*"], True), (["created"], True), (["*"], False)):
        webhooks.webhook_endpoint_create(
            actor=None,
            client=process.client,
            provider=process.provider,
            url=f"https://hooks.example.com/{types[0]}/{active}",
            event_types=types,
            is_active=active,
        )
    elsewhere = make_process()
    webhooks.webhook_endpoint_create(
        actor=None,
        client=elsewhere.client,
        provider=elsewhere.provider,
        url="https://elsewhere.example.com/hooks",
        event_types=["*"],
    )
    user = make_user(process.client, "client_admin")
    return process, make_key_principal(process.client, user=user)


def _rows(process: Process, prefix: str) -> list[Any]:
    slug = process.slug
    return [
        {"reference": f"{prefix}1", "process": slug, "payload": {"account": "AC-0001"}},
        {
            "reference": f"{prefix}2",
            "process": slug,
            "priority": "P1",
            "subject": "Factura duplicada",
            "language": "es",
            "tags": ["billing", "vip"],
            "payload": {"account": "AC-0002", "note": "ñandú"},
        },
        {"reference": f"{prefix}3", "process": slug, "payload": {"account": "nope"}},
        {"reference": f"{prefix}1", "process": slug, "payload": {"account": "AC-0001"}},
        {"reference": "KNOWN", "process": slug, "payload": {"account": "AC-0009"}},
        {
            "reference": f"{prefix}4",
            "process": slug,
            "language": "en",
            "payload": {"account": "AC-0004"},
        },
    ]


def _written(process: Process, prefix: str) -> dict[str, Any]:
    """The rows a bulk call wrote for references starting with `prefix`, with ids,
    times and the prefix replaced by what they stand for, so two calls compare."""
    queues = dict(Queue.objects.filter(process=process).values_list("pk", "slug"))
    items = WorkItem.objects.filter(client=process.client, reference__startswith=prefix)
    item_refs = {i.pk: i.reference.removeprefix(prefix) for i in items}
    item_rows = sorted(
        (
            {
                **{
                    k: v
                    for k, v in row.items()
                    if k not in {"id", "created_at", "updated_at", "reference", "queue_id"}
                },
                "reference": item_refs[row["id"]],
                "queue": queues[row["queue_id"]],
            }
            for row in items.values()
        ),
        key=lambda r: str(r["reference"]),
    )
    events = WorkItemEvent.objects.filter(item__in=items)
    event_refs = {}
    event_rows = []
    for row in events.values():
        event_refs[row["id"]] = (item_refs[row["item_id"]], row["seq"])
        data = dict(row["data"])
        if "reference" in data:
            data["reference"] = data["reference"].removeprefix(prefix)
        if "queue" in data:
            data["queue"] = queues[data["queue"]]
        event_rows.append(
            {
                **{k: v for k, v in row.items() if k not in {"id", "item_id", "at", "data"}},
                "item": item_refs[row["item_id"]],
                "data": data,
            }
        )
    event_rows.sort(key=lambda r: (r["item"], r["seq"]))
    outbox = sorted(
        (
            {
                **{
                    k: v
                    for k, v in row.items()
                    if k
                    not in {
                        "id",
                        "created_at",
                        "updated_at",
                        "next_attempt_at",
                        "item_id",
                        "event_id",
                    }
                },
                "event": event_refs[row["event_id"]],
            }
            for row in WebhookDelivery.objects.filter(event__in=events).values()
        ),
        key=lambda r: (r["event"], r["endpoint_id"]),
    )
    return {"items": item_rows, "events": event_rows, "outbox": outbox}


def _only(rows: list[dict[str, Any]], shown: dict[str, Any]) -> list[dict[str, Any]]:
    """The rows with the keys of `shown`, plus those that vary from row to row (below),
    so a column added later (and checked by the COPY/ORM comparison) does not break
    this test."""
    varying = {"reference", "priority", "subject", "payload", "language", "tags", "queue"}
    varying |= {"item", "seq", "type", "data", "endpoint_id", "event"}
    return [{k: v for k, v in row.items() if k in shown or k in varying} for row in rows]


def _bulk(process: Process, actor: Principal, rows: list[Any]) -> intake.BulkResult:
    return intake.work_items_bulk_create(actor=actor, client=process.client, rows=rows)


def test_bulk_writes_items_events_and_outbox_rows_as_documented():
    # given
    process, actor = _world()
    known = make_item(process, reference="KNOWN", payload={"account": "AC-0009"})
    started = timezone.now()
    # when
    result = _bulk(process, actor, _rows(process, "N-"))
    # then
    ids = {r["reference"]: r["id"] for r in result.accepted}
    assert [(r["index"], r["reference"]) for r in result.accepted] == [
        (0, "N-1"),
        (1, "N-2"),
        (5, "N-4"),
    ]
    assert result.duplicates == [
        {"index": 3, "id": ids["N-1"], "reference": "N-1"},
        {"index": 4, "id": known.pk, "reference": "KNOWN"},
    ]
    assert [(e["index"], e["field"]) for e in result.errors] == [(2, "payload.account")]
    assert ids["N-1"] < ids["N-2"] < ids["N-4"]  # ids follow the rows' order
    written = _written(process, "N-")
    common = {
        "client_id": process.client_id,
        "provider_id": process.provider_id,
        "process_id": process.pk,
        "channel": "email",
        "status": "queued",
        "assignee_id": None,
        "parent_id": None,
        "outcome": "",
        "result": {},
        "failure_kind": "",
        "failure_reason": "",
        "attempt": 1,
        "completed_at": None,
        "due_at": None,
    }
    assert _only(written["items"], common) == [
        {
            **common,
            "reference": "1",
            "priority": "P3",
            "subject": "",
            "payload": {"account": "AC-0001"},
            "language": "",
            "tags": [],
            "queue": "support",
        },
        {
            **common,
            "reference": "2",
            "priority": "P1",
            "subject": "Factura duplicada",
            "payload": {"account": "AC-0002", "note": "ñandú"},
            "language": "es",
            "tags": ["billing", "vip"],
            "queue": "support-es",
        },
        {
            **common,
            "reference": "4",
            "priority": "P3",
            "subject": "",
            "payload": {"account": "AC-0004"},
            "language": "en",
            "tags": [],
            "queue": "support",
        },
    ]
    assert actor.user is not None
    assert actor.api_key is not None
    who = {
        "client_id": process.client_id,
        "provider_id": process.provider_id,
        "actor_user_id": actor.user.pk,
        "actor_api_key_id": actor.api_key.pk,
        "actor_label": actor.label,
    }
    assert _only(written["events"], who) == [
        {
            **who,
            "item": "1",
            "seq": 1,
            "type": "created",
            "data": {"reference": "1", "priority": "P3"},
        },
        {**who, "item": "1", "seq": 2, "type": "queued", "data": {"queue": "support"}},
        {
            **who,
            "item": "2",
            "seq": 1,
            "type": "created",
            "data": {"reference": "2", "priority": "P1"},
        },
        {**who, "item": "2", "seq": 2, "type": "queued", "data": {"queue": "support-es"}},
        {
            **who,
            "item": "4",
            "seq": 1,
            "type": "created",
            "data": {"reference": "4", "priority": "P3"},
        },
        {**who, "item": "4", "seq": 2, "type": "queued", "data": {"queue": "support"}},
    ]
    everything, created_only = WebhookEndpoint.objects.filter(
        client=process.client, is_active=True
    ).order_by("id")
    pending = {
        "client_id": process.client_id,
        "provider_id": process.provider_id,
        "status": "pending",
        "attempts": 0,
        "first_attempt_at": None,
        "last_error": "",
        "last_status_code": None,
        "delivered_at": None,
    }
    expected_outbox = []
    for reference in ("1", "2", "4"):
        expected_outbox += [
            {**pending, "endpoint_id": everything.pk, "event": (reference, 1)},
            {**pending, "endpoint_id": created_only.pk, "event": (reference, 1)},
            {**pending, "endpoint_id": everything.pk, "event": (reference, 2)},
        ]
    assert _only(written["outbox"], pending) == sorted(
        expected_outbox, key=lambda r: (r["event"], r["endpoint_id"])
    )
    # every time is the call's
    finished = timezone.now()
    for item in WorkItem.objects.filter(pk__in=ids.values()):
        assert started <= item.created_at <= item.updated_at <= finished
    for event in WorkItemEvent.objects.filter(item_id__in=ids.values()):
        assert started <= event.at <= finished
    for delivery in WebhookDelivery.objects.filter(item_id__in=ids.values()):
        assert started <= delivery.next_attempt_at <= finished + timedelta(seconds=1)


def test_copy_and_the_orm_write_the_same_rows(monkeypatch):
    # given: the same rows, once through this database's bulk path (COPY on
    # PostgreSQL) and once through the ORM path
    process, actor = _world()
    make_item(process, reference="KNOWN", payload={"account": "AC-0009"})
    fast = _bulk(process, actor, _rows(process, "F-"))
    # when
    monkeypatch.setattr(pgcopy, "available", lambda: False)
    orm = _bulk(process, actor, _rows(process, "O-"))

    # then
    def shape(result: intake.BulkResult) -> Any:
        return (
            [(r["index"], r["reference"][2:]) for r in result.accepted],
            [
                (r["index"], r["reference"].removeprefix("F-").removeprefix("O-"))
                for r in result.duplicates
            ],
            result.errors,
        )

    assert shape(fast) == shape(orm)
    assert _written(process, "F-") == _written(process, "O-")


def test_a_row_missing_a_required_column_is_refused_before_writing():
    # given: an item row without its client (no default, not nullable)
    columns = pgcopy._columns(WorkItem, True)
    values = pgcopy._values(WorkItem, columns, timezone.now())
    # when
    with pytest.raises(ValueError, match="'client_id'"):
        values({"id": 1, "reference": "R-1"})


@pytest.mark.django_db(transaction=True)
def test_copy_outside_a_transaction_is_refused():
    # given: no transaction
    # when / then
    with pytest.raises(RuntimeError):
        pgcopy.rows_copy(WorkItem, [{}], now=timezone.now())


@on_postgresql
def test_ids_are_reserved_ascending_per_table_in_one_query(django_assert_num_queries):
    # given
    # when
    with django_assert_num_queries(1):
        items, events = pgcopy.ids_reserve((WorkItem, 3), (WorkItemEvent, 6))
    # then
    assert (len(items), len(events)) == (3, 6)
    assert items == sorted(set(items))
    assert events == sorted(set(events))


# ------------------------------------------------------------------ races on PostgreSQL


def _run_in_threads(*calls: Any) -> list[Any]:
    answers: list[Any] = [None] * len(calls)
    barrier = threading.Barrier(len(calls))

    def run(n: int) -> None:
        try:
            barrier.wait()
            answers[n] = calls[n]()
        except Exception as exc:  # reported by the assertion below
            answers[n] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(n,)) for n in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return answers


@on_postgresql
@pytest.mark.django_db(transaction=True)
def test_two_bulk_calls_racing_on_the_same_references_create_each_once(monkeypatch):
    # given: two calls with the same 3,000 references in opposite orders, whose item
    # COPYs are made to start together (the process has its queue already: creating
    # it would make the second call wait for the first's commit)
    process = make_process(item_schema=SCHEMA)
    make_queue(process)
    references = [f"R-{n}" for n in range(3000)]
    rows = [
        {"reference": r, "process": process.slug, "payload": {"account": "AC-0001"}}
        for r in references
    ]
    together = threading.Barrier(2, timeout=10)
    real_copy = pgcopy.rows_copy
    first_copy = threading.local()

    def copy_together(model: Any, rows: Any, **kwargs: Any) -> int:
        if model is WorkItem and not getattr(first_copy, "done", False):
            first_copy.done = True
            together.wait()
        return real_copy(model, rows, **kwargs)

    monkeypatch.setattr(pgcopy, "rows_copy", copy_together)

    def call(rows: list[Any]) -> Any:
        return lambda: intake.work_items_bulk_create(actor=None, client=process.client, rows=rows)

    # when
    first, second = _run_in_threads(call(rows), call(rows[::-1]))
    # then: no deadlock, no error; every reference once, accepted by one call and a
    # duplicate (of the same item) in the other
    assert isinstance(first, intake.BulkResult), first
    assert isinstance(second, intake.BulkResult), second
    items = dict(WorkItem.objects.values_list("reference", "id"))
    assert sorted(items) == sorted(references)
    for result in (first, second):
        assert not result.errors
        answered = {r["reference"]: r["id"] for r in result.accepted + result.duplicates}
        assert answered == items
    accepted = [r["reference"] for r in first.accepted + second.accepted]
    assert sorted(accepted) == sorted(references)
    assert WorkItemEvent.objects.filter(type="created").count() == 3000
    assert WorkItemEvent.objects.count() == 6000


def _waiting_on_a_lock(pid: list[int], timeout: float) -> bool:
    """True once the backend `pid[0]` waits for a lock (here: another transaction's
    unique index entry)."""
    deadline = time.monotonic() + timeout
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            if pid:
                cursor.execute("SELECT count(*) FROM pg_locks WHERE NOT granted AND pid = %s", pid)
                if cursor.fetchone()[0]:
                    return True
            time.sleep(0.02)
    return False


@on_postgresql
@pytest.mark.django_db(transaction=True)
def test_a_copy_meeting_a_concurrent_insert_of_its_reference_reports_a_duplicate():
    # given: a single-item intake has inserted "B" and not yet committed
    process = make_process()
    inserted = threading.Event()
    release = threading.Event()
    competitor: list[int] = []

    def single() -> None:
        try:
            with transaction.atomic():
                item, _ = intake.work_item_create(
                    actor=None, client=process.client, process=process, reference="B"
                )
                competitor.append(item.pk)
                inserted.set()
                release.wait(10)
        finally:
            connection.close()

    thread = threading.Thread(target=single)
    thread.start()
    assert inserted.wait(10)
    rows = [{"reference": r, "process": process.slug} for r in ("A", "B", "C")]
    answer: list[Any] = []
    pid: list[int] = []

    def bulk() -> None:
        try:
            connection.ensure_connection()
            pid.append(connection.connection.info.backend_pid)
            answer.append(
                intake.work_items_bulk_create(actor=None, client=process.client, rows=rows)
            )
        except Exception as exc:  # reported by the assertion below
            answer.append(exc)
        finally:
            connection.close()

    # when: the bulk call's COPY waits on "B", then the competitor commits
    bulk_thread = threading.Thread(target=bulk)
    bulk_thread.start()
    waited = _waiting_on_a_lock(pid, timeout=10)
    release.set()
    thread.join()
    bulk_thread.join()
    # then
    assert waited
    result = answer[0]
    assert isinstance(result, intake.BulkResult), result
    assert [r["reference"] for r in result.accepted] == ["A", "C"]
    assert result.duplicates == [{"index": 1, "id": competitor[0], "reference": "B"}]
    assert sorted(WorkItem.objects.values_list("reference", flat=True)) == ["A", "B", "C"]
    assert WorkItemEvent.objects.count() == 6
