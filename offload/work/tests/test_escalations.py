"""Escalation rules: `escalations.signal_escalate` (each action's event and effect)
and `/api/v1/escalation-rules`."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest
from django.core import mail
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from offload.contracts import services as contract_services
from offload.contracts.models import Process, SlaPolicy
from offload.contracts.tests.factories import make_engagement, make_policy, target
from offload.tenancy import visibility
from offload.tenancy.models import AuditEvent, Notification, User
from offload.tenancy.tests.factories import api_client, key_for, make_user
from offload.work import escalations, leases, webhooks
from offload.work.models import (
    Assignment,
    EscalationRule,
    Queue,
    SlaClock,
    WebhookDelivery,
    WorkItem,
    WorkItemEvent,
)
from offload.work.tests.factories import make_item, make_process, make_queue
from offload.workers import services as worker_services
from offload.workers.models import WorkerChannel
from offload.workers.tests.factories import make_agent

pytestmark = pytest.mark.django_db

RULES = "/api/v1/escalation-rules"
PROBLEM = "application/problem+json"


@dataclass(frozen=True)
class Sla:
    policy: SlaPolicy
    process: Process
    item: WorkItem


def sla_item(priority: str = "P3", **process: Any) -> Sla:
    """An item of a process under an SLA policy with targets for every priority."""
    engagement = process.pop("engagement", None) or make_engagement()
    policy = process.pop("policy", None) or make_policy(
        engagement,
        targets=[target("first_response", "", "4"), target("turnaround", "", "2")],
    )
    made = make_process(engagement=engagement, sla_policy=policy, **process)
    return Sla(policy, made, make_item(made, priority=priority))


def rule(sla: Sla, **fields: Any) -> EscalationRule:
    values: dict[str, Any] = {"metric": "first_response", "on_percent": 100, **fields}
    return escalations.escalation_rule_create(
        actor=None,
        client=sla.process.client,
        provider=sla.process.provider,
        policy_slug=sla.policy.slug,
        **values,
    )


def lead(sla: Sla, *, email: str = "", by_email: bool = False) -> User:
    user = make_user(sla.process.provider, "team_lead")
    User.objects.filter(pk=user.pk).update(email=email, notify_by_email=by_email)
    user.refresh_from_db()
    return user


def escalate(item: WorkItem, metric: str = "first_response", percent: int = 100) -> list[str]:
    """What the SLA code does on a signal: the item's row locked, in a transaction."""
    with transaction.atomic():
        locked = WorkItem.objects.select_for_update().get(pk=item.pk)
        taken = escalations.signal_escalate(
            item=locked, metric=metric, percent=percent, at=timezone.now()
        )
    item.refresh_from_db()
    return taken


def events(item: WorkItem, *types: str) -> list[WorkItemEvent]:
    qs = WorkItemEvent.objects.filter(item=item).order_by("seq")
    return list(qs.filter(type__in=types) if types else qs)


def clocks(item: WorkItem) -> list[tuple[Any, ...]]:
    return list(
        SlaClock.objects.filter(item=item)
        .order_by("metric")
        .values_list("metric", "priority", "target", "original_due_at")
    )


# ------------------------------------------------------------------ raise_priority


def test_raise_priority_moves_one_step_up_by_rule_and_keeps_the_clock_targets():
    # given
    sla = sla_item("P3")
    raising = rule(sla, raise_priority=True)
    targets = clocks(sla.item)
    assert targets  # the item's clocks run under the policy
    at = timezone.now()
    # when
    with transaction.atomic():
        locked = WorkItem.objects.select_for_update().get(pk=sla.item.pk)
        taken = escalations.signal_escalate(
            item=locked, metric="first_response", percent=100, at=at
        )
        # then: the item in hand is changed, so the caller's routing sees it
        assert locked.priority == "P2"
    assert taken == ["raise_priority"]
    sla.item.refresh_from_db()
    assert sla.item.priority == "P2"
    (event,) = events(sla.item, "reprioritized")
    assert event.data == {"from": "P3", "to": "P2", "by": "rule", "rule": raising.pk}
    assert (event.actor_label, event.actor_user_id, event.at) == ("system", None, at)
    assert clocks(sla.item) == targets


def test_two_signals_raise_twice_and_p1_is_not_raised():
    # given
    sla = sla_item("P2")
    rule(sla, raise_priority=True)
    # when
    first = escalate(sla.item)
    second = escalate(sla.item)
    # then
    assert (first, second) == (["raise_priority"], [])
    assert sla.item.priority == "P1"
    assert [e.data["to"] for e in events(sla.item, "reprioritized")] == ["P1"]


