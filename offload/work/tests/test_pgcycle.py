"""The one-statement pull and complete on PostgreSQL write what the general paths
write, and give way to them whenever their answer could differ."""

from __future__ import annotations

import itertools
import threading
from typing import Any

import pytest
from django.db import connection, connections, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from offload.contracts.models import Process
from offload.core import errors
from offload.tenancy import visibility
from offload.tenancy.tests.factories import make_api_key
from offload.tenancy.visibility import Principal
from offload.work import leases, pgcycle, services, webhooks
from offload.work.models import Assignment, Queue, WebhookDelivery, WorkItem, WorkItemEvent
from offload.work.routing import Grant
from offload.work.tests.factories import make_item, make_process, make_queue
from offload.workers import services as worker_services
from offload.workers.models import Worker, WorkerChannel
from offload.workers.tests.factories import make_agent

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="the fast path is PostgreSQL's"),
]

# Columns that differ between any two runs, whichever path wrote them.
VOLATILE = {"id", "created_at", "updated_at", "at", "item_id", "event_id", "reference"}


def principal(worker: Worker) -> Principal:
    found = visibility.principal_for_user(worker.user)
    assert found is not None
    return found


def agent(process: Any, **overrides: Any) -> Worker:
    values: dict[str, Any] = {"skills": {}, "languages": ["en"], "processes": [process]}
    values.update(overrides)
    worker = make_agent(process.provider, **values)
    return worker_services.worker_set_presence(actor=None, worker=worker, presence="available")


def rows(model: Any, **lookup: Any) -> list[dict[str, Any]]:
    out = []
    for row in model.objects.filter(**lookup).order_by("pk").values():
        out.append({k: v for k, v in row.items() if k not in VOLATILE})
    return out


def cycle_rows(item: WorkItem, worker: Worker) -> dict[str, Any]:
    item.refresh_from_db()
    worker.refresh_from_db()
    events = rows(WorkItemEvent, item=item)
    label = principal(worker).label
    for event in events:
        event["data"].pop("lease_expires_at", None)
        # The twin runs have their own queue, worker and login: name them alike.
        for key, own in (("queue", item.queue_id), ("worker", worker.pk)):
            if key in event["data"]:
                assert event["data"][key] == own
                event["data"][key] = "<own>"
        if event["actor_label"] == label:
            event["actor_label"] = "<worker>"
    return {
        "item": {
            k: v
            for k, v in rows(WorkItem, pk=item.pk)[0].items()
            if k not in {"completed_at", "queued_at"}
        },
        "events": events,
        "leases": [
            {
                **{
                    k: v
                    for k, v in lease.items()
                    if k not in {"assigned_at", "lease_expires_at", "ended_at", "wrap_up_until"}
                },
                "wrap_up": lease["wrap_up_until"] and lease["wrap_up_until"] - lease["ended_at"],
            }
            for lease in rows(Assignment, item=item)
        ],
        "channels": rows(WorkerChannel, worker=worker),
        "idle": worker.idle_since is not None,
        "deliveries": [
            {k: v for k, v in d.items() if k != "next_attempt_at"}
            for d in rows(WebhookDelivery, item=item)
        ],
    }


def run_cycle(process: Any, worker: Worker, *, fast: bool, monkeypatch: Any) -> dict[str, Any]:
    make_item(process, reference="SAME", priority="P2")
    actor = principal(worker)
    if not fast:
        # The general paths: no routing context, no one-statement complete.
        monkeypatch.setattr(leases, "routing_context", lambda actor: None)
        monkeypatch.setattr(pgcycle, "complete", lambda **kwargs: None)
    claim = leases.work_item_claim(actor=actor)
    assert claim is not None
    services.work_item_complete(
        actor=actor, item=claim.item, outcome="resolved", result={"ok": 1}, handle_seconds=30
    )
    monkeypatch.undo()
    return cycle_rows(claim.item, worker)


