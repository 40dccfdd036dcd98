"""Work-item actions and queue writes: status, events, failures, retries, permissions."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from offload.core import errors, sweeps
from offload.tenancy import audit
from offload.tenancy.models import AuditEvent
from offload.tenancy.tests.factories import make_key_principal, make_principal, make_user
from offload.work import services
from offload.work.models import ItemRetry, Queue, WorkItem, WorkItemEvent
from offload.work.tests.factories import make_item, make_process, make_queue

pytestmark = pytest.mark.django_db


def events_of(item: WorkItem) -> list[WorkItemEvent]:
    return list(WorkItemEvent.objects.filter(item=item).order_by("seq"))


def last_event(item: WorkItem) -> WorkItemEvent:
    return events_of(item)[-1]


def agent_of(item: WorkItem):
    return make_principal(item.provider, "agent")


def client_admin_of(item: WorkItem):
    return make_principal(item.client, "client_admin")


def reloaded(item: WorkItem) -> WorkItem:
    return WorkItem.objects.get(pk=item.pk)


# ------------------------------------------------------------------ messages


def test_comment_is_an_internal_note_and_leaves_the_status():
    # given
    item = make_item()
    agent = agent_of(item)
    # when
    after = services.work_item_comment(actor=agent, item=item, text="Checked the invoice")
    # then
    assert after.status == "queued"
    event = last_event(item)
    assert event.type == "commented"
    assert event.data == {"text": "Checked the invoice", "public": False, "from": "provider"}
    assert event.actor_user == agent.user
    assert event.actor_label == agent.label


def test_comment_needs_text():
    # given
    item = make_item()
    # when
    with pytest.raises(errors.ValidationFailed) as exc:
        services.work_item_comment(actor=agent_of(item), item=item, text="   ")
    # then
    assert exc.value.errors == [errors.FieldError("text", services.REQUIRED)]
    assert [e.type for e in events_of(item)] == ["created", "queued"]


def test_reply_is_public_and_counts_as_a_response():
    # given
    item = make_item()
    # when
    services.work_item_reply(actor=agent_of(item), item=item, text="We are on it")
    # then
    event = last_event(item)
    assert event.type == "replied"
    assert event.data == {"text": "We are on it", "public": True, "from": "provider"}


def test_a_client_reply_to_a_waiting_item_resumes_it():
    # given
    item = make_item()
    services.work_item_wait(actor=agent_of(item), item=item, note="Need the PO number")
    # when
    after = services.work_item_reply(actor=client_admin_of(item), item=item, text="PO-1234")
    # then
    assert after.status == "in_progress"
    replied, resumed = events_of(item)[-2:]
    assert (replied.type, replied.data["from"]) == ("replied", "client")
    assert resumed.type == "resumed"
    assert resumed.data == {
        "from_status": "waiting_on_client",
        "to_status": "in_progress",
        "from": "client",
    }


def test_a_client_reply_to_a_queued_item_changes_nothing_but_the_log():
    # given
    item = make_item()
    # when
    after = services.work_item_reply(actor=client_admin_of(item), item=item, text="Any news?")
    # then
    assert after.status == "queued"
    assert [e.type for e in events_of(item)] == ["created", "queued", "replied"]


# ------------------------------------------------------------------ waiting


def test_wait_and_resume_round_trip():
    # given
    item = make_item()
    agent = agent_of(item)
    # when
    waiting = services.work_item_wait(actor=agent, item=item, note="Asked for the PO")
    resumed = services.work_item_resume(actor=agent, item=item)
    # then
    assert waiting.status == "waiting_on_client"
    assert resumed.status == "in_progress"
    wait, resume = events_of(item)[-2:]
    assert wait.type == "waiting_on_client"
    assert wait.data == {
        "from_status": "queued",
        "to_status": "waiting_on_client",
        "note": "Asked for the PO",
    }
    assert resume.type == "resumed"
    assert resume.data["from"] == "provider"


def test_resume_of_an_item_not_waiting_is_a_conflict_naming_the_allowed_moves():
    # given
    item = make_item()
    # when
    with pytest.raises(errors.Conflict) as exc:
        services.work_item_resume(actor=agent_of(item), item=item)
    # then
    assert exc.value.extra["current"] == "queued"
    assert exc.value.extra["allowed"] == [
        "assign",
        "comment",
        "reply",
        "wait",
        "escalate",
        "transfer",
        "complete",
        "fail",
        "cancel",
    ]
    assert "cannot resume an item that is queued" in exc.value.detail
    assert "allowed: assign, comment" in exc.value.detail
    assert [e.type for e in events_of(item)] == ["created", "queued"]


# ------------------------------------------------------------------ escalate, transfer


def test_escalate_needs_a_reason_and_moves_the_item_to_escalated():
    # given
    item = make_item()
    agent = agent_of(item)
    # when
    with pytest.raises(errors.ValidationFailed):
        services.work_item_escalate(actor=agent, item=item, reason="")
    after = services.work_item_escalate(actor=agent, item=item, reason="Refund over limit")
    # then
    assert after.status == "escalated"
    event = last_event(item)
    assert event.type == "escalated"
    assert event.data == {
        "from_status": "queued",
        "to_status": "escalated",
        "reason": "Refund over limit",
    }


def test_escalating_twice_is_a_conflict():
    # given
    item = make_item()
    services.work_item_escalate(actor=agent_of(item), item=item, reason="Too big")
    # when
    with pytest.raises(errors.Conflict) as exc:
        services.work_item_escalate(actor=agent_of(item), item=item, reason="Again")
    # then
    assert exc.value.extra["current"] == "escalated"
    allowed = exc.value.extra["allowed"]
    assert isinstance(allowed, list)
    assert "escalate" not in allowed


def test_transfer_moves_the_item_to_another_queue_of_its_process_unassigned():
    # given
    item = make_item()
    spanish = make_queue(item.process, slug="claims-es", languages=["es"])
    source = item.queue_id
    services.work_item_escalate(actor=agent_of(item), item=item, reason="Spanish speaker")
    # when
    after = services.work_item_transfer(
        actor=agent_of(item), item=item, queue="claims-es", reason="Language"
    )
    # then
    assert after.queue == spanish
    assert after.status == "queued"
    assert after.assignee is None
    event = last_event(item)
    assert event.type == "transferred"
    assert event.data == {
        "from_status": "escalated",
        "to_status": "queued",
        "from": source,
        "to": spanish.pk,
        "to_slug": "claims-es",
        "reason": "Language",
    }


def test_transfer_refuses_a_queue_of_another_process_or_the_same_queue():
    # given
    item = make_item()
    other_process = make_process(engagement=item.process.engagement)
    make_queue(other_process, slug="elsewhere")
    current = Queue.objects.get(pk=item.queue_id)
    # when
    with pytest.raises(errors.ValidationFailed) as other:
        services.work_item_transfer(actor=agent_of(item), item=item, queue="elsewhere")
    with pytest.raises(errors.ValidationFailed) as same:
        services.work_item_transfer(actor=agent_of(item), item=item, queue=current.slug)
    # then
    assert other.value.errors == [
        errors.FieldError(
            "queue",
            services.NO_SUCH_QUEUE.format(slug="elsewhere", process=item.process.slug),
        )
    ]
    assert same.value.errors == [
        errors.FieldError("queue", services.SAME_QUEUE.format(slug=current.slug))
    ]
    assert reloaded(item).queue_id == current.pk


# ------------------------------------------------------------------ complete


def test_complete_records_outcome_result_and_handle_time():
    # given
    item = make_item()
    before = timezone.now()
    # when
    after = services.work_item_complete(
        actor=agent_of(item),
        item=item,
        outcome="resolved",
        result={"refund": "12.50"},
        handle_seconds=340,
    )
    # then
    stored = reloaded(after)
    assert stored.status == "completed"
    assert stored.outcome == "resolved"
    assert stored.result == {"refund": "12.50"}
    assert stored.completed_at is not None
    assert stored.completed_at >= before
    event = last_event(item)
    assert event.type == "completed"
    assert event.at == stored.completed_at
    assert event.data == {
        "from_status": "queued",
        "to_status": "completed",
        "outcome": "resolved",
        "result": {"refund": "12.50"},
        "handle_seconds": 340,
    }


def test_complete_refuses_a_bad_outcome_and_a_negative_handle_time_together():
    # given
    item = make_item()
    # when
    with pytest.raises(errors.ValidationFailed) as exc:
        services.work_item_complete(
            actor=agent_of(item), item=item, outcome="maybe", handle_seconds=-1
        )
    # then
    assert [e.field for e in exc.value.errors] == ["outcome", "handle_seconds"]
    assert reloaded(item).status == "queued"


def test_completing_a_completed_item_is_a_conflict():
    # given
    item = make_item()
    services.work_item_complete(actor=agent_of(item), item=item, outcome="resolved")
    # when
    with pytest.raises(errors.Conflict) as exc:
        services.work_item_complete(actor=agent_of(item), item=item, outcome="resolved")
    # then
    assert exc.value.extra == {
        "current": "completed",
        "allowed": ["comment", "reopen", "close"],
    }


# ------------------------------------------------------------------ failures


def test_a_business_failure_lands_in_the_review_queue():
    # given
    item = make_item()
    source = item.queue_id
    # when
    after = services.work_item_fail(
        actor=agent_of(item), item=item, kind="business", reason="Invoice has no VAT number"
    )
    # then
    review = Queue.objects.get(pk=after.queue_id)
    assert review.is_review is True
    assert review.slug == f"{item.process.slug}-review"
    assert review.process_id == item.process_id
    assert after.status == "failed"
    assert (after.failure_kind, after.failure_reason) == ("business", "Invoice has no VAT number")
    assert not ItemRetry.objects.exists()
    event = last_event(item)
    assert event.type == "failed"
    assert event.data == {
        "from_status": "queued",
        "to_status": "failed",
        "kind": "business",
        "reason": "Invoice has no VAT number",
        "attempt": 1,
        "from": source,
        "to": review.pk,
    }


def test_a_second_business_failure_reuses_the_review_queue():
    # given
    first = make_item()
    second = make_item(first.process)
    agent = agent_of(first)
    services.work_item_fail(actor=agent, item=first, kind="business", reason="Bad")
    # when
    failed = services.work_item_fail(actor=agent, item=second, kind="business", reason="Bad too")
    # then
    assert Queue.objects.filter(process=first.process, is_review=True).count() == 1
    assert failed.queue_id == reloaded(first).queue_id


def test_review_sends_a_corrected_item_back_to_work():
    # given
    item = make_item()
    home = Queue.objects.get(pk=item.queue_id)
    agent = agent_of(item)
    services.work_item_fail(actor=agent, item=item, kind="business", reason="No VAT number")
    # when
    back = services.work_item_transfer(actor=agent, item=item, queue=home.slug, reason="Fixed")
    # then
    assert back.queue_id == home.pk
    assert back.status == "queued"
    assert (back.failure_kind, back.failure_reason) == ("", "")
    assert last_event(item).data["from_status"] == "failed"


def test_a_system_failure_schedules_a_retry_with_backoff():
    # given
    item = make_item()
    before = timezone.now()
    # when
    after = services.work_item_fail(actor=None, item=item, kind="system", reason="OCR timed out")
    # then
    assert after.status == "failed"
    assert after.queue_id == item.queue_id
    retry = ItemRetry.objects.get(item=item)
    assert retry.done_at is None
    assert before + timedelta(minutes=2) <= retry.due_at <= timezone.now() + timedelta(minutes=2)
    event = last_event(item)
    assert event.actor_label == "system"
    assert event.data["retry_due_at"] == retry.due_at.isoformat()


def test_the_sweep_creates_exactly_one_linked_retry_when_due():
    # given
    item = make_item(payload={"invoice": "INV-9"}, priority="P1", subject="Scan")
    services.work_item_fail(actor=None, item=item, kind="system", reason="OCR timed out")
    due_at = ItemRetry.objects.get(item=item).due_at
    # when
    early = services.work_item_retries_due(due_at - timedelta(seconds=1))
    handled = services.work_item_retries_due(due_at)
    again = services.work_item_retries_due(due_at + timedelta(hours=1))
    # then
    assert (early, handled, again) == (0, 1, 0)
    [retry] = WorkItem.objects.filter(parent=item)
    assert retry.reference == f"{item.reference}~retry1"
    assert retry.attempt == 2
    assert retry.status == "queued"
    assert (retry.payload, retry.priority, retry.subject) == ({"invoice": "INV-9"}, "P1", "Scan")
    assert (retry.process_id, retry.queue_id) == (item.process_id, item.queue_id)
    assert [(e.seq, e.type) for e in events_of(retry)] == [(1, "created"), (2, "queued")]
    assert events_of(retry)[0].data["parent"] == item.pk
    retried = last_event(item)
    assert retried.type == "retried"
    assert retried.data == {"retry_item": retry.pk, "reference": retry.reference, "attempt": 2}
    row = ItemRetry.objects.get(item=item)
    assert (row.done_at, row.retry_item_id) == (due_at, retry.pk)


def test_retries_back_off_and_stop_after_the_processs_limit():
    # given: one automatic retry allowed
    process = make_process()
    process.max_system_retries = 1
    process.save()
    item = make_item(process, reference="CLM-7")
    services.work_item_fail(actor=None, item=item, kind="system", reason="Timeout")
    services.work_item_retries_due(timezone.now() + timedelta(minutes=3))
    retry = WorkItem.objects.get(parent=item)
    # when: the retry fails too
    services.work_item_fail(actor=None, item=retry, kind="system", reason="Timeout again")
    # then: no further retry
    assert retry.reference == "CLM-7~retry1"
    assert not ItemRetry.objects.filter(item=retry).exists()
    assert last_event(retry).data["retries_exhausted"] is True
    assert services.work_item_retries_due(timezone.now() + timedelta(days=1)) == 0
    assert WorkItem.objects.filter(process=process).count() == 2


def test_the_second_retry_waits_longer_and_keeps_the_original_reference():
    # given
    item = make_item(reference="CLM-8")
    services.work_item_fail(actor=None, item=item, kind="system", reason="Timeout")
    services.work_item_retries_due(timezone.now() + timedelta(minutes=3))
    first = WorkItem.objects.get(parent=item)
    before = timezone.now()
    # when
    services.work_item_fail(actor=None, item=first, kind="system", reason="Timeout")
    # then
    due = ItemRetry.objects.get(item=first).due_at
    assert due >= before + timedelta(minutes=4)
    services.work_item_retries_due(due)
    assert WorkItem.objects.get(parent=first).reference == "CLM-8~retry2"
    assert WorkItem.objects.get(parent=first).attempt == 3


def test_no_retry_when_the_process_allows_none():
    # given
    process = make_process()
    process.max_system_retries = 0
    process.save()
    item = make_item(process)
    # when
    services.work_item_fail(actor=None, item=item, kind="system", reason="Down")
    # then
    assert not ItemRetry.objects.exists()


def test_a_retry_due_for_an_item_cancelled_meanwhile_creates_nothing():
    # given
    item = make_item()
    services.work_item_fail(actor=None, item=item, kind="system", reason="Down")
    services.work_item_cancel(actor=agent_of(item), item=item, reason="Client withdrew it")
    # when
    handled = services.work_item_retries_due(timezone.now() + timedelta(hours=1))
    # then
    assert handled == 1
    assert not WorkItem.objects.filter(parent=item).exists()
    assert ItemRetry.objects.get(item=item).done_at is not None


def test_fail_needs_a_known_kind_and_a_reason():
    # given
    item = make_item()
    # when
    with pytest.raises(errors.ValidationFailed) as exc:
        services.work_item_fail(actor=agent_of(item), item=item, kind="cosmic", reason="")
    # then
    assert [e.field for e in exc.value.errors] == ["kind", "reason"]


# ------------------------------------------------------------------ reopen, cancel


def test_reopen_within_the_window_puts_the_item_back_in_the_queue():
    # given
    item = make_item()
    services.work_item_complete(actor=agent_of(item), item=item, outcome="not_resolved")
    completed_at = reloaded(item).completed_at
    assert completed_at is not None
    # when
    after = services.work_item_reopen(actor=client_admin_of(item), item=item, reason="Still broken")
    # then
    assert after.status == "queued"
    assert (after.outcome, after.completed_at, after.assignee) == ("", None, None)
    event = last_event(item)
    assert event.type == "reopened"
    assert event.data == {
        "from_status": "completed",
        "to_status": "queued",
        "outcome": "not_resolved",
        "completed_at": completed_at.isoformat(),
        "reason": "Still broken",
    }


def test_reopen_outside_the_window_is_a_conflict_naming_the_window():
    # given
    item = make_item()
    services.work_item_complete(actor=agent_of(item), item=item, outcome="resolved")
    WorkItem.objects.filter(pk=item.pk).update(
        completed_at=timezone.now() - timedelta(hours=72, minutes=1)
    )
    # when
    with pytest.raises(errors.Conflict) as exc:
        services.work_item_reopen(actor=client_admin_of(item), item=item)
    # then
    assert "72 hours" in exc.value.detail
    assert exc.value.extra["reopen_window_hours"] == 72
    assert reloaded(item).status == "completed"
    assert last_event(item).type == "completed"


def test_reopen_of_an_item_that_is_not_completed_is_a_conflict():
    # given
    item = make_item()
    # when
    with pytest.raises(errors.Conflict) as exc:
        services.work_item_reopen(actor=agent_of(item), item=item)
    # then
    assert exc.value.extra["current"] == "queued"


def test_cancel_is_final():
    # given
    item = make_item()
    services.work_item_cancel(actor=client_admin_of(item), item=item, reason="Duplicate")
    # when
    with pytest.raises(errors.Conflict) as exc:
        services.work_item_comment(actor=agent_of(item), item=item, text="Hello?")
    # then
    assert exc.value.extra == {"current": "cancelled", "allowed": []}
    assert "none (final)" in exc.value.detail
    event = next(e for e in events_of(item) if e.type == "cancelled")
    assert event.data == {
        "from_status": "queued",
        "to_status": "cancelled",
        "reason": "Duplicate",
        "from": "client",
    }


# ------------------------------------------------------------------ who may act


def test_a_client_viewer_cannot_act():
    # given
    item = make_item()
    viewer = make_principal(item.client, "client_viewer")
    # when
    with pytest.raises(errors.PermissionDenied):
        services.work_item_comment(actor=viewer, item=item, text="Hi")
    # then
    assert [e.type for e in events_of(item)] == ["created", "queued"]


def test_a_client_admin_can_comment_but_not_complete():
    # given
    item = make_item()
    admin = client_admin_of(item)
    # when
    services.work_item_comment(actor=admin, item=item, text="Please hurry")
    with pytest.raises(errors.PermissionDenied) as exc:
        services.work_item_complete(actor=admin, item=item, outcome="resolved")
    # then
    assert "comment, reply, resume, reopen, cancel" in exc.value.detail
    assert reloaded(item).status == "queued"


@pytest.mark.parametrize("role", ["agent", "bot", "team_lead", "ops_manager", "admin"])
def test_provider_people_and_bots_can_complete(role):
    # given
    item = make_item()
    actor = make_principal(item.provider, role)
    # when
    after = services.work_item_complete(actor=actor, item=item, outcome="resolved")
    # then
    assert after.status == "completed"


@pytest.mark.parametrize("role", ["qa_analyst", "finance", "wfm_planner"])
def test_other_provider_roles_cannot_act(role):
    # given
    item = make_item()
    # when / then
    with pytest.raises(errors.PermissionDenied):
        services.work_item_complete(
            actor=make_principal(item.provider, role), item=item, outcome="resolved"
        )


def test_a_read_only_key_cannot_act():
    # given
    item = make_item()
    agent = make_user(item.provider, "agent")
    reader = make_key_principal(item.provider, user=agent, scopes=("read",))
    # when / then
    with pytest.raises(errors.PermissionDenied):
        services.work_item_comment(actor=reader, item=item, text="Hi")


def test_another_provider_cannot_reach_the_item():
    # given
    item, other = make_item(), make_item()
    # when / then
    with pytest.raises(errors.NotFound):
        services.work_item_comment(actor=agent_of(other), item=item, text="Hi")


# ------------------------------------------------------------------ the log


def test_event_seq_is_strictly_increasing_per_item():
    # given
    item, other = make_item(), make_item()
    agent = agent_of(item)
    # when
    services.work_item_comment(actor=agent, item=item, text="1")
    services.work_item_wait(actor=agent, item=item)
    services.work_item_comment(actor=agent_of(other), item=other, text="elsewhere")
    services.work_item_reply(actor=client_admin_of(item), item=item, text="2")
    services.work_item_complete(actor=agent, item=item, outcome="resolved")
    services.work_item_reopen(actor=agent, item=item)
    # then
    seqs = [e.seq for e in events_of(item)]
    assert seqs == list(range(1, len(seqs) + 1))
    assert [e.type for e in events_of(item)] == [
        "created",
        "queued",
        "commented",
        "waiting_on_client",
        "replied",
        "resumed",
        "completed",
        "reopened",
    ]
    times = [e.at for e in events_of(item)]
    assert times == sorted(times)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the trigger is PostgreSQL's")
@pytest.mark.parametrize("statement", ["update", "delete"])
def test_the_database_refuses_to_change_an_event(statement):
    # given
    item = make_item()
    event = events_of(item)[0]
    rows = WorkItemEvent.objects.filter(pk=event.pk)
    change = (lambda: rows.update(type="tampered")) if statement == "update" else rows.delete
    # when
    with (
        pytest.raises(DatabaseError, match="work_workitemevent is append-only"),
        transaction.atomic(),
    ):
        change()
    # then
    assert WorkItemEvent.objects.get(pk=event.pk).type == "created"


# ------------------------------------------------------------------ queues


def test_queue_create_audits_into_the_clients_chain():
    # given
    process = make_process()
    manager = make_principal(process.provider, "ops_manager")
    lead = make_user(process.provider, "team_lead")
    # when
    queue = services.queue_create(
        actor=manager,
        process=process,
        name="Claims Spanish",
        languages=["es"],
        routing_mode="push",
        ordering=["priority", "-created_at"],
        team_lead_ids=[lead.pk],
    )
    # then
    assert queue.slug == "claims-spanish"
    assert list(queue.team_leads.all()) == [lead]
    [event] = AuditEvent.objects.filter(organisation=process.client, action="queue.create")
    assert event.changes["routing_mode"] == [None, "push"]
    assert event.changes["team_lead_ids"] == [None, [lead.pk]]
    assert audit.verify() == []


def test_queue_create_names_every_bad_field():
    # given
    process = make_process()
    manager = make_principal(process.provider, "admin")
    agent = make_user(process.provider, "agent")
    # when
    with pytest.raises(errors.ValidationFailed) as exc:
        services.queue_create(
            actor=manager,
            process=process,
            name="Bad",
            languages=["xx"],
            ordering=["priority", "colour", "-priority"],
            team_lead_ids=[agent.pk],
        )
    # then
    assert [e.field for e in exc.value.errors] == [
        "languages[0]",
        "ordering[1]",
        "ordering[2]",
    ]
    with pytest.raises(errors.ValidationFailed) as leads:
        services.queue_create(actor=manager, process=process, name="Ok", team_lead_ids=[agent.pk])
    assert leads.value.errors == [
        errors.FieldError("team_lead_ids", services.NOT_TEAM_LEADS.format(ids=agent.pk))
    ]
    assert not Queue.objects.filter(process=process).exists()


def test_queue_update_changes_fields_and_team_leads_with_audit():
    # given
    process = make_process()
    queue = make_queue(process)
    manager = make_principal(process.provider, "ops_manager")
    lead = make_user(process.provider, "team_lead")
    # when
    services.queue_update(
        actor=manager,
        queue=queue,
        data={"name": "Renamed", "ordering": ["due_at"]},
        team_lead_ids=[lead.pk],
    )
    # then
    queue.refresh_from_db()
    assert (queue.name, queue.ordering) == ("Renamed", ["due_at"])
    assert list(queue.team_leads.all()) == [lead]
    changes = [
        e.changes
        for e in AuditEvent.objects.filter(organisation=process.client, action="queue.update")
    ]
    assert {"name", "ordering"} <= set(changes[0])
    assert changes[1] == {"team_lead_ids": [[], [lead.pk]]}


@pytest.mark.parametrize("role", ["agent", "team_lead"])
def test_queue_management_needs_an_ops_manager_or_admin(role):
    # given
    process = make_process()
    # when / then
    with pytest.raises(errors.PermissionDenied):
        services.queue_create(
            actor=make_principal(process.provider, role), process=process, name="Nope"
        )


def test_the_retry_sweep_is_registered_for_the_worker():
    # when
    names = [s.name for s in sweeps.registered()]
    # then
    assert "work.system_retry" in names


# ------------------------------------------------------------------ races


def _race(*calls) -> list[str]:
    """Run the calls at the same moment, each on its own connection; what each did."""
    barrier = threading.Barrier(len(calls))
    outcomes: list[str] = []

    def run(call) -> None:
        try:
            barrier.wait()
            call()
            outcomes.append("ok")
        except errors.Conflict:
            outcomes.append("conflict")
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sorted(outcomes)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="a real race needs PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_two_racing_completions_complete_once():
    # given
    item = make_item()

    def complete() -> None:
        services.work_item_complete(actor=None, item=item, outcome="resolved")

    # when
    outcomes = _race(complete, complete)
    # then: the row lock makes the second see the first's `completed`
    assert outcomes == ["conflict", "ok"]
    assert [e.type for e in events_of(item)].count("completed") == 1


@pytest.mark.skipif(connection.vendor != "postgresql", reason="a real race needs PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_racing_actions_on_one_item_never_share_a_seq():
    # given
    item = make_item()

    def comment(n: int):
        return lambda: services.work_item_comment(actor=None, item=item, text=f"note {n}")

    # when
    outcomes = _race(*(comment(n) for n in range(4)))
    # then
    assert outcomes == ["ok"] * 4
    assert [e.seq for e in events_of(item)] == [1, 2, 3, 4, 5, 6]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="a real race needs PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_two_racing_sweeps_create_one_retry():
    # given
    item = make_item()
    services.work_item_fail(actor=None, item=item, kind="system", reason="Down")
    later = timezone.now() + timedelta(hours=1)

    def sweep() -> None:
        services.work_item_retries_due(later)

    # when
    _race(sweep, sweep)
    # then
    assert WorkItem.objects.filter(parent=item).count() == 1
    assert [e.type for e in events_of(item)].count("retried") == 1
