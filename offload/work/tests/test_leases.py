"""Pull routing with leases: who gets which item, capacity, wrap-up and expiry."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from offload.contracts import services as contract_services
from offload.contracts.models import Process
from offload.core import errors
from offload.tenancy import visibility
from offload.tenancy.tests.factories import api_client, make_api_key, make_user
from offload.tenancy.visibility import Principal
from offload.work import leases, services, webhooks
from offload.work.models import Assignment, WebhookDelivery, WorkItem, WorkItemEvent
from offload.work.tests.factories import make_item, make_process
from offload.workers import services as worker_services
from offload.workers.models import Worker, WorkerChannel
from offload.workers.tests.factories import make_agent

pytestmark = pytest.mark.django_db

JSON = "application/json"


def principal(worker: Worker) -> Principal:
    found = visibility.principal_for_user(worker.user)
    assert found is not None
    return found


def available(worker: Worker) -> Worker:
    return worker_services.worker_set_presence(actor=None, worker=worker, presence="available")


def agent(process: Process, **overrides: Any) -> Worker:
    values: dict[str, Any] = {"skills": {}, "languages": ["en"], "processes": [process]}
    values.update(overrides)
    return available(make_agent(process.provider, **values))


def load(worker: Worker, channel: str = "email") -> int:
    return WorkerChannel.objects.get(worker=worker, channel=channel).load


def types(item: WorkItem) -> list[str]:
    return list(
        WorkItemEvent.objects.filter(item=item).order_by("seq").values_list("type", flat=True)
    )


def test_a_pull_assigns_the_best_eligible_item_with_a_lease_and_an_event():
    # given
    process = make_process()
    low = make_item(process, reference="LOW", priority="P4")
    high = make_item(process, reference="HIGH", priority="P1")
    worker = agent(process)
    # when
    claim = leases.work_item_claim(actor=principal(worker))
    # then
    assert claim is not None
    assert claim.item.pk == high.pk
    assert claim.item.status == "assigned"
    assert claim.item.assignee_id == worker.user_id
    assert claim.assignment.lease_expires_at > timezone.now()
    assert types(high)[-1] == "assigned"
    assert load(worker) == 1
    low.refresh_from_db()
    assert low.status == "queued"


def test_no_capacity_or_nothing_eligible_is_no_claim():
    # given
    process = make_process()
    make_item(process, reference="A")
    make_item(process, reference="B")
    worker = agent(process, channels={"email": 1})
    # when
    first = leases.work_item_claim(actor=principal(worker))
    second = leases.work_item_claim(actor=principal(worker))
    # then
    assert first is not None
    assert second is None
    assert load(worker) == 1


@pytest.mark.parametrize(
    "overrides",
    [
        {"processes": []},  # not certified
        {"languages": ["de"]},  # no shared language
        {"channels": {"chat": 3}},  # no capacity on the item's channel
    ],
)
def test_an_ineligible_worker_gets_nothing(overrides):
    # given
    process = make_process()
    make_item(process, language="en")
    worker = agent(process, **overrides)
    # then
    assert leases.work_item_claim(actor=principal(worker)) is None


def test_required_skills_relax_after_the_queues_wait():
    # given: billing 3 required; after 10 minutes level 2 will do
    process = make_process(required_skills={"billing": 3})
    item = make_item(process)
    item.queue.relaxation = [{"after_minutes": 10, "skill_drop": 1}]
    item.queue.save()
    junior = agent(process, skills={"billing": 2})
    now = timezone.now()
    # then
    assert leases.work_item_claim(actor=principal(junior), now=now) is None
    later = now + timedelta(minutes=11)
    assert leases.work_item_claim(actor=principal(junior), now=later) is not None


def test_a_worker_who_is_not_available_is_told_so():
    # given
    process = make_process()
    worker = make_agent(process.provider, processes=[process], skills={}, languages=["en"])
    # when / then
    with pytest.raises(errors.Conflict) as caught:
        leases.work_item_claim(actor=principal(worker))
    assert "available" in caught.value.detail


def test_completing_holds_capacity_through_wrap_up_then_frees_it():
    # given
    process = make_process()
    item = make_item(process)
    worker = agent(process, channels={"email": 1})
    leases.work_item_claim(actor=principal(worker))
    # when
    services.work_item_complete(actor=principal(worker), item=item, outcome="resolved")
    # then: wrapping up, the capacity is still taken
    lease = Assignment.objects.get(item=item)
    assert lease.ended_at is not None
    assert lease.end_reason == "completed"
    assert lease.wrap_up_until is not None
    assert load(worker) == 1
    # when
    ended = leases.wrap_up_end(actor=principal(worker))
    # then
    assert ended == 1
    assert load(worker) == 0
    assert types(item)[-1] == "wrap_up_ended"
    event = WorkItemEvent.objects.filter(item=item).order_by("-seq").first()
    assert event is not None
    assert event.data["handle_seconds"] == event.data["work_seconds"] + event.data["wrap_seconds"]


def test_a_wrap_up_ends_by_itself_at_the_process_limit():
    # given
    process = make_process()
    item = make_item(process)
    worker = agent(process)
    leases.work_item_claim(actor=principal(worker))
    services.work_item_complete(actor=principal(worker), item=item, outcome="resolved")
    # when
    handled = leases.wrap_ups_expired(timezone.now() + timedelta(seconds=process.wrap_up_seconds))
    # then
    assert handled == 1
    assert load(worker) == 0
    assert Assignment.objects.get(item=item).wrap_seconds == process.wrap_up_seconds


def test_an_expired_lease_returns_the_item_and_another_worker_finishes_it():
    # given: a bot claims and dies
    process = make_process()
    item = make_item(process)
    dead = agent(process)
    claim = leases.work_item_claim(actor=principal(dead))
    assert claim is not None
    # when
    expiry = claim.assignment.lease_expires_at
    handled = leases.leases_expired(expiry)
    # then
    assert handled == 1
    item.refresh_from_db()
    assert (item.status, item.assignee_id) == ("queued", None)
    assert load(dead) == 0
    assert types(item)[-1] == "lease_expired"
    # and another worker takes it and completes it
    other = agent(process)
    again = leases.work_item_claim(actor=principal(other), now=expiry)
    assert again is not None
    assert again.item.pk == item.pk
    services.work_item_complete(actor=principal(other), item=item, outcome="resolved")
    assert Assignment.objects.filter(item=item).count() == 2


def test_working_the_item_or_a_heartbeat_extends_the_lease():
    # given
    process = make_process()
    item = make_item(process)
    worker = agent(process)
    claim = leases.work_item_claim(actor=principal(worker))
    assert claim is not None
    first = claim.assignment.lease_expires_at
    # when
    later = timezone.now() + timedelta(minutes=5)
    lease = leases.lease_heartbeat(actor=principal(worker), item_id=item.pk, now=later)
    # then
    assert lease.lease_expires_at > first
    assert leases.leases_expired(first + timedelta(seconds=1)) == 0


def test_another_agent_cannot_act_on_a_held_item_but_a_team_lead_can():
    # given
    process = make_process()
    item = make_item(process)
    holder = agent(process)
    leases.work_item_claim(actor=principal(holder))
    other = agent(process)
    lead = make_user(process.provider, "team_lead")
    lead_principal = visibility.principal_for_user(lead)
    # when / then
    with pytest.raises(errors.Conflict):
        services.work_item_complete(actor=principal(other), item=item, outcome="resolved")
    services.work_item_escalate(actor=lead_principal, item=item, reason="Customer is a VIP")
    item.refresh_from_db()
    assert item.status == "escalated"
    assert load(holder) == 0
    assert Assignment.objects.get(item=item).end_reason == "escalated"


def test_waiting_on_the_client_frees_capacity_and_the_holder_gets_it_back():
    # given
    process = make_process()
    item = make_item(process)
    worker = agent(process, channels={"email": 1})
    leases.work_item_claim(actor=principal(worker))
    # when
    services.work_item_wait(actor=principal(worker), item=item, note="Asked for the invoice")
    # then
    assert load(worker) == 0
    assert Assignment.objects.get(item=item).ended_at is None
    # when the client answers
    services.work_item_resume(actor=None, item=item, note="Sent it")
    # then
    assert load(worker) == 1
    item.refresh_from_db()
    assert (item.status, item.assignee_id) == ("in_progress", worker.user_id)


def test_a_transfer_ends_the_lease_and_requeues_from_now():
    # given
    process = make_process()
    item = make_item(process)
    services.queue_create(actor=None, process=process, name="Tier 2", slug="tier-2")
    worker = agent(process)
    leases.work_item_claim(actor=principal(worker))
    # when
    services.work_item_transfer(actor=principal(worker), item=item, queue="tier-2")
    # then
    item.refresh_from_db()
    assert item.queued_at is not None
    assert load(worker) == 0
    assert Assignment.objects.get(item=item).end_reason == "queued"


# ------------------------------------------------------------------ API


def key_of(worker: Worker) -> str:
    return make_api_key(worker.provider, user=worker.user)[1]


def test_the_api_pulls_then_answers_204_when_nothing_is_left():
    # given
    process = make_process()
    item = make_item(process)
    worker = agent(process)
    client = api_client(key_of(worker))
    # when
    pulled = client.post("/api/v1/work/next", "{}", content_type="application/json")
    empty = client.post("/api/v1/work/next", "{}", content_type="application/json")
    completed = client.post(
        f"/api/v1/items/{item.pk}/complete",
        json.dumps({"outcome": "resolved"}),
        content_type="application/json",
    )
    # then
    assert pulled.status_code == 200, pulled.content
    assert pulled.json()["item"]["id"] == item.pk
    assert pulled.json()["lease"]["worker_id"] == worker.pk
    assert empty.status_code == 204
    assert completed.status_code == 200
    assert completed.json()["status"] == "completed"


def test_a_client_or_a_non_worker_cannot_pull():
    # given
    process = make_process()
    make_item(process)
    client_key = make_api_key(process.client, user=make_user(process.client, "client_admin"))[1]
    admin_key = make_api_key(process.provider, user=make_user(process.provider, "admin"))[1]
    # when
    as_client = api_client(client_key).post(
        "/api/v1/work/next", "{}", content_type="application/json"
    )
    as_admin = api_client(admin_key).post(
        "/api/v1/work/next", "{}", content_type="application/json"
    )
    # then
    assert as_client.status_code == 403
    assert as_admin.status_code == 403
    assert "not a worker" in as_admin.json()["detail"]


def test_a_heartbeat_on_an_item_not_held_is_a_409():
    # given
    process = make_process()
    item = make_item(process)
    worker = agent(process)
    # when
    response = api_client(key_of(worker)).post(f"/api/v1/work/{item.pk}/heartbeat")
    # then
    assert response.status_code == 409


def test_release_through_the_api_requeues_with_an_event():
    # given
    process = make_process()
    item = make_item(process)
    worker = agent(process)
    client = api_client(key_of(worker))
    client.post("/api/v1/work/next", "{}", content_type="application/json")
    # when
    response = client.post(
        f"/api/v1/work/{item.pk}/release",
        json.dumps({"reason": "Shift over"}),
        content_type="application/json",
    )
    # then
    assert response.status_code == 200
    assert response.json()["status"] == "queued"
    assert types(item)[-1] == "released"


def test_items_of_a_process_the_worker_is_not_certified_on_are_never_pulled():
    # given: two processes of the same provider
    process = make_process()
    other = contract_services.process_create(
        actor=None, engagement=process.engagement, name="Claims", channel="email"
    )
    make_item(other, reference="OTHER")
    worker = agent(process)
    # then
    assert leases.work_item_claim(actor=principal(worker)) is None


def test_a_pull_owes_the_assigned_event_to_subscribed_webhooks():
    # given
    process = make_process()
    item = make_item(process)
    endpoint = webhooks.webhook_endpoint_create(
        actor=None,
        client=process.client,
        provider=process.provider,
        url="https://hooks.example.com/in",
        event_types=["assigned"],
    )
    worker = agent(process)
    # when
    leases.work_item_claim(actor=principal(worker))
    # then
    [delivery] = WebhookDelivery.objects.filter(endpoint=endpoint)
    assert delivery.item_id == item.pk
    assert delivery.event.type == "assigned"
    assert delivery.status == "pending"
    worker.refresh_from_db()
    assert worker.idle_since is None