def hooked_process(**overrides: Any) -> Any:
    """A process whose client has a webhook endpoint for every event."""
    process = make_process(**overrides)
    webhooks.webhook_endpoint_create(
        actor=None,
        client=process.client,
        provider=process.provider,
        url="https://hooks.example.com/x",
        event_types=["*"],
    )
    return process


# The owners' ids, which differ between twin runs.
OWNERS = {"client_id", "provider_id", "worker_id", "actor_user_id", "endpoint_id", "queue_id"}


def without_owners(part: Any) -> Any:
    if isinstance(part, list):
        return [{k: v for k, v in row.items() if k not in OWNERS} for row in part]
    return part


@pytest.mark.parametrize("wrap_up", [0, 60])
def test_both_paths_write_the_same_rows(monkeypatch, wrap_up):
    # given: two twin processes, each with one agent and a webhook endpoint
    results = []
    for fast in (True, False):
        process = hooked_process(wrap_up_seconds=wrap_up)
        worker = agent(process)
        # when
        results.append(run_cycle(process, worker, fast=fast, monkeypatch=monkeypatch))
    # then: everything but ids, times and the owners' ids is identical
    fast_rows, general_rows = results
    for part in ("events", "leases", "channels", "idle"):
        assert without_owners(fast_rows[part]) == without_owners(general_rows[part]), part
    assert [d["status"] for d in fast_rows["deliveries"]] == ["pending"] * 4
    assert len(general_rows["deliveries"]) == 4
    for key in ("status", "outcome", "result", "priority", "assignee_id"):
        assert (fast_rows["item"][key] is None) == (general_rows["item"][key] is None)
        if key != "assignee_id":
            assert fast_rows["item"][key] == general_rows["item"][key]


def context_kept(process: Any, worker: Worker) -> Principal:
    """The worker's principal once a cycle kept its routing context, with a second
    item waiting."""
    make_item(process, reference="FIRST")
    actor = principal(worker)
    first = leases.work_item_claim(actor=actor)
    assert first is not None
    services.work_item_complete(actor=actor, item=first.item, outcome="resolved")
    make_item(process, reference="SECOND")
    return actor


def test_a_stale_context_is_made_again_when_the_worker_changes():
    # given: a worker whose context was kept by a first pull
    process = make_process(required_skills={"billing": 3})
    worker = agent(process, skills={"billing": 3})
    actor = context_kept(process, worker)
    # when: its skill drops below the process's level
    worker_services.worker_update(actor=None, worker=worker, data={"skills": {"billing": 1}})
    # then: the next pull sees it
    assert leases.work_item_claim(actor=actor) is None


def test_a_stale_context_is_made_again_when_a_queue_changes():
    # given: a worker that pulled once, and a queue of its process switched to push
    process = make_process()
    worker = agent(process)
    actor = context_kept(process, worker)
    queue = Queue.objects.get(process=process, is_review=False)
    queue.routing_mode = "push"
    queue.save()
    # when / then: items of push queues are offered, never pulled
    assert leases.work_item_claim(actor=actor) is None


def test_a_stale_context_is_made_again_when_a_process_changes():
    # given: a worker that pulled once
    process = make_process(required_skills={"billing": 1})
    worker = agent(process, skills={"billing": 2})
    actor = context_kept(process, worker)
    # when: the process now needs more skill than the worker has
    Process.objects.filter(pk=process.pk).update(required_skills={"billing": 3})
    # then
    assert leases.work_item_claim(actor=actor) is None


def routing_version(provider_id: int) -> int:
    return pgcycle.routing_version(provider_id)


