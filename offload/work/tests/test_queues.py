"""Queues through HTTP: `GET/POST /api/v1/queues`, `GET/PATCH /api/v1/queues/{id}`."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from offload.tenancy.models import AuditEvent
from offload.tenancy.tests.factories import api_client, key_for, make_user
from offload.work.models import Queue
from offload.work.tests.factories import make_process, make_queue

pytestmark = pytest.mark.django_db

QUEUES = "/api/v1/queues"


def send(client: Client, method: str, url: str, body: dict[str, Any]) -> Any:
    return client.generic(method, url, json.dumps(body), content_type="application/json")


def test_queue_create_answers_201_and_audits_in_the_clients_chain():
    # given
    process = make_process()
    lead = make_user(process.provider, "team_lead")
    client = api_client(key_for(process.provider, "ops_manager"))
    # when
    response = send(
        client,
        "POST",
        QUEUES,
        {
            "process_id": process.pk,
            "name": "Claims Spanish",
            "languages": ["es"],
            "routing_mode": "push",
            "ordering": ["priority", "-due_at"],
            "team_lead_ids": [lead.pk],
        },
    )
    # then
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["slug"] == "claims-spanish"
    assert body["process_id"] == process.pk
    assert body["client_id"] == process.client_id
    assert body["team_lead_ids"] == [lead.pk]
    assert (body["routing_mode"], body["ordering"]) == ("push", ["priority", "-due_at"])
    assert (
        AuditEvent.objects.filter(organisation=process.client, action="queue.create").count() == 1
    )


def test_queue_create_refuses_an_agent_as_team_lead_and_a_bad_ordering_key():
    # given
    process = make_process()
    agent = make_user(process.provider, "agent")
    client = api_client(key_for(process.provider, "admin"))
    # when
    bad_lead = send(
        client, "POST", QUEUES, {"process_id": process.pk, "name": "A", "team_lead_ids": [agent.pk]}
    )
    bad_key = send(
        client, "POST", QUEUES, {"process_id": process.pk, "name": "B", "ordering": ["x"]}
    )
    # then
    assert bad_lead.status_code == 422
    assert [e["field"] for e in bad_lead.json()["errors"]] == ["team_lead_ids"]
    assert bad_key.status_code == 422
    assert [e["field"] for e in bad_key.json()["errors"]] == ["ordering[0]"]
    assert not Queue.objects.filter(process=process).exists()


def test_queue_create_with_a_taken_slug_is_a_422_naming_slug():
    # given
    process = make_process()
    make_queue(process, slug="main")
    client = api_client(key_for(process.provider, "admin"))
    # when
    response = send(
        client, "POST", QUEUES, {"process_id": process.pk, "name": "Main", "slug": "main"}
    )
    # then
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["slug"]


@pytest.mark.parametrize("role", ["agent", "team_lead"])
def test_only_ops_managers_and_admins_manage_queues(role):
    # given
    process = make_process()
    queue = make_queue(process)
    client = api_client(key_for(process.provider, role))
    # when
    created = send(client, "POST", QUEUES, {"process_id": process.pk, "name": "Nope"})
    patched = send(client, "PATCH", f"{QUEUES}/{queue.pk}", {"name": "Nope"})
    # then
    assert (created.status_code, patched.status_code) == (403, 403)


def test_a_client_admin_reads_its_queues_but_cannot_manage_them():
    # given
    process = make_process()
    queue = make_queue(process)
    client = api_client(key_for(process.client, "client_admin"))
    # when
    listed = client.get(QUEUES)
    patched = send(client, "PATCH", f"{QUEUES}/{queue.pk}", {"name": "Mine"})
    # then
    assert [q["id"] for q in listed.json()["items"]] == [queue.pk]
    assert patched.status_code == 403


def test_queue_update_changes_fields_and_replaces_team_leads():
    # given
    process = make_process()
    old, new = make_user(process.provider, "team_lead"), make_user(process.provider, "team_lead")
    queue = make_queue(process)
    queue.team_leads.set([old])
    client = api_client(key_for(process.provider, "ops_manager"))
    # when
    response = send(
        client,
        "PATCH",
        f"{QUEUES}/{queue.pk}",
        {"name": "Tier 2", "routing_mode": "push", "team_lead_ids": [new.pk]},
    )
    # then
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["name"], body["routing_mode"], body["team_lead_ids"]) == (
        "Tier 2",
        "push",
        [new.pk],
    )


def test_queue_update_without_team_leads_keeps_them():
    # given
    process = make_process()
    lead = make_user(process.provider, "team_lead")
    queue = make_queue(process)
    queue.team_leads.set([lead])
    client = api_client(key_for(process.provider, "admin"))
    # when
    response = send(client, "PATCH", f"{QUEUES}/{queue.pk}", {"is_review": True})
    # then
    assert response.json()["team_lead_ids"] == [lead.pk]
    assert response.json()["is_review"] is True


def test_queue_list_filters_by_process_and_its_query_count_does_not_grow(
    django_assert_max_num_queries,
):
    # given
    process = make_process()
    other = make_process(engagement=process.engagement)
    lead = make_user(process.provider, "team_lead")
    for _ in range(5):
        make_queue(process).team_leads.set([lead])
    make_queue(other)
    client = api_client(key_for(process.provider, "admin"))
    client.get(QUEUES)  # the key's first use notes its time
    # when
    with django_assert_max_num_queries(6):
        response = client.get(QUEUES, {"process_id": process.pk})
    # then
    assert response.status_code == 200
    items = response.json()["items"]
    assert len(items) == 5
    assert all(q["team_lead_ids"] == [lead.pk] for q in items)


def test_another_clients_queue_is_a_404():
    # given
    mine, theirs = make_process(), make_process()
    queue = make_queue(theirs)
    client = api_client(key_for(mine.provider, "admin"))
    # when
    response = client.get(f"{QUEUES}/{queue.pk}")
    # then
    assert response.status_code == 404
