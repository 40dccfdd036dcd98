"""The item actions through HTTP: `POST /api/v1/items/{id}/<action>`."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from offload.tenancy.tests.factories import api_client, key_for
from offload.work import services
from offload.work.models import ItemRetry, Queue, WorkItem, WorkItemEvent
from offload.work.tests.factories import make_item, make_queue

pytestmark = pytest.mark.django_db

PROBLEM = "application/problem+json"


def act(client: Client, item: WorkItem, action: str, body: dict[str, Any] | None = None) -> Any:
    return client.post(
        f"/api/v1/items/{item.pk}/{action}", json.dumps(body or {}), content_type="application/json"
    )


def agent(item: WorkItem) -> Client:
    return api_client(key_for(item.provider, "agent"))


def client_as(item: WorkItem, role: str) -> Client:
    return api_client(key_for(item.client, role))


def last_event(item: WorkItem) -> WorkItemEvent:
    return WorkItemEvent.objects.filter(item=item).order_by("-seq").first()  # type: ignore[return-value]


# Each action from a queued item: body, the status after, the event written and a
# part of its data.
FROM_QUEUED = [
    ("comment", {"text": "Checked"}, "queued", "commented", {"public": False}),
    ("reply", {"text": "On it"}, "queued", "replied", {"public": True, "from": "provider"}),
    ("wait", {}, "waiting_on_client", "waiting_on_client", {"to_status": "waiting_on_client"}),
    ("escalate", {"reason": "Over limit"}, "escalated", "escalated", {"reason": "Over limit"}),
    (
        "complete",
        {"outcome": "resolved", "handle_seconds": 90},
        "completed",
        "completed",
        {"outcome": "resolved", "handle_seconds": 90},
    ),
    ("fail", {"kind": "system", "reason": "Timeout"}, "failed", "failed", {"kind": "system"}),
    ("cancel", {"reason": "Duplicate"}, "cancelled", "cancelled", {"reason": "Duplicate"}),
]


@pytest.mark.parametrize(
    ("action", "body", "status", "event_type", "data"), FROM_QUEUED, ids=[c[0] for c in FROM_QUEUED]
)
def test_each_action_answers_the_item_and_writes_its_event(action, body, status, event_type, data):
    # given
    item = make_item()
    # when
    response = act(agent(item), item, action, body)
    # then
    assert response.status_code == 200, response.content
    answer = response.json()
    assert answer["id"] == item.pk
    assert answer["status"] == status
    event = last_event(item)
    assert event.type == event_type
    assert data.items() <= event.data.items()


def test_resume_moves_a_waiting_item_back_to_work():
    # given
    item = make_item()
    services.work_item_wait(actor=None, item=item)
    # when
    response = act(client_as(item, "client_admin"), item, "resume", {"note": "Sent the PO"})
    # then
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "in_progress"
    assert last_event(item).data == {
        "from_status": "waiting_on_client",
        "to_status": "in_progress",
        "from": "client",
        "note": "Sent the PO",
    }


def test_transfer_names_the_new_queue_in_the_answer():
    # given
    item = make_item()
    make_queue(item.process, slug="second-line")
    # when
    response = act(agent(item), item, "transfer", {"queue": "second-line"})
    # then
    assert response.status_code == 200, response.content
    assert response.json()["queue"] == "second-line"
    assert response.json()["status"] == "queued"


def test_transfer_to_an_unknown_queue_is_a_422_naming_queue():
    # given
    item = make_item()
    # when
    response = act(agent(item), item, "transfer", {"queue": "nowhere"})
    # then
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["queue"]


def test_reopen_answers_the_item_queued():
    # given
    item = make_item()
    services.work_item_complete(actor=None, item=item, outcome="resolved")
    # when
    response = act(client_as(item, "client_admin"), item, "reopen")
    # then
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "queued"
    assert last_event(item).type == "reopened"


def test_an_illegal_move_is_a_409_with_current_and_allowed():
    # given
    item = make_item()
    # when
    response = act(agent(item), item, "resume")
    # then
    assert response.status_code == 409
    assert response["Content-Type"] == PROBLEM
    body = response.json()
    assert body["current"] == "queued"
    assert body["allowed"] == [
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
    assert "cannot resume an item that is queued" in body["detail"]
    assert WorkItemEvent.objects.filter(item=item).count() == 2


def test_a_final_item_answers_409_with_nothing_allowed():
    # given
    item = make_item()
    services.work_item_cancel(actor=None, item=item, reason="Gone")
    # when
    response = act(agent(item), item, "comment", {"text": "Hello?"})
    # then
    assert response.status_code == 409
    assert (response.json()["current"], response.json()["allowed"]) == ("cancelled", [])


def test_reopen_outside_the_window_is_a_409_naming_the_window():
    # given
    item = make_item()
    services.work_item_complete(actor=None, item=item, outcome="resolved")
    WorkItem.objects.filter(pk=item.pk).update(completed_at=timezone.now() - timedelta(days=4))
    # when
    response = act(client_as(item, "client_admin"), item, "reopen", {"reason": "Again"})
    # then
    assert response.status_code == 409
    body = response.json()
    assert body["reopen_window_hours"] == 72
    assert "72 hours" in body["detail"]


def test_a_business_failure_answers_the_item_in_the_review_queue():
    # given
    item = make_item()
    # when
    response = act(agent(item), item, "fail", {"kind": "business", "reason": "No VAT number"})
    # then
    assert response.status_code == 200, response.content
    review = Queue.objects.get(process=item.process, is_review=True)
    assert response.json()["queue"] == review.slug
    assert response.json()["failure_kind"] == "business"


def test_a_system_failure_schedules_one_retry():
    # given
    item = make_item()
    # when
    response = act(agent(item), item, "fail", {"kind": "system", "reason": "OCR down"})
    # then
    assert response.status_code == 200, response.content
    assert ItemRetry.objects.filter(item=item, done_at=None).count() == 1


def test_an_empty_body_is_enough_where_nothing_is_needed():
    # given
    item = make_item()
    # when
    response = act(agent(item), item, "wait", {})
    # then
    assert response.status_code == 200, response.content


@pytest.mark.parametrize(
    ("action", "body", "field"),
    [
        ("comment", {}, "text"),
        ("escalate", {"reason": ""}, "reason"),
        ("complete", {"outcome": "resolved", "handle_seconds": -5}, "handle_seconds"),
        ("fail", {"kind": "cosmic", "reason": "x"}, "kind"),
        ("cancel", {}, "reason"),
        ("wait", {"note": "x", "colour": "red"}, "colour"),
    ],
)
def test_a_bad_body_is_a_422_naming_the_field(action, body, field):
    # given
    item = make_item()
    # when
    response = act(agent(item), item, action, body)
    # then
    assert response.status_code == 422
    assert response["Content-Type"] == PROBLEM
    assert [e["field"] for e in response.json()["errors"]] == [field]
    assert WorkItemEvent.objects.filter(item=item).count() == 2


# ------------------------------------------------------------------ who may act


def test_a_client_viewer_cannot_act():
    # given
    item = make_item()
    # when
    response = act(client_as(item, "client_viewer"), item, "comment", {"text": "Hi"})
    # then
    assert response.status_code == 403
    assert response["Content-Type"] == PROBLEM


def test_a_client_admin_can_comment_but_not_complete():
    # given
    item = make_item()
    client = client_as(item, "client_admin")
    # when
    commented = act(client, item, "comment", {"text": "Any news?"})
    completed = act(client, item, "complete", {"outcome": "resolved"})
    # then
    assert commented.status_code == 200
    assert completed.status_code == 403
    assert "comment, reply, resume, reopen, cancel" in completed.json()["detail"]
    assert WorkItem.objects.get(pk=item.pk).status == "queued"


def test_an_agent_can_complete():
    # given
    item = make_item()
    # when
    response = act(agent(item), item, "complete", {"outcome": "not_resolved"})
    # then
    assert response.status_code == 200
    assert response.json()["outcome"] == "not_resolved"


def test_a_client_reply_is_marked_as_the_clients():
    # given
    item = make_item()
    # when
    response = act(client_as(item, "client_admin"), item, "reply", {"text": "Here it is"})
    # then
    assert response.status_code == 200
    assert last_event(item).data["from"] == "client"


def test_another_clients_item_is_a_404():
    # given
    item, other = make_item(), make_item()
    # when
    response = act(client_as(other, "client_admin"), item, "comment", {"text": "Hi"})
    # then
    assert response.status_code == 404
    assert WorkItemEvent.objects.filter(item=item).count() == 2
