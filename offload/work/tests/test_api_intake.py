from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from offload.contracts.models import Process
from offload.contracts.tests.factories import make_engagement
from offload.tenancy.tests.factories import api_client, key_for, make_user
from offload.work import intake
from offload.work.models import WorkItem, WorkItemEvent
from offload.work.tests.factories import make_item, make_process, make_queue

pytestmark = pytest.mark.django_db

ITEMS = "/api/v1/items"
BULK = "/api/v1/items/bulk"
SCHEMA = {
    "type": "object",
    "required": ["account"],
    "properties": {"account": {"type": "string", "pattern": "^AC-[0-9]{4}$"}},
}


def post(client: Client, url: str, body: dict[str, Any]) -> Any:
    return client.post(url, json.dumps(body), content_type="application/json")


def client_admin(process: Process) -> Client:
    return api_client(key_for(process.client, "client_admin"))


def fields_of(response: Any) -> list[tuple[str, str]]:
    return [(e["field"], e["message"]) for e in response.json()["errors"]]


# ------------------------------------------------------------------ one item


def test_work_item_create_answers_201_with_the_item_queued():
    # given
    process = make_process(name="Billing")
    client = client_admin(process)
    # when
    response = post(
        client,
        ITEMS,
        {"reference": "T-1", "process": process.slug, "subject": "Bill", "tags": ["vip"]},
    )
    # then
    assert response.status_code == 201, response.content
    body = response.json()
    item = WorkItem.objects.get()
    assert body["id"] == item.pk
    assert {k: body[k] for k in ("reference", "process", "queue", "priority", "status")} == {
        "reference": "T-1",
        "process": process.slug,
        "queue": process.slug,
        "priority": "P3",
        "status": "queued",
    }
    assert (body["client_id"], body["channel"], body["tags"]) == (
        process.client_id,
        "email",
        ["vip"],
    )
    events = client.get(f"{ITEMS}/{item.pk}/events").json()
    assert [(e["seq"], e["type"]) for e in events] == [(1, "created"), (2, "queued")]


def test_work_item_create_repeated_answers_200_and_the_same_item():
    # given
    process = make_process()
    client = client_admin(process)
    body = {"reference": "T-1", "process": process.slug}
    first = post(client, ITEMS, body)
    # when
    again = post(client, ITEMS, body)
    # then
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    assert WorkItem.objects.count() == 1
    assert WorkItemEvent.objects.count() == 2