def test_a_stopped_item_is_not_raised_or_moved_but_still_notified():
    # given
    sla = sla_item("P3")
    source = sla.item.queue_id
    rule(
        sla,
        raise_priority=True,
        move_to_queue=make_queue(sla.process, slug="breached"),
        notify_client=True,
    )
    WorkItem.objects.filter(pk=sla.item.pk).update(status="completed")
    # when
    taken = escalate(sla.item)
    # then
    assert taken == ["notify_client"]
    assert (sla.item.priority, sla.item.queue_id) == ("P3", source)


# ------------------------------------------------------------------ notify_team_leads


def test_team_leads_are_notified_and_only_those_opted_in_are_emailed(
    django_capture_on_commit_callbacks,
):
    # given
    sla = sla_item()
    wants = lead(sla, email="ana@example.com", by_email=True)
    quiet = lead(sla, email="ben@example.com")
    Queue.objects.get(pk=sla.item.queue_id).team_leads.set([wants, quiet])
    notifying = rule(sla, notify_team_leads=True)
    # when
    with django_capture_on_commit_callbacks(execute=True):
        taken = escalate(sla.item)
    # then
    assert taken == ["notify_team_leads"]
    sent = Notification.objects.filter(dedupe_key__startswith="sla:").order_by("recipient_id")
    assert [n.recipient_id for n in sent] == sorted([wants.pk, quiet.pk])
    for n in sent:
        assert n.kind == "sla_breach"
        assert n.title == f"{sla.item.reference} breached its first-response SLA"
        assert n.link == f"/items/{sla.item.pk}/"
        assert n.dedupe_key == f"sla:{sla.item.pk}:first_response:100:{notifying.pk}"
    (event,) = events(sla.item, "sla_notified")
    assert event.data == {
        "users": sorted([wants.pk, quiet.pk]),
        "rule": notifying.pk,
        "metric": "first_response",
        "percent": 100,
    }
    assert [m.to for m in mail.outbox] == [["ana@example.com"]]
    assert mail.outbox[0].subject == f"{sla.item.reference} breached its first-response SLA"


def test_a_warning_is_an_sla_warning_notification():
    # given
    sla = sla_item()
    Queue.objects.get(pk=sla.item.queue_id).team_leads.set([lead(sla)])
    rule(sla, metric="turnaround", on_percent=75, notify_team_leads=True)
    # when
    taken = escalate(sla.item, "turnaround", 75)
    # then
    assert taken == ["notify_team_leads"]
    notification = Notification.objects.get()
    assert notification.kind == "sla_warning"
    assert notification.title == f"{sla.item.reference} has used 75% of its turnaround SLA"


def test_a_second_call_notifies_nobody_twice():
    # given
    sla = sla_item()
    Queue.objects.get(pk=sla.item.queue_id).team_leads.set([lead(sla), lead(sla)])
    rule(sla, notify_team_leads=True)
    escalate(sla.item)
    # when
    taken = escalate(sla.item)
    # then
    assert taken == []
    assert Notification.objects.count() == 2
    assert len(events(sla.item, "sla_notified")) == 1


def test_a_queue_without_team_leads_notifies_nobody():
    # given
    sla = sla_item()
    rule(sla, notify_team_leads=True)
    # when
    taken = escalate(sla.item)
    # then
    assert taken == []
    assert events(sla.item, "sla_notified") == []


# ------------------------------------------------------------------ move_to_queue


def test_move_to_queue_transfers_a_held_item_and_ends_the_lease():
    # given: an agent holds the item
    sla = sla_item()
    source = sla.item.queue_id
    breached = make_queue(sla.process, slug="breached")
    moving = rule(sla, move_to_queue=breached)
    agent = make_agent(sla.process.provider, processes=[sla.process])
    worker_services.worker_set_presence(actor=None, worker=agent, presence="available")
    holder = visibility.principal_for_user(agent.user)
    assert holder is not None
    assert leases.work_item_claim(actor=holder) is not None
    # when
    taken = escalate(sla.item)
    # then
    assert taken == ["move_to_queue"]
    item = sla.item
    assert (item.queue_id, item.status, item.assignee_id) == (breached.pk, "queued", None)
    assert item.queued_at is not None
    lease = Assignment.objects.get(item=item)
    assert (lease.ended_at is not None, lease.end_reason) == (True, "queued")
    assert WorkerChannel.objects.get(worker=agent, channel="email").load == 0
    (event,) = events(item, "transferred")
    assert event.data == {
        "from_status": "assigned",
        "to_status": "queued",
        "from": source,
        "to": breached.pk,
        "to_slug": "breached",
        "reason": f"escalation rule {moving.pk}: first_response at 100%",
        "rule": moving.pk,
    }
    assert event.actor_label == "system"