def test_every_change_to_a_process_or_queue_moves_its_providers_routing_version():
    # given: a process and its queue
    process = make_process()
    queue = make_queue(process)
    provider = process.provider_id
    steps = []
    # when: each change, and an update that changes nothing
    steps.append(routing_version(provider))
    Queue.objects.filter(pk=queue.pk).update(lease_seconds=queue.lease_seconds + 1)
    steps.append(routing_version(provider))
    Queue.objects.filter(pk=queue.pk).update(lease_seconds=queue.lease_seconds + 1)
    steps.append(routing_version(provider))
    Process.objects.filter(pk=process.pk).update(wrap_up_seconds=7)
    steps.append(routing_version(provider))
    queue.delete()
    steps.append(routing_version(provider))
    make_process()  # another provider's
    steps.append(routing_version(provider))
    # then: up by one for each change, not for the no-op or another provider's process
    assert steps[0] > 0
    assert [b - a for a, b in itertools.pairwise(steps)] == [1, 0, 1, 1, 0]


def test_an_unavailable_worker_still_gets_its_409():
    # given: a kept context, then the worker goes away
    process = make_process()
    worker = agent(process)
    make_item(process, reference="FIRST")
    actor = principal(worker)
    assert leases.work_item_claim(actor=actor) is not None
    worker_services.worker_set_presence(actor=None, worker=worker, presence="away")
    # when / then
    with pytest.raises(errors.Conflict):
        leases.work_item_claim(actor=actor)


def holding_its_only_room() -> tuple[Principal, leases.Claim]:
    """A worker with room for one item (no wrap-up after it), holding one while
    another waits."""
    process = make_process(wrap_up_seconds=0)
    worker = agent(process, channels={"email": 1})
    make_item(process, reference="HELD")
    make_item(process, reference="WAITING")
    actor = principal(worker)
    held = leases.work_item_claim(actor=actor)
    assert held is not None
    return actor, held


def test_capacity_is_read_fresh_not_kept():
    # given: a worker with room for one item, holding one (no wrap-up after it)
    actor, held = holding_its_only_room()
    # when: it is full / then: nothing more
    assert leases.work_item_claim(actor=actor) is None
    # when: it completes / then: room again
    services.work_item_complete(actor=actor, item=held.item, outcome="resolved")
    assert leases.work_item_claim(actor=actor) is not None


def as_read(instance: Any) -> dict[str, Any]:
    """Every field of a model instance, as its attribute holds it."""
    return {f.attname: getattr(instance, f.attname) for f in instance._meta.concrete_fields}


def test_the_statements_answer_with_the_rows_as_the_orm_reads_them():
    # given: a worker and an item with a payload (a JSON column to convert)
    process = make_process(wrap_up_seconds=0)
    worker = agent(process)
    make_item(process, reference="JSON", payload={"amount": 12, "lines": [1, 2]})
    actor = principal(worker)
    # when: it pulls
    claim = leases.work_item_claim(actor=actor)
    assert claim is not None
    # then: the item and lease are what the ORM reads back, every field loaded
    assert claim.item.get_deferred_fields() == claim.assignment.get_deferred_fields() == set()
    assert as_read(claim.item) == as_read(WorkItem.objects.get(pk=claim.item.pk))
    assert as_read(claim.assignment) == as_read(Assignment.objects.get(pk=claim.assignment.pk))
    assert claim.item.payload == {"amount": 12, "lines": [1, 2]}
    # when: it completes / then: the same, and both are saved rows, not new ones
    done = services.work_item_complete(actor=actor, item=claim.item, outcome="resolved")
    assert done.get_deferred_fields() == set()
    assert as_read(done) == as_read(WorkItem.objects.get(pk=done.pk))
    assert not done._state.adding
    assert not claim.assignment._state.adding
    # and: they save as loaded rows do (an update, not an insert)
    done.subject = "Saved"
    done.save(update_fields=["subject"])
    assert WorkItem.objects.get(pk=done.pk).subject == "Saved"


