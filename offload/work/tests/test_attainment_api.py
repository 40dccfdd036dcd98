"""SLA attainment through HTTP: `GET /api/v1/engagements/{id}/attainment`, its
`/breaches`, and `POST .../attainment/freeze`."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from offload.tenancy.tests.factories import api_client, key_for
from offload.work import attainment
from offload.work.models import AttainmentMonth
from offload.work.tests.test_attainment import at, make_clock, make_march, make_setup

pytestmark = pytest.mark.django_db

PROBLEM = "application/problem+json"


def url(engagement_id: int | str, tail: str = "") -> str:
    return f"/api/v1/engagements/{engagement_id}/attainment{tail}"


def freeze(client: Any, engagement_id: int, month: str) -> Any:
    return client.post(
        url(engagement_id, "/freeze"), json.dumps({"month": month}), content_type="application/json"
    )


def test_attainment_get_answers_the_months_rows_to_the_client():
    # given
    setup = make_setup()
    make_march(setup)
    client = api_client(key_for(setup.engagement.client, "client_viewer"))
    # when
    response = client.get(url(setup.engagement.pk), {"month": "2026-03"})
    # then
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["engagement_id"], body["month"], body["frozen"], body["frozen_at"]) == (
        setup.engagement.pk,
        "2026-03",
        False,
        None,
    )
    assert body["rows"] == [
        {
            "metric": "first_response",
            "priority": "P1",
            "measured": 10,
            "met": 9,
            "missed": 1,
            "attainment_percent": "90.00",
            "target_percent": "90.00",
            "target_met": True,
            "policy_id": setup.policy.pk,
        },
        {
            "metric": "first_response",
            "priority": "P3",
            "measured": 3,
            "met": 2,
            "missed": 1,
            "attainment_percent": "66.66",
            "target_percent": "95.00",
            "target_met": False,
            "policy_id": setup.policy.pk,
        },
        {
            "metric": "turnaround",
            "priority": "P3",
            "measured": 1,
            "met": 1,
            "missed": 0,
            "attainment_percent": "100.00",
            "target_percent": "80.00",
            "target_met": True,
            "policy_id": setup.policy.pk,
        },
    ]


def test_attainment_get_without_a_month_is_the_current_month():
    # given
    setup = make_setup()
    client = api_client(key_for(setup.engagement.provider, "agent"))
    # when
    response = client.get(url(setup.engagement.pk))
    # then
    assert response.status_code == 200, response.content
    assert response.json()["month"] == attainment.month_label(attainment.month_current())
    assert response.json()["rows"] == []


@pytest.mark.parametrize("month", ["2026-13", "March", "2026-3", "2026-03-01"])
def test_a_bad_month_is_a_422_naming_it(month: str):
    # given
    setup = make_setup()
    client = api_client(key_for(setup.engagement.client))
    # when
    responses = [
        client.get(url(setup.engagement.pk), {"month": month}),
        client.get(url(setup.engagement.pk, "/breaches"), {"month": month}),
        freeze(api_client(key_for(setup.engagement.provider)), setup.engagement.pk, month),
    ]
    # then
    for response in responses:
        assert response.status_code == 422, response.content
        assert response["Content-Type"] == PROBLEM
        assert response.json()["errors"] == [{"field": "month", "message": attainment.BAD_MONTH}]


def test_a_bad_engagement_id_is_a_422_naming_it():
    # given
    client = api_client(key_for(make_setup().engagement.client))
    # when
    response = client.get(url("abc"), {"month": "2026-03"})
    # then
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["engagement_id"]


def test_another_clients_engagement_is_a_404_on_every_route():
    # given
    setup = make_setup()
    make_march(setup)
    other = make_setup()
    reader = api_client(key_for(other.engagement.client))
    provider = api_client(key_for(other.engagement.provider))
    # when
    responses = [
        reader.get(url(setup.engagement.pk), {"month": "2026-03"}),
        reader.get(url(setup.engagement.pk, "/breaches"), {"month": "2026-03"}),
        freeze(provider, setup.engagement.pk, "2026-03"),
    ]
    # then
    assert [r.status_code for r in responses] == [404, 404, 404]
    assert all(r["Content-Type"] == PROBLEM for r in responses)
    assert not AttainmentMonth.objects.exists()


def test_attainment_freeze_answers_201_then_409_and_reads_back_frozen():
    # given
    setup = make_setup()
    make_march(setup)
    finance = api_client(key_for(setup.engagement.provider, "finance"))
    # when
    first = freeze(finance, setup.engagement.pk, "2026-03")
    again = freeze(finance, setup.engagement.pk, "2026-03")
    read = api_client(key_for(setup.engagement.client)).get(
        url(setup.engagement.pk), {"month": "2026-03"}
    )
    # then
    assert first.status_code == 201, first.content
    assert first.json()["frozen"] is True
    assert again.status_code == 409
    assert again["Content-Type"] == PROBLEM
    assert again.json()["frozen_at"].startswith(first.json()["frozen_at"].removesuffix("Z"))
    assert read.json()["frozen"] is True
    assert read.json()["frozen_at"] == first.json()["frozen_at"]
    assert read.json()["frozen_by"] == first.json()["frozen_by"]
    assert read.json()["rows"] == first.json()["rows"]


def test_attainment_freeze_of_the_current_month_is_a_409():
    # given
    setup = make_setup()
    client = api_client(key_for(setup.engagement.provider, "ops_manager"))
    # when
    response = freeze(
        client, setup.engagement.pk, attainment.month_label(attainment.month_current())
    )
    # then
    assert response.status_code == 409
    assert "is not over yet" in response.json()["detail"]


def test_attainment_freeze_by_a_client_admin_is_a_403():
    # given
    setup = make_setup()
    make_march(setup)
    client = api_client(key_for(setup.engagement.client, "client_admin"))
    # when
    response = freeze(client, setup.engagement.pk, "2026-03")
    # then
    assert response.status_code == 403
    assert not AttainmentMonth.objects.exists()


def test_attainment_breaches_newest_first_in_pages():
    # given
    setup = make_setup()
    made = [
        make_clock(setup, state="breached", stopped_at=at(day), subject=f"Late {day}")
        for day in (3, 9, 27)
    ]
    make_clock(setup, state="met", stopped_at=at(4))
    client = api_client(key_for(setup.engagement.client))
    # when
    first = client.get(url(setup.engagement.pk, "/breaches"), {"month": "2026-03", "limit": "2"})
    cursor = first.json()["next_cursor"]
    second = client.get(
        url(setup.engagement.pk, "/breaches"), {"month": "2026-03", "limit": "2", "cursor": cursor}
    )
    # then
    assert first.status_code == 200, first.content
    newest = made[2]
    assert first.json()["items"][0] == {
        "clock_id": newest.pk,
        "item_id": newest.item_id,
        "reference": newest.item.reference,
        "subject": "Late 27",
        "metric": "first_response",
        "priority": "P3",
        "due_at": newest.due_at.isoformat().replace("+00:00", "Z"),  # type: ignore[union-attr]
        "stopped_at": "2026-03-27T12:00:00Z",
    }
    pages = [first.json()["items"], second.json()["items"]]
    assert [[i["subject"] for i in page] for page in pages] == [["Late 27", "Late 9"], ["Late 3"]]
    assert second.json()["next_cursor"] is None


def test_attainment_breaches_take_the_same_queries_for_any_page_size():
    # given
    setup = make_setup()
    make_clock(setup, state="breached", stopped_at=at(5))
    client = api_client(key_for(setup.engagement.client))
    client.get(url(setup.engagement.pk))  # the key's first use is recorded once
    with CaptureQueriesContext(connection) as one:
        client.get(url(setup.engagement.pk, "/breaches"), {"month": "2026-03"})
    for day in range(6, 16):
        make_clock(setup, state="breached", stopped_at=at(day))
    # when
    with CaptureQueriesContext(connection) as many:
        response = client.get(url(setup.engagement.pk, "/breaches"), {"month": "2026-03"})
    # then
    assert len(response.json()["items"]) == 11
    assert len(many.captured_queries) == len(one.captured_queries)


def test_a_bad_breaches_cursor_is_a_422_naming_it():
    # given
    setup = make_setup()
    client = api_client(key_for(setup.engagement.client))
    # when
    response = client.get(
        url(setup.engagement.pk, "/breaches"), {"month": "2026-03", "cursor": "cGs6MQ"}
    )
    # then
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["cursor"]
