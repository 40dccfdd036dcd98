"""Push offers and a supervisor's manual assignment."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from offload.contracts.models import Process
from offload.core import errors
from offload.tenancy import visibility
from offload.tenancy.tests.factories import api_client, make_api_key, make_user
from offload.tenancy.visibility import Principal
from offload.work import dispatch, intake, leases
from offload.work.models import Assignment, Offer, OfferStatus, WorkItem, WorkItemEvent
from offload.work.tests.factories import make_item, make_process
from offload.workers import services as worker_services
from offload.workers.models import Worker, WorkerChannel
from offload.workers.tests.factories import make_agent

pytestmark = pytest.mark.django_db


def principal(worker: Worker) -> Principal:
    found = visibility.principal_for_user(worker.user)
    assert found is not None
    return found


def agent(process: Process, **overrides: Any) -> Worker:
    values: dict[str, Any] = {"skills": {}, "languages": ["en"], "processes": [process]}
    values.update(overrides)
    worker = make_agent(process.provider, **values)
    return worker_services.worker_set_presence(actor=None, worker=worker, presence="available")


def push_process(strategy: str = "longest_idle") -> Process:
    process = make_process()
    queue = intake.queue_default(process)
    queue.routing_mode, queue.push_strategy, queue.offer_timeout_seconds = "push", strategy, 30
    queue.save()
    return process


def idle_since(worker: Worker, minutes_ago: int) -> None:
    Worker.objects.filter(pk=worker.pk).update(
        idle_since=timezone.now() - timedelta(minutes=minutes_ago)
    )


def last_type(item: WorkItem) -> str:
    event = WorkItemEvent.objects.filter(item=item).order_by("-seq").first()
    assert event is not None
    return event.type


def test_an_item_is_offered_to_the_longest_idle_worker_who_accepts_it():
    # given
    process = push_process()
    item = make_item(process)
    recent, longest = agent(process), agent(process)
    idle_since(recent, 1)
    idle_since(longest, 30)
    # when
    made = dispatch.offers_due(timezone.now())
    # then
    offer = Offer.objects.get(item=item)
    assert made == 1
    assert offer.worker_id == longest.pk
    assert last_type(item) == "offered"
    # when
    lease = dispatch.offer_accept(actor=principal(longest), offer_id=offer.pk)
    # then
    item.refresh_from_db()
    assert (item.status, item.assignee_id, lease.how) == ("assigned", longest.user_id, "push")
    offer.refresh_from_db()
    assert offer.status == OfferStatus.ACCEPTED


def test_a_declined_offer_goes_to_the_next_worker_never_back():
    # given
    process = push_process()
    item = make_item(process)
    first, second = agent(process), agent(process)
    idle_since(first, 30)
    idle_since(second, 5)
    dispatch.offers_due(timezone.now())
    offer = Offer.objects.get(item=item, status="open")
    assert offer.worker_id == first.pk
    # when
    dispatch.offer_decline(actor=principal(first), offer_id=offer.pk, reason="On a call")
    dispatch.offers_due(timezone.now())
    # then
    again = Offer.objects.get(item=item, status="open")
    assert again.worker_id == second.pk
    # and once everyone has said no, nobody is asked again
    dispatch.offer_decline(actor=principal(second), offer_id=again.pk)
    assert dispatch.offers_due(timezone.now()) == 0


def test_an_unanswered_offer_expires_and_the_item_moves_on():
    # given
    process = push_process()
    item = make_item(process)
    first, second = agent(process), agent(process)
    idle_since(first, 30)
    idle_since(second, 5)
    now = timezone.now()
    dispatch.offers_due(now)
    # when
    expired = dispatch.offers_expired(now + timedelta(seconds=30))
    dispatch.offers_due(now + timedelta(seconds=31))
    # then
    assert expired == 1
    assert Offer.objects.get(item=item, worker=first).status == OfferStatus.EXPIRED
    assert Offer.objects.get(item=item, status="open").worker_id == second.pk
    with pytest.raises(errors.Conflict):
        dispatch.offer_accept(actor=principal(first), offer_id=Offer.objects.get(worker=first).pk)


def test_least_loaded_offers_to_the_worker_holding_least():
    # given
    process = push_process("least_loaded")
    busy, free = agent(process), agent(process)
    WorkerChannel.objects.filter(worker=busy).update(load=2)
    idle_since(busy, 60)
    item = make_item(process)
    # when
    dispatch.offers_due(timezone.now())
    # then
    assert Offer.objects.get(item=item).worker_id == free.pk


def test_push_offers_items_in_the_queues_own_order():
    # given a push queue ordered by age alone, an old P4 and a newer P1, one worker
    process = push_process()
    queue = intake.queue_default(process)
    queue.ordering = ["created_at"]
    queue.save()
    old = make_item(process, priority="P4")
    make_item(process, priority="P1")
    agent(process)
    # when
    dispatch.offers_due(timezone.now())
    # then the oldest is offered first, as a pull from this queue would take it
    assert list(Offer.objects.values_list("item_id", flat=True)) == [old.pk]


def test_items_of_push_queues_are_not_pulled():
    # given
    process = push_process()
    make_item(process)
    worker = agent(process)
    # then
    assert leases.work_item_claim(actor=principal(worker)) is None


# ------------------------------------------------------------------ manual


def lead_of(process: Process) -> Principal:
    found = visibility.principal_for_user(make_user(process.provider, "team_lead"))
    assert found is not None
    return found


def test_a_team_lead_assigns_a_waiting_item_to_an_eligible_worker():
    # given
    process = make_process()
    item = make_item(process)
    worker = agent(process)
    # when
    lease = dispatch.work_item_assign(actor=lead_of(process), item=item, worker=worker)
    # then
    item.refresh_from_db()
    assert (item.status, lease.how) == ("assigned", "manual")
    event = WorkItemEvent.objects.filter(item=item, type="assigned").get()
    assert event.data["how"] == "manual"


def test_a_manual_assignment_withdraws_the_open_offer_without_barring_its_worker():
    # given an item offered to one worker of a push queue
    process = push_process()
    item = make_item(process)
    offered, other = agent(process), agent(process)
    idle_since(offered, 30)
    dispatch.offers_due(timezone.now())
    offer = Offer.objects.get(item=item)
    assert offer.worker_id == offered.pk
    # when a team lead gives the item to the other worker
    dispatch.work_item_assign(actor=lead_of(process), item=item, worker=other)
    # then the offer is withdrawn, not declined: the offered worker never said no
    offer.refresh_from_db()
    assert offer.status == OfferStatus.WITHDRAWN
    assert dispatch._refused([item]) == {item.pk: set()}


def test_an_ineligible_worker_needs_an_override_with_a_reason():
    # given
    process = make_process()
    item = make_item(process, language="de")
    worker = agent(process)  # speaks en only
    lead = lead_of(process)
    # when / then
    with pytest.raises(errors.ValidationFailed) as refused:
        dispatch.work_item_assign(actor=lead, item=item, worker=worker)
    assert refused.value.errors[0].field == "worker_id"
    assert "does not speak 'de'" in refused.value.errors[0].message
    with pytest.raises(errors.ValidationFailed) as no_reason:
        dispatch.work_item_assign(actor=lead, item=item, worker=worker, override=True)
    assert no_reason.value.errors[0].field == "reason"
    # when
    dispatch.work_item_assign(
        actor=lead, item=item, worker=worker, override=True, reason="Uses a translator"
    )
    # then
    event = WorkItemEvent.objects.filter(item=item, type="assigned").get()
    assert event.data["override"] is True
    assert event.data["reason"] == "Uses a translator"


def test_reassigning_a_held_item_frees_the_first_holder():
    # given
    process = make_process()
    item = make_item(process)
    first, second = agent(process), agent(process)
    leases.work_item_claim(actor=principal(first))
    # when
    dispatch.work_item_assign(
        actor=lead_of(process), item=item, worker=second, reason="Senior needed"
    )
    # then
    assert WorkerChannel.objects.get(worker=first).load == 0
    assert WorkerChannel.objects.get(worker=second).load == 1
    held = Assignment.objects.filter(item=item).order_by("id")
    assert [(a.worker_id, a.ended_at is None) for a in held] == [
        (first.pk, False),
        (second.pk, True),
    ]
    types = list(
        WorkItemEvent.objects.filter(item=item).order_by("seq").values_list("type", flat=True)
    )
    assert types[-2:] == ["released", "assigned"]


def test_an_agent_may_not_assign_through_the_api_but_a_team_lead_may():
    # given
    process = make_process()
    item = make_item(process)
    worker = agent(process)
    agent_key = make_api_key(process.provider, user=worker.user)[1]
    lead_key = make_api_key(process.provider, user=make_user(process.provider, "team_lead"))[1]
    body = json.dumps({"worker_id": worker.pk})
    url = f"/api/v1/items/{item.pk}/assign"
    # when
    refused = api_client(agent_key).post(url, body, content_type="application/json")
    done = api_client(lead_key).post(url, body, content_type="application/json")
    # then
    assert refused.status_code == 403
    assert done.status_code == 200, done.content
    assert done.json()["lease"]["how"] == "manual"


def test_the_offers_api_lists_accepts_and_declines():
    # given
    process = push_process()
    item = make_item(process)
    worker = agent(process)
    client = api_client(make_api_key(process.provider, user=worker.user)[1])
    dispatch.offers_due(timezone.now())
    # when
    listed = client.get("/api/v1/work/offers", {"mine": "true", "status": "open"})
    offer_id = listed.json()["items"][0]["id"]
    accepted = client.post(f"/api/v1/work/offers/{offer_id}/accept")
    # then
    assert listed.status_code == 200
    assert listed.json()["items"][0]["item"]["id"] == item.pk
    assert accepted.status_code == 200, accepted.content
    assert accepted.json()["item"]["status"] == "assigned"