def test_a_supervisor_completing_takes_the_general_path_and_is_recorded_as_such():
    # given: an item held by an agent
    process = make_process()
    worker = agent(process)
    make_item(process)
    claim = leases.work_item_claim(actor=principal(worker))
    assert claim is not None
    lead = agent(process)
    # when: another agent (no team-lead role) tries the one-statement complete
    done = pgcycle.complete(
        actor=principal(lead),
        item_id=claim.item.pk,
        outcome="resolved",
        result={},
        data={"outcome": "resolved"},
        now=claim.assignment.assigned_at,
    )
    # then: it does nothing; the general path answers with its 409
    assert done is None
    with pytest.raises(errors.Conflict):
        services.work_item_complete(actor=principal(lead), item=claim.item, outcome="resolved")


def test_a_queue_ordered_otherwise_is_read_in_its_own_order():
    # given: a queue ordered by age alone; its oldest item has the lowest priority,
    # behind more high-priority items than the fast path reads per queue
    process = make_process()
    oldest = make_item(process, reference="OLDEST", priority="P4")
    for n in range(pgcycle.CANDIDATES_PER_GRANT + 2):
        make_item(process, reference=f"URGENT-{n}", priority="P1")
    queue = Queue.objects.get(process=process, is_review=False)
    queue.ordering = ["created_at"]
    queue.save()
    worker = agent(process)
    # when
    claim = leases.work_item_claim(actor=principal(worker), queue=queue)
    # then
    assert claim is not None
    assert claim.item.pk == oldest.pk


def head_of_others(monkeypatch: Any, process: Any) -> WorkItem:
    """A provider head (of three rows) of German work ahead of the one English item,
    which is returned."""
    monkeypatch.setattr(pgcycle, "HEAD_ROWS", 3)
    for n in range(pgcycle.HEAD_ROWS + 2):
        make_item(process, reference=f"DE-{n}", language="de", priority="P1")
    return make_item(process, reference="EN", language="en", priority="P4")


def test_past_a_provider_head_it_may_not_take_a_pull_reads_its_grants_own_heads(monkeypatch):
    # given: the provider's backlog head is other-language work of the highest
    # priority, more of it than a pull reads of the head
    process = make_process(languages=["en", "de"])
    mine = head_of_others(monkeypatch, process)
    worker = agent(process, languages=["en"])
    # when
    claim = leases.work_item_claim(actor=principal(worker))
    # then: the item it may take, behind them
    assert claim is not None
    assert claim.item.pk == mine.pk


def test_the_head_alone_says_it_missed_and_writes_nothing(monkeypatch):
    # given: an English agent behind a head of German work
    process = make_process(languages=["en", "de"])
    mine = head_of_others(monkeypatch, process)
    worker = agent(process, languages=["en"])
    actor = principal(worker)
    context = leases.routing_context(actor)
    assert context is not None
    before = cycle_rows(mine, worker)
    # when: the statement reads the head alone, then past it
    lean = pgcycle.claim(actor=actor, pull=context.pull(head_only=True), now=timezone.now())
    # then: it found nothing to take there and wrote nothing...
    assert (lean.item, lean.decided, lean.head_missed) == (None, False, True)
    assert cycle_rows(mine, worker) == before
    # ...and the statement that reads past the head takes the item
    full = pgcycle.claim(actor=actor, pull=context.pull(head_only=False), now=timezone.now())
    assert full.item is not None
    assert full.item.pk == mine.pk
    assert not full.head_missed


def test_the_head_alone_with_no_room_is_an_answer_not_a_miss():
    # given: a worker with room for one item, holding it
    actor, _ = holding_its_only_room()
    context = leases.routing_context(actor)
    assert context is not None
    # when
    lean = pgcycle.claim(actor=actor, pull=context.pull(head_only=True), now=timezone.now())
    # then: nothing anywhere, decided at once (no statement reads past the head)
    assert (lean.item, lean.decided, lean.head_missed) == (None, True, False)


