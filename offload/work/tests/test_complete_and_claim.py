"""Complete and take the next item in one request: what the complete then the pull
write, on every database; on PostgreSQL in one statement."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.db import connection

from offload.core import errors
from offload.tenancy.tests.factories import api_client, make_api_key, make_user
from offload.work import clocks, leases, services
from offload.work.models import Assignment, SlaClock, WorkItem, WorkItemEvent
from offload.work.tests.factories import make_item, make_process
from offload.work.tests.test_pgcycle import (
    agent,
    cycle_rows,
    head_of_others,
    hooked_process,
    principal,
    transaction_markers,
    without_owners,
)
from offload.workers import services as worker_services
from offload.workers.models import Worker, WorkerChannel

pytestmark = pytest.mark.django_db

on_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the one statement is PostgreSQL's"
)


def held_first(process: Any, worker: Worker) -> WorkItem:
    claim = leases.work_item_claim(actor=principal(worker))
    assert claim is not None
    return claim.item


def test_the_holder_completes_and_takes_its_next_item():
    # given: a worker holding the first of two items
    process = make_process(wrap_up_seconds=0)
    first = make_item(process, reference="FIRST", priority="P1")
    second = make_item(process, reference="SECOND", priority="P2")
    worker = agent(process)
    assert held_first(process, worker).pk == first.pk
    # when
    done, claim = services.work_item_complete_and_claim(
        actor=principal(worker), item_id=first.pk, outcome="resolved", result={"ok": 1}
    )
    # then: the first completed, the second held with a lease and its event
    first.refresh_from_db()
    assert (done.pk, done.status, first.status, first.result) == (
        first.pk,
        "completed",
        "completed",
        {"ok": 1},
    )
    assert claim is not None
    assert claim.item.pk == second.pk
    assert claim.assignment.worker_id == worker.pk
    assert Assignment.objects.get(item=second, ended_at__isnull=True).worker_id == worker.pk
    assert WorkerChannel.objects.get(worker=worker).load == 1
    assert WorkItemEvent.objects.filter(item=second, type="assigned").count() == 1


def test_with_nothing_left_the_completion_stands_and_there_is_no_next():
    # given
    process = make_process(wrap_up_seconds=0)
    item = make_item(process)
    worker = agent(process)
    held_first(process, worker)
    # when
    done, claim = services.work_item_complete_and_claim(
        actor=principal(worker), item_id=item.pk, outcome="resolved"
    )
    # then: idle again, its capacity free
    worker.refresh_from_db()
    assert done.status == "completed"
    assert claim is None
    assert WorkerChannel.objects.get(worker=worker).load == 0
    assert worker.idle_since is not None


def test_a_worker_no_longer_available_completes_but_takes_nothing():
    # given: a worker that went away while holding an item, another waiting
    process = make_process(wrap_up_seconds=0)
    item = make_item(process, priority="P1")
    waiting = make_item(process, priority="P2")
    worker = agent(process)
    held_first(process, worker)
    worker_services.worker_set_presence(actor=None, worker=worker, presence="away")
    # when
    done, claim = services.work_item_complete_and_claim(
        actor=principal(worker), item_id=item.pk, outcome="resolved"
    )
    # then
    waiting.refresh_from_db()
    assert done.status == "completed"
    assert claim is None
    assert waiting.status == "queued"


def test_an_item_the_caller_does_not_hold_is_refused_and_nothing_is_pulled():
    # given: two workers, the first holding an item
    process = make_process(wrap_up_seconds=0)
    item = make_item(process, priority="P1")
    waiting = make_item(process, priority="P2")
    holder, other = agent(process), agent(process)
    held_first(process, holder)
    # when / then
    with pytest.raises(errors.Conflict):
        services.work_item_complete_and_claim(
            actor=principal(other), item_id=item.pk, outcome="resolved"
        )
    item.refresh_from_db()
    waiting.refresh_from_db()
    assert (item.status, waiting.status) == ("assigned", "queued")


@on_postgresql
@pytest.mark.parametrize(("wrap_up", "capacity"), [(0, 1), (60, 1), (60, 2)])
def test_the_one_statement_writes_what_the_complete_then_the_pull_write(
    monkeypatch, wrap_up, capacity
):
    # given: two twin processes with a webhook endpoint, each with an agent holding
    # the first of two items
    results: list[dict[str, Any]] = []
    for fast in (True, False):
        process = hooked_process(wrap_up_seconds=wrap_up)
        first = make_item(process, reference="SAME-1", priority="P1")
        second = make_item(process, reference="SAME-2", priority="P2")
        worker = agent(process, channels={"email": capacity})
        held_first(process, worker)
        if fast:
            # The one statement decides it all: neither service is called.
            for module, name in (
                (services, "work_item_complete_held"),
                (leases, "work_item_claim"),
            ):
                monkeypatch.setattr(module, name, None)
        else:
            # The two services in turn.
            monkeypatch.setattr(services, "_complete_and_claim_in_one_statement", None)
            monkeypatch.setattr(leases, "routing_context", lambda actor: None)
        # when
        done, claim = services.work_item_complete_and_claim(
            actor=principal(worker),
            item_id=first.pk,
            outcome="resolved",
            result={"ok": 1},
            handle_seconds=30,
        )
        monkeypatch.undo()
        assert done.pk == first.pk
        results.append(
            {
                "next": claim is not None and claim.item.pk == second.pk,
                "first": cycle_rows(first, worker),
                "second": cycle_rows(second, worker),
            }
        )
    # then: everything but ids, times and the owners' ids is identical
    fast_rows, general_rows = results
    assert fast_rows["next"] == general_rows["next"] == (wrap_up == 0 or capacity == 2)
    for item in ("first", "second"):
        for part in ("events", "leases", "channels", "idle", "deliveries"):
            fast_part, general_part = fast_rows[item][part], general_rows[item][part]
            assert without_owners(fast_part) == without_owners(general_part), (item, part)
        assert fast_rows[item]["item"]["status"] == general_rows[item]["item"]["status"]


@on_postgresql
def test_a_next_item_past_the_head_is_taken_and_the_next_pulls_read_past_it(monkeypatch):
    # given: an English agent holding one of its items, the provider's head German
    process = make_process(languages=["en", "de"], wrap_up_seconds=0)
    mine = head_of_others(monkeypatch, process)
    later = make_item(process, reference="EN-LATER", language="en", priority="P4")
    worker = agent(process, languages=["en"])
    actor = principal(worker)
    assert held_first(process, worker).pk == mine.pk
    context = leases.routing_context(actor)
    assert context is not None
    context.head.pulls_past_the_head = 0  # its hint as if the head had been its own
    # when: it completes and takes its next, which the head alone does not reach
    done, claim = services.work_item_complete_and_claim(
        actor=actor, item_id=mine.pk, outcome="resolved"
    )
    # then: the completion stands, the next item is taken past the head (by the pull
    # that reads past it, one of the PULLS_PAST_THE_HEAD), and the worker's next
    # pulls read past the head at once
    assert done.status == "completed"
    assert claim is not None
    assert claim.item.pk == later.pk
    assert context.head.pulls_past_the_head == leases.PULLS_PAST_THE_HEAD - 1


@on_postgresql
@pytest.mark.django_db(transaction=True)
def test_the_one_statement_is_its_own_transaction_and_keeps_the_events_in_order():
    # given: a worker whose processes keep no clocks, holding the first of two items
    process = make_process(wrap_up_seconds=0)
    first = make_item(process, priority="P1")
    second = make_item(process, priority="P2")
    worker = agent(process)
    actor = principal(worker)
    held_first(process, worker)
    got: list[Any] = []
    # when
    markers = transaction_markers(
        lambda: got.append(
            services.work_item_complete_and_claim(actor=actor, item_id=first.pk, outcome="resolved")
        )
    )
    # then: no transaction of its own, and the completion's event came first
    assert markers == []
    assert got[0][1].item.pk == second.pk
    completed = WorkItemEvent.objects.get(item=first, type="completed")
    assigned = WorkItemEvent.objects.get(item=second, type="assigned")
    assert completed.pk < assigned.pk


@on_postgresql
def test_freed_on_one_channel_and_taken_on_another():
    # given: an agent on a chat process and a back-office one, holding a chat item
    chat = make_process(channel="chat", wrap_up_seconds=0, slug="chat")
    office = make_process(
        channel="back_office",
        wrap_up_seconds=0,
        slug="office",
        engagement=chat.engagement,
    )
    held = make_item(chat, priority="P1")
    waiting = make_item(office, priority="P2")
    worker = agent(chat, processes=[chat, office], channels={"chat": 1, "back_office": 1})
    assert held_first(chat, worker).pk == held.pk
    # when
    _, claim = services.work_item_complete_and_claim(
        actor=principal(worker), item_id=held.pk, outcome="resolved"
    )
    # then
    loads = dict(WorkerChannel.objects.filter(worker=worker).values_list("channel", "load"))
    worker.refresh_from_db()
    assert claim is not None
    assert claim.item.pk == waiting.pk
    assert loads == {"chat": 0, "back_office": 1}
    assert worker.idle_since is None


def assert_clocks_as_replayed(item: WorkItem) -> None:
    rows = {c.metric: c for c in SlaClock.objects.filter(item=item)}
    assert rows
    assert clocks.item_replay(item) == {m: clocks.clock_of(c) for m, c in rows.items()}


def test_the_clocks_follow_both_events():
    # given: a worker on a process under an SLA policy, holding the first of two items
    from offload.work.tests.test_clocks import sla_process

    process = sla_process()
    first = make_item(process, priority="P1")
    second = make_item(process, priority="P2")
    worker = agent(process)
    held_first(process, worker)
    # when
    _, claim = services.work_item_complete_and_claim(
        actor=principal(worker), item_id=first.pk, outcome="resolved"
    )
    # then: the first's clocks stopped, the second's as its events give them
    assert claim is not None
    assert claim.item.pk == second.pk
    assert {c.state for c in SlaClock.objects.filter(item=first)} == {"met"}
    assert_clocks_as_replayed(first)
    assert_clocks_as_replayed(second)


@on_postgresql
def test_a_next_item_with_clocks_under_a_worker_expecting_none_still_has_them_follow():
    # given: a worker expecting no clocks (the second process lost its policy after
    # its item was created), holding an item without clocks
    from offload.contracts.models import Process
    from offload.work.tests.test_clocks import sla_process

    timed = sla_process()
    plain = make_process(wrap_up_seconds=0, engagement=timed.engagement)
    held = make_item(plain, priority="P1")
    clocked = make_item(timed, priority="P2")
    Process.objects.filter(pk=timed.pk).update(sla_policy=None)
    worker = agent(plain, processes=[plain, timed])
    assert held_first(plain, worker).pk == held.pk
    kept = leases.routing_context_kept(principal(worker))
    assert kept is not None
    assert not kept.clocked
    # when
    _, claim = services.work_item_complete_and_claim(
        actor=principal(worker), item_id=held.pk, outcome="resolved"
    )
    # then: the pull gave way to a transaction, and the clocks followed
    assert claim is not None
    assert claim.item.pk == clocked.pk
    assert_clocks_as_replayed(clocked)


# ------------------------------------------------------------------ API


def post(client: Any, path: str, body: dict[str, Any]) -> Any:
    return client.post(path, json.dumps(body), content_type="application/json")


def test_the_api_completes_and_answers_with_the_next_item_then_null():
    # given
    process = make_process(wrap_up_seconds=0)
    first = make_item(process, priority="P1")
    second = make_item(process, priority="P2")
    worker = agent(process)
    client = api_client(make_api_key(worker.provider, user=worker.user)[1])
    assert post(client, "/api/v1/work/next", {}).json()["item"]["id"] == first.pk
    # when
    one = post(client, f"/api/v1/work/{first.pk}/complete-and-next", {"outcome": "resolved"})
    two = post(client, f"/api/v1/work/{second.pk}/complete-and-next", {"outcome": "resolved"})
    # then
    assert one.status_code == 200, one.content
    assert one.json()["completed"]["id"] == first.pk
    assert one.json()["completed"]["status"] == "completed"
    assert one.json()["next"]["item"]["id"] == second.pk
    assert one.json()["next"]["lease"]["worker_id"] == worker.pk
    assert two.status_code == 200, two.content
    assert two.json()["completed"]["id"] == second.pk
    assert two.json()["next"] is None


def test_the_api_refuses_bad_input_an_item_not_held_and_a_non_worker():
    # given: an item another worker holds, and a queued one
    process = make_process(wrap_up_seconds=0)
    held = make_item(process, priority="P1")
    queued = make_item(process, priority="P2")
    holder, worker = agent(process), agent(process)
    leases.work_item_claim(actor=principal(holder))
    client = api_client(make_api_key(worker.provider, user=worker.user)[1])
    admin = api_client(make_api_key(process.provider, user=make_user(process.provider, "admin"))[1])
    # when
    bad = post(client, f"/api/v1/work/{held.pk}/complete-and-next", {"outcome": "maybe"})
    not_held = post(client, f"/api/v1/work/{held.pk}/complete-and-next", {"outcome": "resolved"})
    as_admin = post(admin, f"/api/v1/work/{queued.pk}/complete-and-next", {"outcome": "resolved"})
    # then: nothing was completed, nothing pulled
    assert bad.status_code == 422
    assert bad.headers["Content-Type"].startswith("application/problem+json")
    assert not_held.status_code == 409
    assert as_admin.status_code == 403
    assert "not a worker" in as_admin.json()["detail"]
    held.refresh_from_db()
    queued.refresh_from_db()
    assert (held.status, queued.status) == ("assigned", "queued")