@pytest.mark.skipif(connection.vendor != "postgresql", reason="a real race needs PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_work_item_create_racing_twice_makes_one_item():
    # given: two callers that post the same reference at the same moment
    process = make_process()
    secret = key_for(process.client, "client_admin")
    body = {"reference": "RACE-1", "process": process.slug}
    barrier = threading.Barrier(2)
    answers: list[tuple[int, int]] = []

    def call() -> None:
        try:
            client = api_client(secret)
            barrier.wait()
            response = post(client, ITEMS, body)
            answers.append((response.status_code, response.json()["id"]))
        finally:
            connection.close()

    threads = [threading.Thread(target=call) for _ in range(2)]
    # when
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # then
    item = WorkItem.objects.get()
    assert sorted(answers) == [(200, item.pk), (201, item.pk)]
    assert WorkItemEvent.objects.filter(item=item).count() == 2


def test_a_payload_against_the_schema_is_a_422_naming_its_path():
    # given
    process = make_process(item_schema=SCHEMA)
    # when
    response = post(
        client_admin(process),
        ITEMS,
        {"reference": "T-1", "process": process.slug, "payload": {"account": "x"}},
    )
    # then
    assert response.status_code == 422
    assert response["Content-Type"] == "application/problem+json"
    assert fields_of(response) == [("payload.account", "must match pattern ^AC-[0-9]{4}$")]
    assert WorkItem.objects.count() == 0


def test_a_payload_over_the_limit_is_a_422_naming_the_limit(settings):
    # given
    settings.OFFLOAD_MAX_ITEM_PAYLOAD_BYTES = 64
    process = make_process()
    # when
    response = post(
        client_admin(process),
        ITEMS,
        {"reference": "T-1", "process": process.slug, "payload": {"text": "x" * 100}},
    )
    # then
    assert response.status_code == 422
    [(field, message)] = fields_of(response)
    assert field == "payload"
    assert "the limit is 64 bytes" in message


def test_a_spanish_item_goes_to_the_spanish_queue():
    # given
    process = make_process(languages=["en", "es"])
    make_queue(process, slug="support")
    make_queue(process, slug="support-es", languages=["es"])
    # when
    response = post(
        client_admin(process),
        ITEMS,
        {"reference": "T-1", "process": process.slug, "language": "es"},
    )
    # then
    assert response.status_code == 201
    assert response.json()["queue"] == "support-es"


def test_a_client_viewer_may_not_create():
    # given
    process = make_process()
    viewer = api_client(key_for(process.client, "client_viewer"))
    # when
    response = post(viewer, ITEMS, {"reference": "T-1", "process": process.slug})
    # then
    assert response.status_code == 403
    assert WorkItem.objects.count() == 0


def test_a_provider_agent_creates_for_the_client_it_serves():
    # given
    process = make_process()
    agent = api_client(key_for(process.provider, "agent"))
    # when
    response = post(agent, ITEMS, {"reference": "T-1", "process": process.slug})
    # then
    assert response.status_code == 201, response.content
    assert response.json()["client_id"] == process.client_id


def test_a_provider_names_the_client_when_two_clients_share_the_slug():
    # given
    first = make_process(name="Email")
    second = make_process(name="Email", engagement=make_engagement(provider=first.provider))
    agent = api_client(key_for(first.provider, "agent"))
    body = {"reference": "T-1", "process": "email"}
    # when
    ambiguous = post(agent, ITEMS, body)
    named = post(agent, ITEMS, {**body, "client": second.client.slug})
    # then
    assert ambiguous.status_code == 422
    assert fields_of(ambiguous) == [("client", intake.AMBIGUOUS_CLIENT)]
    assert named.status_code == 201
    assert named.json()["client_id"] == second.client_id


def test_a_foreign_process_slug_is_a_422_naming_process():
    # given
    mine = make_process()
    theirs = make_process()
    # when
    response = post(client_admin(mine), ITEMS, {"reference": "T-1", "process": theirs.slug})
    # then
    assert response.status_code == 422
    assert fields_of(response) == [("process", intake.NO_PROCESS)]
    assert WorkItem.objects.count() == 0


def test_a_client_may_not_name_another_client():
    # given
    mine = make_process()
    theirs = make_process()
    # when
    response = post(
        client_admin(mine),
        ITEMS,
        {"reference": "T-1", "process": mine.slug, "client": theirs.client.slug},
    )
    # then
    assert response.status_code == 422
    assert fields_of(response) == [("client", intake.NOT_YOUR_ORGANISATION)]


def test_a_parent_of_another_client_is_a_422_naming_parent_id():
    # given
    mine = make_process()
    foreign = make_item()
    # when
    response = post(
        client_admin(mine),
        ITEMS,
        {"reference": "T-1", "process": mine.slug, "parent_id": foreign.pk},
    )
    # then
    assert response.status_code == 422
    assert [f for f, _ in fields_of(response)] == ["parent_id"]


# ------------------------------------------------------------------ bulk


def test_bulk_with_bad_rows_answers_207_with_every_row_accounted_for():
    # given
    process = make_process(item_schema=SCHEMA)
    known = make_item(process, reference="KNOWN", payload={"account": "AC-0001"})
    ok = {"account": "AC-0002"}
    rows = [
        {"reference": "A", "process": process.slug, "payload": ok},
        {"reference": "B", "process": process.slug, "payload": {"account": "bad"}},
        {"reference": "KNOWN", "process": process.slug, "payload": ok},
        {"reference": "A", "process": process.slug, "payload": ok},
        {"reference": "C", "process": process.slug, "payload": ok, "priority": "P9"},
    ]
    # when
    response = post(client_admin(process), BULK, {"items": rows})
    # then
    assert response.status_code == 207, response.content
    a = WorkItem.objects.get(reference="A")
    assert response.json() == {
        "accepted": [{"index": 0, "id": a.pk, "reference": "A"}],
        "duplicates": [
            {"index": 2, "id": known.pk, "reference": "KNOWN"},
            {"index": 3, "id": a.pk, "reference": "A"},
        ],
        "errors": [
            {"index": 1, "field": "payload.account", "message": "must match pattern ^AC-[0-9]{4}$"},
            {"index": 4, "field": "priority", "message": intake.BAD_PRIORITY},
        ],
    }
    assert WorkItem.objects.count() == 2


def test_bulk_all_good_answers_200():
    # given
    process = make_process()
    rows = [{"reference": f"R-{i}", "process": process.slug} for i in range(3)]
    # when
    response = post(client_admin(process), BULK, {"items": rows})
    # then
    assert response.status_code == 200
    body = response.json()
    assert [r["reference"] for r in body["accepted"]] == ["R-0", "R-1", "R-2"]
    assert (body["duplicates"], body["errors"]) == ([], [])
    assert WorkItemEvent.objects.count() == 6


def test_bulk_payload_over_the_limit_is_that_rows_error(settings):
    # given
    settings.OFFLOAD_MAX_ITEM_PAYLOAD_BYTES = 64
    process = make_process()
    rows = [
        {"reference": "small", "process": process.slug},
        {"reference": "big", "process": process.slug, "payload": {"t": "x" * 100}},
    ]
    # when
    response = post(client_admin(process), BULK, {"items": rows})
    # then
    assert response.status_code == 207
    [error] = response.json()["errors"]
    assert (error["index"], error["field"]) == (1, "payload")
    assert "the limit is 64 bytes" in error["message"]


def test_bulk_of_10001_rows_is_a_422_naming_items():
    # given
    process = make_process()
    rows = [{"reference": f"R-{i}", "process": process.slug} for i in range(10_001)]
    # when
    response = post(client_admin(process), BULK, {"items": rows})
    # then
    assert response.status_code == 422
    assert fields_of(response) == [("items", intake.TOO_MANY_ROWS)]
    assert WorkItem.objects.count() == 0


def test_bulk_by_a_provider_names_its_client():
    # given
    process = make_process()
    agent = api_client(key_for(process.provider, "agent"))
    rows = [{"reference": "R-1", "process": process.slug}]
    # when
    named = post(agent, BULK, {"client": process.client.slug, "items": rows})
    unnamed = post(agent, BULK, {"items": [{"reference": "R-2", "process": process.slug}]})
    # then
    assert (named.status_code, unnamed.status_code) == (200, 200)
    assert WorkItem.objects.filter(client=process.client).count() == 2


def test_bulk_by_a_client_viewer_is_refused():
    # given
    process = make_process()
    viewer = api_client(key_for(process.client, "client_viewer"))
    # when
    response = post(viewer, BULK, {"items": [{"reference": "R-1", "process": process.slug}]})
    # then
    assert response.status_code == 403
    assert WorkItem.objects.count() == 0


# ------------------------------------------------------------------ reads


@pytest.fixture
def listed() -> dict[str, Any]:
    """Three items of one client in two processes, and one item of another client."""
    billing = make_process(name="Billing")
    claims = make_process(name="Claims", engagement=billing.engagement)
    agent = make_user(billing.provider, "agent")
    a = make_item(billing, reference="A", subject="Router RESET please", tags=["vip", "x"])
    b = make_item(billing, reference="B", priority="P1", subject="Invoice", tags=["x"])
    c = make_item(claims, reference="C", subject="Claim for a router")
    make_item(reference="OTHER", subject="Router of another client")
    WorkItem.objects.filter(pk=b.pk).update(
        assignee=agent, status="assigned", created_at=datetime(2026, 1, 1, tzinfo=UTC)
    )
    return {
        "client": client_admin(billing),
        "a": a.pk,
        "b": b.pk,
        "c": c.pk,
        "agent": agent.pk,
        "claims": claims.slug,
    }


def _ids(listed: dict[str, Any], **query: Any) -> list[int]:
    response = listed["client"].get(ITEMS, query)
    assert response.status_code == 200, response.content
    return [item["id"] for item in response.json()["items"]]


def test_work_item_list_shows_the_clients_items_only(listed):
    assert _ids(listed) == [listed["a"], listed["b"], listed["c"]]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"reference": "B"}, ["b"]),
        ({"status": "assigned"}, ["b"]),
        ({"status": "queued"}, ["a", "c"]),
        ({"process": "claims"}, ["c"]),
        ({"priority": "P1"}, ["b"]),
        ({"created_before": "2026-06-01T00:00:00Z"}, ["b"]),
        ({"created_after": "2026-06-01T00:00:00Z"}, ["a", "c"]),
        ({"tag": "vip"}, ["a"]),
        ({"tag": "x"}, ["a", "b"]),
        ({"tag": "v"}, []),
        ({"q": "router"}, ["a", "c"]),
    ],
    ids=str,
)
def test_work_item_list_filters(listed, query, expected):
    assert _ids(listed, **query) == [listed[name] for name in expected]


