"""Reclassification: `services.work_item_reprioritize` and
`POST /api/v1/items/{id}/reprioritize`."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from offload.core import errors
from offload.tenancy import visibility
from offload.tenancy.tests.factories import api_client, key_for, make_principal
from offload.work import leases, services
from offload.work.models import WorkItem, WorkItemEvent
from offload.work.tests.factories import make_item, make_process
from offload.workers import services as worker_services
from offload.workers.tests.factories import make_agent

pytestmark = pytest.mark.django_db

PROBLEM = "application/problem+json"


def events(item: WorkItem) -> list[WorkItemEvent]:
    return list(WorkItemEvent.objects.filter(item=item).order_by("seq"))


def reprioritize(client: Client, item: WorkItem, body: dict[str, Any]) -> Any:
    return client.post(
        f"/api/v1/items/{item.pk}/reprioritize", json.dumps(body), content_type="application/json"
    )


# ------------------------------------------------------------------ the service


def test_a_team_lead_raises_the_priority_with_a_person_event():
    # given
    item = make_item(priority="P3")
    lead = make_principal(item.provider, "team_lead")
    # when
    changed = services.work_item_reprioritize(
        actor=lead, item=item, priority="P1", reason="The customer is a hospital"
    )
    # then
    assert changed.priority == "P1"
    item.refresh_from_db()
    assert item.priority == "P1"
    event = events(item)[-1]
    assert event.type == "reprioritized"
    assert event.data == {
        "from": "P3",
        "to": "P1",
        "by": "person",
        "reason": "The customer is a hospital",
    }
    assert event.actor_label == lead.label
    assert event.actor_user_id == lead.user.pk  # type: ignore[union-attr]


def test_lowering_is_a_reclassification_too_and_the_reason_may_be_empty():
    # given
    item = make_item(priority="P2")
    # when
    services.work_item_reprioritize(
        actor=make_principal(item.provider, "agent"), item=item, priority="P4"
    )
    # then
    assert events(item)[-1].data == {"from": "P2", "to": "P4", "by": "person", "reason": ""}


def test_the_same_priority_again_writes_nothing():
    # given
    item = make_item(priority="P2")
    before = len(events(item))
    # when
    services.work_item_reprioritize(
        actor=make_principal(item.provider, "ops_manager"), item=item, priority="P2"
    )
    # then
    assert len(events(item)) == before


def test_a_bad_priority_is_a_422_naming_priority():
    # given
    item = make_item(priority="P3")
    # when
    with pytest.raises(errors.ValidationFailed) as caught:
        services.work_item_reprioritize(actor=None, item=item, priority="P0")
    # then
    assert [e.field for e in caught.value.errors] == ["priority"]
    item.refresh_from_db()
    assert item.priority == "P3"


@pytest.mark.parametrize("final", ["cancelled", "closed"])
def test_a_closed_or_cancelled_item_keeps_its_priority(final: str):
    # given
    item = make_item(priority="P3")
    WorkItem.objects.filter(pk=item.pk).update(status=final)
    before = len(events(item))
    # when
    with pytest.raises(errors.Conflict) as caught:
        services.work_item_reprioritize(actor=None, item=item, priority="P1")
    # then
    assert caught.value.extra == {"current": final}
    assert len(events(item)) == before


def test_a_completed_item_may_still_be_reclassified():
    # given
    item = make_item(priority="P3")
    services.work_item_complete(actor=None, item=item, outcome="resolved")
    # when
    services.work_item_reprioritize(actor=None, item=item, priority="P2")
    # then
    assert events(item)[-1].type == "reprioritized"


def test_a_client_may_not_reprioritize():
    # given
    item = make_item(priority="P3")
    # when / then
    with pytest.raises(errors.PermissionDenied):
        services.work_item_reprioritize(
            actor=make_principal(item.client, "client_admin"), item=item, priority="P1"
        )


def test_a_held_item_is_reprioritized_by_its_holder_or_a_team_lead_only():
    # given: an agent holds the item
    process = make_process()
    item = make_item(process, priority="P3")
    holder = make_agent(process.provider, processes=[process])
    worker_services.worker_set_presence(actor=None, worker=holder, presence="available")
    holder_principal = visibility.principal_for_user(holder.user)
    assert holder_principal is not None
    assert leases.work_item_claim(actor=holder_principal) is not None
    # when / then: another agent may not, a team lead may
    with pytest.raises(errors.Conflict):
        services.work_item_reprioritize(
            actor=make_principal(process.provider, "agent"), item=item, priority="P1"
        )
    services.work_item_reprioritize(
        actor=make_principal(process.provider, "team_lead"), item=item, priority="P1"
    )
    item.refresh_from_db()
    assert (item.priority, item.status) == ("P1", "assigned")


# ------------------------------------------------------------------ the API


def test_the_api_answers_the_item_with_its_new_priority():
    # given
    item = make_item(priority="P4")
    client = api_client(key_for(item.provider, "team_lead"))
    # when
    response = reprioritize(client, item, {"priority": "P2", "reason": "Escalated by phone"})
    # then
    assert response.status_code == 200, response.content
    assert response.json()["priority"] == "P2"
    assert events(item)[-1].data == {
        "from": "P4",
        "to": "P2",
        "by": "person",
        "reason": "Escalated by phone",
    }


def test_the_api_refuses_a_client_with_a_403():
    # given
    item = make_item(priority="P4")
    client = api_client(key_for(item.client, "client_admin"))
    # when
    response = reprioritize(client, item, {"priority": "P1"})
    # then
    assert response.status_code == 403
    assert response["Content-Type"] == PROBLEM
    item.refresh_from_db()
    assert item.priority == "P4"


def test_the_api_names_a_bad_priority():
    # given
    item = make_item(priority="P4")
    client = api_client(key_for(item.provider, "agent"))
    # when
    response = reprioritize(client, item, {"priority": "P5"})
    # then
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["priority"]


def test_the_api_answers_409_for_a_cancelled_item():
    # given
    item = make_item(priority="P4")
    services.work_item_cancel(actor=None, item=item, reason="Duplicate")
    client = api_client(key_for(item.provider, "agent"))
    # when
    response = reprioritize(client, item, {"priority": "P1"})
    # then
    assert response.status_code == 409
    assert response["Content-Type"] == PROBLEM
    assert response.json()["current"] == "cancelled"


def test_the_api_answers_404_for_another_providers_item():
    # given
    item = make_item(priority="P4")
    stranger = make_process()
    client = api_client(key_for(stranger.provider, "admin"))
    # when
    response = reprioritize(client, item, {"priority": "P1"})
    # then
    assert response.status_code == 404