def test_move_to_a_queue_of_another_process_on_the_same_policy_is_skipped():
    # given: two processes share the policy; the rule's queue is the other one's
    sla = sla_item()
    other = sla_item(engagement=sla.policy.engagement, policy=sla.policy)
    rule(sla, move_to_queue=make_queue(other.process, slug="other-breached"))
    # when
    taken = escalate(sla.item)
    # then
    assert taken == []
    assert events(sla.item, "transferred") == []


def test_an_item_already_in_the_queue_is_not_moved():
    # given
    sla = sla_item()
    rule(sla, move_to_queue=Queue.objects.get(pk=sla.item.queue_id))
    # when / then
    assert escalate(sla.item) == []


# ------------------------------------------------------------------ notify_client


def test_notify_client_writes_sla_escalated_into_the_webhook_outbox():
    # given
    sla = sla_item()
    endpoint = webhooks.webhook_endpoint_create(
        actor=None,
        client=sla.process.client,
        provider=sla.process.provider,
        url="https://hooks.example.com/offload",
        event_types=["sla_escalated"],
    )
    telling = rule(sla, metric="turnaround", on_percent=90, notify_client=True)
    # when
    taken = escalate(sla.item, "turnaround", 90)
    # then
    assert taken == ["notify_client"]
    (event,) = events(sla.item, "sla_escalated")
    assert event.data == {"metric": "turnaround", "percent": 90, "rule": telling.pk}
    delivery = WebhookDelivery.objects.get(endpoint=endpoint)
    assert delivery.event_id == event.pk


# ------------------------------------------------------------------ which rules run


def test_every_action_of_a_rule_in_order():
    # given
    sla = sla_item("P4")
    breached = make_queue(sla.process, slug="breached")
    breached.team_leads.set([lead(sla)])
    rule(
        sla,
        raise_priority=True,
        notify_team_leads=True,
        move_to_queue=breached,
        notify_client=True,
    )
    # when
    taken = escalate(sla.item)
    # then: the leads of the queue it was moved to are told
    assert taken == ["raise_priority", "move_to_queue", "notify_team_leads", "notify_client"]
    assert [e.type for e in events(sla.item)][-4:] == [
        "reprioritized",
        "transferred",
        "sla_notified",
        "sla_escalated",
    ]
    assert (sla.item.priority, sla.item.queue_id) == ("P3", breached.pk)


def test_rules_of_another_client_slug_metric_or_percent_and_inactive_ones_are_ignored():
    # given: a rule for everything but this signal
    sla = sla_item()
    stranger = sla_item()
    EscalationRule.objects.create(
        client=stranger.process.client,
        provider=stranger.process.provider,
        policy_slug=sla.policy.slug,  # the same slug, of another client
        metric="first_response",
        on_percent=100,
        raise_priority=True,
    )
    other_policy = make_policy(sla.policy.engagement, slug="other-sla")
    rule(sla, raise_priority=True, metric="turnaround")
    rule(sla, raise_priority=True, on_percent=90)
    rule(sla, raise_priority=True, is_active=False)
    EscalationRule.objects.create(
        client=sla.process.client,
        provider=sla.process.provider,
        policy_slug=other_policy.slug,
        metric="first_response",
        on_percent=100,
        raise_priority=True,
    )
    # when
    taken = escalate(sla.item)
    # then
    assert taken == []
    assert sla.item.priority == "P3"
    assert events(sla.item, "reprioritized") == []


def test_a_new_version_of_the_policy_keeps_its_rules():
    # given
    sla = sla_item()
    rule(sla, raise_priority=True)
    revised = contract_services.sla_policy_revise(actor=None, policy=sla.policy, name="Revised")
    assert Process.objects.get(pk=sla.process.pk).sla_policy_id == revised.pk
    # when / then
    assert escalate(sla.item) == ["raise_priority"]


def test_an_item_whose_process_has_no_policy_escalates_nothing():
    # given
    item = make_item(make_process())
    # when / then
    assert escalate(item) == []


# ------------------------------------------------------------------ the API