def test_after_a_miss_the_next_pulls_read_past_the_head_then_the_head_again(monkeypatch):
    # given: an English agent behind a head of German work, with more of its own
    process = make_process(languages=["en", "de"])
    first = head_of_others(monkeypatch, process)
    for n in range(leases.PULLS_PAST_THE_HEAD + 1):
        make_item(process, reference=f"EN-{n}", language="en", priority="P4")
    worker = agent(process, languages=["en"], channels={"email": 99})
    actor = principal(worker)
    reads: list[bool] = []
    claim = pgcycle.claim

    def recorded(**kwargs: Any) -> pgcycle.ClaimOutcome:
        reads.append(kwargs["pull"].head_only)
        return claim(**kwargs)

    monkeypatch.setattr(pgcycle, "claim", recorded)
    # when: it pulls PULLS_PAST_THE_HEAD + 2 times
    taken = [leases.work_item_claim(actor=actor) for _ in range(leases.PULLS_PAST_THE_HEAD + 2)]
    # then: every pull took an item, the first the best
    assert all(c is not None for c in taken)
    assert taken[0] is not None
    assert taken[0].item.pk == first.pk
    # and: the first pull missed the head and read past it; the next ones read past
    # it at once; then the head alone is tried again (and, still German, missed)
    past = [False] * leases.PULLS_PAST_THE_HEAD
    assert reads == [True, False, *past, True, False]


def test_from_the_provider_head_a_pull_takes_the_best_item_it_may_take(monkeypatch):
    # given: another language's item first, then two of the worker's in order
    monkeypatch.setattr(pgcycle, "HEAD_ROWS", 3)
    process = make_process(languages=["en", "de"])
    make_item(process, reference="DE", language="de", priority="P1")
    best = make_item(process, reference="EN-P2", language="en", priority="P2")
    make_item(process, reference="EN-P3", language="en", priority="P3")
    worker = agent(process, languages=["en"])
    # when
    claim = leases.work_item_claim(actor=principal(worker))
    # then
    assert claim is not None
    assert claim.item.pk == best.pk


@pytest.mark.django_db(transaction=True)
def test_when_another_pull_holds_the_head_a_pull_takes_the_next_item(monkeypatch):
    # given: a head of two items, both locked by a pull in flight elsewhere
    monkeypatch.setattr(pgcycle, "HEAD_ROWS", 2)
    process = make_process()
    held = [make_item(process, reference=f"HELD-{n}", priority="P1") for n in range(2)]
    free = make_item(process, reference="FREE", priority="P4")
    worker = agent(process)
    locked, release = threading.Event(), threading.Event()

    def hold() -> None:
        try:
            with transaction.atomic():
                list(WorkItem.objects.select_for_update().filter(pk__in=[i.pk for i in held]))
                locked.set()
                release.wait(10)
        finally:
            connections.close_all()

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert locked.wait(10)
        # when
        claim = leases.work_item_claim(actor=principal(worker))
    finally:
        release.set()
        holder.join()
    # then: the next item the worker may take, read from its grants' heads
    assert claim is not None
    assert claim.item.pk == free.pk


def assert_clocks_met_as_replayed(item: WorkItem) -> None:
    """Both clocks of test_clocks.sla_process stopped, met, and as a replay of the
    item's events gives them."""
    from offload.work import clocks
    from offload.work.models import SlaClock

    rows = {c.metric: c for c in SlaClock.objects.filter(item=item)}
    assert {m: c.state for m, c in rows.items()} == {"first_response": "met", "turnaround": "met"}
    assert clocks.item_replay(item) == {m: clocks.clock_of(c) for m, c in rows.items()}


def test_the_clocks_follow_the_one_statement_pull_and_complete():
    # given: an item under an SLA policy
    from offload.work.tests.test_clocks import sla_process

    process = sla_process()
    item = make_item(process)
    worker = agent(process)
    actor = principal(worker)
    # when
    claim = leases.work_item_claim(actor=actor)
    assert claim is not None
    assert claim.item.pk == item.pk
    services.work_item_complete(actor=actor, item=claim.item, outcome="resolved")
    # then: both clocks stopped, met, and equal to a replay of the events
    assert_clocks_met_as_replayed(item)