def test_work_item_list_filters_by_assignee(listed):
    assert _ids(listed, assignee=listed["agent"]) == [listed["b"]]


def test_work_item_list_refuses_a_bad_status(listed):
    # when
    response = listed["client"].get(ITEMS, {"status": "lost"})
    # then
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["status"]


def test_work_item_list_pages_with_a_cursor(listed):
    # when
    first = listed["client"].get(ITEMS, {"limit": 2}).json()
    second = listed["client"].get(ITEMS, {"limit": 2, "cursor": first["next_cursor"]}).json()
    # then
    assert [i["id"] for i in first["items"]] == [listed["a"], listed["b"]]
    assert [i["id"] for i in second["items"]] == [listed["c"]]
    assert second["next_cursor"] is None


def test_work_item_list_query_count_does_not_grow_with_the_page(django_assert_num_queries, listed):
    # given: the count for three items (after a first call, which records the key's
    # use), then thirty more
    client = listed["client"]
    client.get(ITEMS)
    with CaptureQueriesContext(connection) as few:
        client.get(ITEMS)
    process = WorkItem.objects.get(pk=listed["a"]).process
    for i in range(30):
        make_item(process, reference=f"more-{i}")
    # when / then
    with django_assert_num_queries(len(few.captured_queries)):
        response = client.get(ITEMS)
    assert len(response.json()["items"]) == 33