def send(client: Client, method: str, url: str, body: dict[str, Any] | None = None) -> Any:
    data = json.dumps(body) if body is not None else ""
    return client.generic(method, url, data, content_type="application/json")


def valid(sla: Sla, **overrides: Any) -> dict[str, Any]:
    return {
        "client_id": sla.process.client_id,
        "policy_slug": sla.policy.slug,
        "metric": "first_response",
        "on_percent": 100,
        "raise_priority": True,
        **overrides,
    }


def errors_of(response: Any) -> dict[str, str]:
    assert response.status_code == 422, response.content
    assert response["Content-Type"] == PROBLEM
    return {e["field"]: e["message"] for e in response.json()["errors"]}


@pytest.mark.parametrize("role", ["admin", "ops_manager"])
def test_provider_admins_and_ops_managers_create_rules_audited_on_the_clients_chain(role: str):
    # given
    sla = sla_item()
    breached = make_queue(sla.process, slug="breached")
    client = api_client(key_for(sla.process.provider, role))
    # when
    response = send(
        client,
        "POST",
        RULES,
        valid(sla, metric="turnaround", on_percent=90, move_to_queue_id=breached.pk),
    )
    # then
    assert response.status_code == 201, response.content
    body = response.json()
    assert {k: v for k, v in body.items() if k not in {"id", "created_at", "updated_at"}} == {
        "client_id": sla.process.client_id,
        "provider_id": sla.process.provider_id,
        "policy_slug": sla.policy.slug,
        "metric": "turnaround",
        "on_percent": 90,
        "raise_priority": True,
        "notify_team_leads": False,
        "move_to_queue_id": breached.pk,
        "notify_client": False,
        "is_active": True,
    }
    audit = AuditEvent.objects.get(organisation=sla.process.client, action="escalation_rule.create")
    assert audit.object_id == str(body["id"])
    assert audit.changes["on_percent"] == [None, 90]


@pytest.mark.parametrize(("side", "role"), [("provider", "team_lead"), ("client", "client_admin")])
def test_others_may_not_write_rules(side: str, role: str):
    # given
    sla = sla_item()
    existing = rule(sla, raise_priority=True)
    organisation = sla.process.provider if side == "provider" else sla.process.client
    client = api_client(key_for(organisation, role))
    # when
    created = send(client, "POST", RULES, valid(sla))
    patched = send(client, "PATCH", f"{RULES}/{existing.pk}", {"on_percent": 90})
    deleted = send(client, "DELETE", f"{RULES}/{existing.pk}")
    # then
    assert [created.status_code, patched.status_code, deleted.status_code] == [403, 403, 403]
    assert EscalationRule.objects.count() == 1


def test_each_bad_field_is_named():
    # given
    sla = sla_item()
    # another client of the same provider: its queue is visible, but not the client's
    elsewhere = sla_item(engagement=make_engagement(provider=sla.process.provider))
    client = api_client(key_for(sla.process.provider, "admin"))
    # when
    bad_metric = send(client, "POST", RULES, valid(sla, metric="accuracy"))
    bad_percent = send(client, "POST", RULES, valid(sla, on_percent=101))
    zero_percent = send(client, "POST", RULES, valid(sla, on_percent=0))
    bad_slug = send(client, "POST", RULES, valid(sla, policy_slug="no-such-policy"))
    bad_queue = send(client, "POST", RULES, valid(sla, move_to_queue_id=elsewhere.item.queue_id))
    # then
    assert errors_of(bad_metric).keys() == {"metric"}
    assert errors_of(bad_percent).keys() == {"on_percent"}
    assert errors_of(zero_percent).keys() == {"on_percent"}
    assert errors_of(bad_slug) == {
        "policy_slug": escalations.NO_SUCH_POLICY.format(slug="no-such-policy")
    }
    assert errors_of(bad_queue) == {
        "move_to_queue_id": escalations.QUEUE_NOT_OF_POLICY.format(slug=sla.policy.slug)
    }
    assert EscalationRule.objects.count() == 0


def test_a_queue_of_a_process_on_another_policy_of_the_client_is_refused():
    # given
    sla = sla_item()
    other = make_policy(sla.policy.engagement, slug="other-sla")
    off_policy = make_process(engagement=sla.policy.engagement, sla_policy=other)
    client = api_client(key_for(sla.process.provider, "admin"))
    # when
    response = send(
        client,
        "POST",
        RULES,
        valid(sla, move_to_queue_id=make_queue(off_policy, slug="off").pk),
    )
    # then
    assert errors_of(response).keys() == {"move_to_queue_id"}