def transaction_markers(cycle: Any) -> list[str]:
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        cycle()
    return [q["sql"] for q in captured.captured_queries if q["sql"] in ("BEGIN", "COMMIT")]


def one_cycle(actor: Principal) -> Any:
    def run() -> None:
        held = leases.work_item_claim(actor=actor)
        assert held is not None
        services.work_item_complete(actor=actor, item=held.item, outcome="resolved")

    return run


# Real transactions: inside the test's own one, atomic() would be a savepoint.
@pytest.mark.django_db(transaction=True)
def test_without_clocks_each_statement_is_its_own_transaction():
    # given: a worker whose processes keep no clocks, its context kept by a first cycle
    process = make_process(wrap_up_seconds=0)
    worker = agent(process)
    make_item(process, reference="FIRST")
    make_item(process, reference="SECOND")
    actor = principal(worker)
    one_cycle(actor)()
    # when / then: a cycle opens no transaction of its own (two round trips fewer each)
    assert transaction_markers(one_cycle(actor)) == []


# Real transactions: inside the test's own one, atomic() would be a savepoint.
@pytest.mark.django_db(transaction=True)
def test_with_clocks_the_statements_run_in_a_transaction_with_them():
    # given: a worker on a process under an SLA policy
    from offload.work.tests.test_clocks import sla_process

    process = sla_process()
    worker = agent(process)
    make_item(process, reference="FIRST")
    make_item(process, reference="SECOND")
    actor = principal(worker)
    one_cycle(actor)()
    # when / then
    assert transaction_markers(one_cycle(actor)) == ["BEGIN", "COMMIT", "BEGIN", "COMMIT"]


def test_an_item_with_clocks_under_a_worker_expecting_none_still_has_them_follow():
    # given: an item with clocks whose process then loses its policy, so its worker's
    # context expects no clocks and runs the statements alone
    from offload.contracts.models import Process
    from offload.work.tests.test_clocks import sla_process

    process = sla_process()
    item = make_item(process)
    Process.objects.filter(pk=process.pk).update(sla_policy=None)
    worker = agent(process)
    actor = principal(worker)
    # when
    claim = leases.work_item_claim(actor=actor)
    assert claim is not None
    kept = leases.routing_context_kept(actor)
    assert kept is not None
    assert not kept.clocked
    services.work_item_complete(actor=actor, item=claim.item, outcome="resolved")
    # then: the statements gave way to a transaction, and the clocks followed
    assert_clocks_met_as_replayed(item)


@pytest.mark.django_db(transaction=True)
def test_a_claim_under_a_worker_expecting_no_clocks_still_moves_them():
    # given: an escalated item under a policy that pauses clocks while escalated, the
    # policy then detached from the process, so the worker's context expects no clocks
    from offload.contracts.models import Process
    from offload.work.models import SlaClock
    from offload.work.tests.test_clocks import sla_process

    process = sla_process(pause_statuses=["escalated"])
    item = make_item(process)
    services.work_item_escalate(actor=None, item=item, reason="needs a senior")
    assert SlaClock.objects.get(item=item, metric="turnaround").state == "paused"
    Process.objects.filter(pk=process.pk).update(sla_policy=None)
    actor = principal(agent(process))
    # when
    claims: list[Any] = []
    markers = transaction_markers(lambda: claims.append(leases.work_item_claim(actor=actor)))
    # then: the `assigned` event resumed the clock, in one transaction with the claim
    assert claims[0] is not None
    assert SlaClock.objects.get(item=item, metric="turnaround").state == "running"
    assert markers == ["BEGIN", "COMMIT"]


