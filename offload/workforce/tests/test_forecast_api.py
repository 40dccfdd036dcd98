"""The forecasting API: forecasts, adjustments, requirements, intraday, staffing targets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from offload.contracts.tests.factories import make_engagement
from offload.tenancy.tests.factories import api_client, key_for, make_client, make_provider
from offload.work.tests.factories import make_process
from offload.workforce import forecast_selectors, forecast_services, forecasting
from offload.workforce.models import ForecastAdjustment, StaffingTarget
from offload.workforce.tests.factories import (
    make_actuals,
    make_adjustment,
    make_forecast,
    make_staffing_target,
)

pytestmark = pytest.mark.django_db

PROBLEM = "application/problem+json"
MONDAY = datetime(2026, 11, 2, tzinfo=UTC)
HALF = timedelta(minutes=30)
V1 = "/api/v1"


@pytest.fixture
def shop() -> dict[str, Any]:
    provider = make_provider("Northwind", timezone="UTC")
    acme = make_client("Acme")
    process = make_process(engagement=make_engagement(acme, provider), name="Acme chat")
    return {
        "provider": provider,
        "acme": acme,
        "process": process,
        "planner": api_client(key_for(provider, "wfm_planner")),
    }


def fields_of(response: Any) -> list[str]:
    assert response["Content-Type"] == PROBLEM
    return [e["field"] for e in response.json()["errors"]]


# ------------------------------------------------------------------ forecasts


def test_forecast_create_answers_202_with_the_generated_forecast(shop):
    # given: a week of actuals, 12 an interval at 240 s
    make_actuals(shop["process"], MONDAY - timedelta(weeks=1), [12] * 336, aht_s=240)
    # when
    response = shop["planner"].post(
        f"{V1}/forecasts",
        {"process_id": shop["process"].pk, "start_date": "2026-11-02", "days": 1},
        content_type="application/json",
    )
    # then
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["status"] == "ready"
    assert body["process_name"] == "Acme chat"
    assert (body["volume_model"], body["volume_wape"]) == ("seasonal_naive", None)
    assert body["start"].startswith("2026-11-02T00:00:00")


def test_forecast_create_names_a_bad_field(shop):
    # when
    response = shop["planner"].post(
        f"{V1}/forecasts",
        {"process_id": shop["process"].pk, "start_date": "2026-11-02", "days": 0},
        content_type="application/json",
    )
    # then
    assert response.status_code == 422
    assert fields_of(response) == ["days"]


def test_a_team_lead_reads_but_does_not_generate(shop):
    # given
    lead = api_client(key_for(shop["provider"], "team_lead"))
    make_forecast(shop["process"], MONDAY, [1.0])
    # when
    listed = lead.get(f"{V1}/forecasts")
    created = lead.post(
        f"{V1}/forecasts",
        {"process_id": shop["process"].pk, "start_date": "2026-11-02", "days": 1},
        content_type="application/json",
    )
    # then
    assert listed.status_code == 200
    assert len(listed.json()["items"]) == 1
    assert created.status_code == 403
    assert created["Content-Type"] == PROBLEM


def test_an_agent_may_not_read_plans(shop):
    agent = api_client(key_for(shop["provider"], "agent"))
    response = agent.get(f"{V1}/forecasts")
    assert response.status_code == 403
    assert response.json()["detail"] == forecast_selectors.NOT_A_READER


def test_a_client_sees_no_forecast_not_even_of_its_own_process(shop):
    # given
    forecast = make_forecast(shop["process"], MONDAY, [1.0])
    client = api_client(key_for(shop["acme"], "client_admin"))
    # when
    listed = client.get(f"{V1}/forecasts")
    one = client.get(f"{V1}/forecasts/{forecast.pk}")
    # then
    assert listed.status_code == 200
    assert listed.json()["items"] == []
    assert one.status_code == 404


def test_the_forecast_list_reads_in_a_fixed_number_of_queries(shop):
    # given
    make_forecast(shop["process"], MONDAY, [1.0])
    shop["planner"].get(f"{V1}/forecasts")
    with CaptureQueriesContext(connection) as few:
        shop["planner"].get(f"{V1}/forecasts")
    for _ in range(5):
        make_forecast(shop["process"], MONDAY, [1.0])
    # when
    with CaptureQueriesContext(connection) as many:
        response = shop["planner"].get(f"{V1}/forecasts")
    # then
    assert len(response.json()["items"]) == 6
    assert len(many) == len(few)


def test_the_forecast_detail_shows_base_adjustment_and_adjusted_side_by_side(shop):
    # given: 10 and 20 forecast; +30 % on the second interval; a stored target
    process = shop["process"]
    make_staffing_target(process)
    forecast = make_forecast(process, MONDAY, [10.0, 20.0], aht_s=180)
    make_adjustment(process, MONDAY + HALF, MONDAY + 2 * HALF, value="30", reason="Campaign")
    # when
    response = shop["planner"].get(f"{V1}/forecasts/{forecast.pk}")
    # then
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["volume_model"], body["volume_wape"]) == ("seasonal_naive", 0.1)
    assert body["target"]["source"] == "stored"
    assert [a["reason"] for a in body["adjustments"]] == ["Campaign"]
    second = body["intervals"][1]
    assert (second["volume_base"], second["volume_adjustment"]) == (20.0, pytest.approx(6.0))
    assert second["volume"] == pytest.approx(26.0)
    assert (second["aht_base"], second["aht_adjustment"], second["aht_s"]) == (180, 0, 180)
    assert second["agents"] > body["intervals"][0]["agents"] > 0


def test_requirements_of_a_forecast(shop):
    # given
    process = shop["process"]
    make_staffing_target(process)
    forecast = make_forecast(process, MONDAY, [0.0, 100.0], aht_s=180)
    # when
    response = shop["planner"].get(f"{V1}/forecasts/{forecast.pk}/requirements")
    # then
    assert response.status_code == 200
    assert [(r["calls"], r["agents"], r["scheduled"]) for r in response.json()["items"]] == [
        (0.0, 0, 0),
        (100.0, 14, 20),
    ]


def test_requirements_refuse_a_backwards_range(shop):
    forecast = make_forecast(shop["process"], MONDAY, [1.0])
    response = shop["planner"].get(
        f"{V1}/forecasts/{forecast.pk}/requirements",
        {"start": "2026-11-02T10:00:00Z", "end": "2026-11-02T09:00:00Z"},
    )
    assert response.status_code == 422
    assert fields_of(response) == ["end"]


def test_intraday_of_a_forecast_for_a_date(shop):
    # given
    process = shop["process"]
    forecast = make_forecast(process, MONDAY, [10.0] * 48)
    make_actuals(process, MONDAY, [20, 20])
    # when
    response = shop["planner"].get(f"{V1}/forecasts/{forecast.pk}/intraday", {"date": "2026-11-02"})
    # then: the whole day has passed, so every interval is actual; 40 arrived for
    # 480 forecast, a ratio held at its floor
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["elapsed"] == 48
    assert body["ratio"] == forecasting.RATIO_MIN
    assert [i["actual"] for i in body["intervals"][:3]] == [20, 20, 0]
    assert body["intervals"][0]["gap"] == body["intervals"][0]["required"]


# ------------------------------------------------------------------ adjustments


def test_adjustments_create_list_get_and_delete(shop):
    # given
    body = {
        "process_id": shop["process"].pk,
        "start": "2026-11-04T00:00:00Z",
        "end": "2026-11-05T00:00:00Z",
        "series": "volume",
        "kind": "percent",
        "value": "30",
        "reason": "Campaign day",
    }
    # when
    created = shop["planner"].post(
        f"{V1}/forecast-adjustments", body, content_type="application/json"
    )
    pk = created.json()["id"]
    listed = shop["planner"].get(f"{V1}/forecast-adjustments", {"process_id": shop["process"].pk})
    one = shop["planner"].get(f"{V1}/forecast-adjustments/{pk}")
    deleted = shop["planner"].delete(f"{V1}/forecast-adjustments/{pk}")
    # then
    assert created.status_code == 201, created.content
    assert created.json()["value"] == "30.00"
    assert [a["id"] for a in listed.json()["items"]] == [pk]
    assert one.json()["reason"] == "Campaign day"
    assert deleted.status_code == 204
    assert not ForecastAdjustment.objects.exists()


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"series": "calls"}, "series"),
        ({"end": "2026-11-03T00:00:00Z"}, "end"),
        ({"start": "2026-11-04T00:00:00"}, "start"),  # no time zone
        ({"value": "0"}, "value"),
        ({"reason": ""}, "reason"),
    ],
)
def test_a_bad_adjustment_names_its_field(shop, changes, field):
    body = {
        "process_id": shop["process"].pk,
        "start": "2026-11-04T00:00:00Z",
        "end": "2026-11-05T00:00:00Z",
        "series": "volume",
        "kind": "percent",
        "value": "30",
        "reason": "Campaign day",
        **changes,
    }
    response = shop["planner"].post(
        f"{V1}/forecast-adjustments", body, content_type="application/json"
    )
    assert response.status_code == 422
    assert field in fields_of(response)


# ------------------------------------------------------------------ staffing targets


def test_staffing_target_put_then_read(shop):
    # when
    put = shop["planner"].put(
        f"{V1}/processes/{shop['process'].pk}/staffing-target",
        {"service_level": "0.9", "answer_target_s": 30, "shrinkage": "0.25"},
        content_type="application/json",
    )
    listed = shop["planner"].get(f"{V1}/staffing-targets")
    one = shop["planner"].get(f"{V1}/staffing-targets/{put.json()['id']}")
    # then
    assert put.status_code == 200, put.content
    assert (put.json()["service_level"], put.json()["max_occupancy"]) == ("0.900", None)
    assert [t["process_id"] for t in listed.json()["items"]] == [shop["process"].pk]
    assert one.json()["answer_target_s"] == 30


def test_a_bad_staffing_target_names_its_fields(shop):
    response = shop["planner"].put(
        f"{V1}/processes/{shop['process'].pk}/staffing-target",
        {"service_level": "1.5", "answer_target_s": -1, "shrinkage": "0.3"},
        content_type="application/json",
    )
    assert response.status_code == 422
    assert set(fields_of(response)) == {"service_level", "answer_target_s"}
    assert not StaffingTarget.objects.exists()


def test_another_providers_process_has_no_staffing_target_to_set(shop):
    other = api_client(key_for(make_provider("Initech"), "admin"))
    response = other.put(
        f"{V1}/processes/{shop['process'].pk}/staffing-target",
        {"service_level": "0.8", "answer_target_s": 20, "shrinkage": "0.3"},
        content_type="application/json",
    )
    assert response.status_code == 404
    assert forecast_services.MANAGE == "forecast.manage"