def test_a_rule_without_an_action_names_every_action_field():
    # given
    sla = sla_item()
    client = api_client(key_for(sla.process.provider, "admin"))
    # when
    response = send(client, "POST", RULES, valid(sla, raise_priority=False))
    # then
    assert errors_of(response) == {
        "raise_priority": escalations.NO_ACTION,
        "notify_team_leads": escalations.NO_ACTION,
        "move_to_queue_id": escalations.NO_ACTION,
        "notify_client": escalations.NO_ACTION,
    }


def test_patch_changes_what_is_sent_audits_it_and_null_clears_the_move():
    # given
    sla = sla_item()
    breached = make_queue(sla.process, slug="breached")
    existing = rule(sla, notify_client=True, move_to_queue=breached)
    client = api_client(key_for(sla.process.provider, "ops_manager"))
    # when
    response = send(
        client,
        "PATCH",
        f"{RULES}/{existing.pk}",
        {"on_percent": 75, "metric": "turnaround", "move_to_queue_id": None},
    )
    # then
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["on_percent"], body["metric"], body["move_to_queue_id"]) == (
        75,
        "turnaround",
        None,
    )
    audit = AuditEvent.objects.get(action="escalation_rule.update")
    assert audit.changes == {
        "metric": ["first_response", "turnaround"],
        "move_to_queue_id": [breached.pk, None],
        "on_percent": [100, 75],
    }


def test_patch_refuses_to_leave_a_rule_without_an_action():
    # given
    sla = sla_item()
    existing = rule(sla, notify_client=True)
    client = api_client(key_for(sla.process.provider, "admin"))
    # when
    response = send(client, "PATCH", f"{RULES}/{existing.pk}", {"notify_client": False})
    # then
    assert errors_of(response).keys() == set(escalations.ACTION_FIELDS)
    existing.refresh_from_db()
    assert existing.notify_client is True


def test_delete_removes_the_rule_and_audits_it():
    # given
    sla = sla_item()
    existing = rule(sla, notify_client=True)
    client = api_client(key_for(sla.process.provider, "admin"))
    # when
    response = send(client, "DELETE", f"{RULES}/{existing.pk}")
    # then
    assert response.status_code == 204
    assert not EscalationRule.objects.filter(pk=existing.pk).exists()
    audit = AuditEvent.objects.get(action="escalation_rule.delete")
    assert audit.changes["notify_client"] == [True, None]


def test_the_client_reads_its_own_rules_filtered_by_slug():
    # given
    sla = sla_item()
    mine = rule(sla, raise_priority=True)
    other_policy = make_policy(sla.policy.engagement, slug="other-sla")
    EscalationRule.objects.create(
        client=sla.process.client,
        provider=sla.process.provider,
        policy_slug=other_policy.slug,
        metric="turnaround",
        on_percent=100,
        notify_client=True,
    )
    rule(sla_item(), raise_priority=True)  # another client's
    client = api_client(key_for(sla.process.client, "client_viewer"))
    # when
    everything = client.get(RULES)
    filtered = client.get(RULES, {"policy_slug": sla.policy.slug})
    one = client.get(f"{RULES}/{mine.pk}")
    # then
    assert everything.status_code == 200
    assert len(everything.json()["items"]) == 2
    assert [r["id"] for r in filtered.json()["items"]] == [mine.pk]
    assert one.status_code == 200
    assert one.json()["policy_slug"] == sla.policy.slug


def test_the_list_query_count_does_not_grow_with_the_page(django_assert_num_queries):
    # given: the count for one rule (after a first call, which records the key's use)
    sla = sla_item()
    rule(sla, raise_priority=True)
    client = api_client(key_for(sla.process.provider, "admin"))
    client.get(RULES)
    with CaptureQueriesContext(connection) as few:
        client.get(RULES)
    for percent in range(1, 21):
        rule(sla, on_percent=percent, notify_client=True)
    # when / then
    with django_assert_num_queries(len(few.captured_queries)):
        response = client.get(RULES)
    assert len(response.json()["items"]) == 21


def test_signal_time_is_the_events_time():
    # given
    sla = sla_item()
    rule(sla, notify_client=True)
    at = datetime.fromisoformat("2030-01-02T03:04:05+00:00")
    # when
    with transaction.atomic():
        locked = WorkItem.objects.select_for_update().get(pk=sla.item.pk)
        escalations.signal_escalate(item=locked, metric="first_response", percent=100, at=at)
    # then
    assert events(sla.item, "sla_escalated")[0].at == at