def test_work_item_get_and_events_of_another_client_are_404(listed):
    # given
    other = WorkItem.objects.get(reference="OTHER")
    # when
    item = listed["client"].get(f"{ITEMS}/{other.pk}")
    events = listed["client"].get(f"{ITEMS}/{other.pk}/events")
    # then
    assert (item.status_code, events.status_code) == (404, 404)


def test_work_item_events_are_in_order_with_their_actor():
    # given
    process = make_process()
    client = client_admin(process)
    item_id = post(client, ITEMS, {"reference": "T-1", "process": process.slug}).json()["id"]
    # when
    response = client.get(f"{ITEMS}/{item_id}/events")
    # then
    assert response.status_code == 200
    events = response.json()
    assert [(e["seq"], e["type"]) for e in events] == [(1, "created"), (2, "queued")]
    assert events[0]["data"] == {"reference": "T-1", "priority": "P3"}
    assert events[0]["actor_api_key_id"] is not None


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity"])
def test_a_payload_with_a_non_finite_number_is_a_422_not_a_500(number):
    # given: Python's JSON parser accepts these; JSON and PostgreSQL's jsonb do not
    process = make_process()
    client = api_client(key_for(process.client, "client_admin"))
    row = f'"process": "{process.slug}", "payload": {{"amount": {number}}}'
    body = f'{{"reference": "NAN-1", {row}}}'
    bulk = f'{{"items": [{{"reference": "NAN-2", {row}}}]}}'
    # when
    one = client.post("/api/v1/items", body, content_type="application/json")
    many = client.post("/api/v1/items/bulk", bulk, content_type="application/json")
    # then
    assert one.status_code == 422, one.content
    assert one.json()["errors"][0]["field"] == "payload"
    assert many.status_code == 207, many.content
    assert many.json()["errors"][0]["field"] == "payload"