def test_alone_the_statements_write_nothing_for_an_item_with_clocks():
    # given: a held item with clocks
    from offload.work.tests.test_clocks import sla_process

    process = sla_process()
    item = make_item(process)
    worker = agent(process)
    actor = principal(worker)
    claim = leases.work_item_claim(actor=actor)
    assert claim is not None
    before = cycle_rows(item, worker)
    # when: the complete statement runs alone
    done = pgcycle.complete(
        actor=actor,
        item_id=item.pk,
        outcome="resolved",
        result={},
        data={},
        now=item.updated_at,
        alone=True,
    )
    # then: it asks for a transaction and wrote nothing
    assert done is not None
    assert done.needs_transaction
    assert cycle_rows(item, worker) == before


def test_the_cycle_statements_are_prepared_once_and_planned_generically():
    # given: a worker cycling through eight items
    process = make_process(wrap_up_seconds=0)
    worker = agent(process)
    for n in range(8):
        make_item(process, reference=f"R{n}")
    actor = principal(worker)
    # when
    for _ in range(8):
        held = leases.work_item_claim(actor=actor)
        assert held is not None
        services.work_item_complete(actor=actor, item=held.item, outcome="resolved")
    # then: the claim and the complete are each one prepared statement on the server,
    # run from its generic plan (planning them afresh costs more than running them)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT statement, generic_plans, custom_plans FROM pg_prepared_statements "
            "WHERE NOT from_sql"
        )
        found = cursor.fetchall()
    claim = [row for row in found if "INSERT INTO work_assignment" in row[0]]
    complete = [row for row in found if "SET status = 'completed'" in row[0]]
    assert len(claim) == 1
    assert len(complete) == 1
    assert claim[0][1:] == (8, 0)
    assert complete[0][1:] == (8, 0)


def test_over_the_api_a_cycle_is_its_prepared_statements_alone(client):
    # given: an agent with an API key that has pulled once (its key and routing
    # context are kept)
    process = make_process(wrap_up_seconds=0)
    worker = agent(process)
    for n in range(2):
        make_item(process, reference=f"R{n}")
    _, secret = make_api_key(process.provider, user=worker.user)
    headers = {"HTTP_AUTHORIZATION": f"Bearer {secret}"}

    def cycle() -> tuple[dict[str, Any], dict[str, Any], int, int]:
        with CaptureQueriesContext(connection) as pulled:
            claim = client.post("/api/v1/work/next", {}, "application/json", **headers)
        item = claim.json()["item"]
        with CaptureQueriesContext(connection) as completed:
            done = client.post(
                f"/api/v1/items/{item['id']}/complete",
                {"outcome": "resolved"},
                "application/json",
                **headers,
            )
        assert done.status_code == 200
        return item, done.json(), len(pulled), len(completed)

    cycle()
    # when
    item, done, pull_reads, complete_reads = cycle()
    # then: the statements answer with the slugs and nothing is read beside them
    # (they and the key's read are prepared statements, which Django's log omits)
    assert (item["process"], item["queue"]) == (
        process.slug,
        Queue.objects.get(process=process).slug,
    )
    assert (done["process"], done["queue"], done["status"]) == (
        item["process"],
        item["queue"],
        "completed",
    )
    assert (pull_reads, complete_reads) == (0, 0)


def test_the_grants_reach_the_statement_as_given():
    # given: grants whose languages need quoting in PostgreSQL's array text form
    grants = [Grant(7, 'a"b\\c', 1.5), Grant(7, "en", 1.5), Grant(9, "*", 0), Grant(9, "", 0)]
    # when
    arrays = pgcycle.grant_arrays(grants, {7: "chat", 9: "voice"})
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT %s::bigint[], %s::text[], %s::text[], %s::float8[], %s::text[]",
            [arrays.queues, *arrays.languages, arrays.waits, arrays.channels],
        )
        found = cursor.fetchone()
    # then: one read per queue and wait, its languages in slots ('*' alone)
    assert found == (
        [7, 9],
        ['a"b\\c', "*"],
        ["en", None],
        [1.5, 0.0],
        ["chat", "voice"],
    )
    assert arrays.slots == 2
    assert arrays.any_language
    assert not pgcycle.grant_arrays([Grant(7, "en", 0)], {7: "chat"}).any_language
