"""Forecast pages: the list and its generate form, a forecast with its chart and
adjustments, intraday; who may see them."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.test import Client

from offload.contracts.tests.factories import make_engagement
from offload.tenancy.models import Organisation
from offload.tenancy.tests.factories import make_client, make_provider, make_user
from offload.work.tests.factories import make_process
from offload.workforce import forecast_services
from offload.workforce.models import Forecast, ForecastAdjustment
from offload.workforce.tests.factories import make_actuals, make_adjustment, make_forecast

pytestmark = pytest.mark.django_db

MONDAY = datetime(2026, 11, 2, tzinfo=UTC)
HALF = timedelta(minutes=30)


def signed_in(org: Organisation, *roles: str) -> Client:
    client = Client()
    client.force_login(make_user(org, *roles))
    return client


@pytest.fixture
def shop() -> dict[str, Any]:
    provider = make_provider("Northwind", timezone="UTC")
    acme = make_client("Acme")
    process = make_process(engagement=make_engagement(acme, provider), name="Acme chat")
    return {
        "provider": provider,
        "acme": acme,
        "process": process,
        "planner": signed_in(provider, "wfm_planner"),
    }


def chart_data(html: str, element_id: str) -> dict[str, Any]:
    marker = f'<script id="{element_id}" type="application/json">'
    start = html.index(marker) + len(marker)
    data: dict[str, Any] = json.loads(html[start : html.index("</script>", start)])
    return data


# ------------------------------------------------------------------ the list


def test_the_list_shows_forecasts_with_their_models_and_the_nav_link(shop):
    # given
    make_forecast(shop["process"], MONDAY, [1.0])
    # when
    response = shop["planner"].get("/forecasts/")
    # then
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-testid="nav-forecasts"' in html
    assert html.count('data-testid="forecast-row"') == 1
    assert "seasonal_naive (0.100)" in html


def test_the_generate_form_makes_a_forecast_and_opens_it(shop):
    # when
    response = shop["planner"].post(
        "/forecasts/",
        {"process": shop["process"].pk, "start_date": "2026-11-02", "days": "2"},
    )
    # then
    forecast = Forecast.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/forecasts/{forecast.pk}/"
    assert forecast.status == "ready"
    assert forecast.intervals.count() == 96


def test_the_generate_form_shows_each_bad_field(shop):
    # when
    response = shop["planner"].post(
        "/forecasts/", {"process": "999999", "start_date": "someday", "days": "x"}
    )
    # then
    assert response.status_code == 422
    html = response.content.decode()
    for field in ("process_id", "start_date", "days"):
        assert f'data-testid="error-{field}"' in html, field
    assert not Forecast.objects.exists()


def test_a_horizon_too_long_is_shown_next_to_days(shop):
    response = shop["planner"].post(
        "/forecasts/", {"process": shop["process"].pk, "start_date": "2026-11-02", "days": "99"}
    )
    assert response.status_code == 422
    assert forecast_services.BAD_DAYS in response.content.decode()


def test_a_client_is_sent_home_and_sees_no_nav_link(shop):
    client = signed_in(shop["acme"], "client_admin")
    response = client.get("/forecasts/")
    assert response.status_code == 302
    home = client.get("/", follow=True)
    assert 'data-testid="nav-forecasts"' not in home.content.decode()


def test_an_agent_gets_the_not_allowed_page(shop):
    response = signed_in(shop["provider"], "agent").get("/forecasts/")
    assert response.status_code == 403
    assert 'data-testid="forecast-not-allowed"' in response.content.decode()


# ------------------------------------------------------------------ one forecast


def test_the_forecast_page_charts_base_adjusted_and_last_weeks_actuals(shop):
    # given: 10 forecast; +30 % on the second interval; 7 arrived a week before
    process = shop["process"]
    forecast = make_forecast(process, MONDAY, [10.0, 10.0])
    make_adjustment(process, MONDAY + HALF, MONDAY + 2 * HALF, value="30", reason="Launch")
    make_actuals(process, MONDAY - timedelta(weeks=1), [7, 7])
    # when
    response = shop["planner"].get(f"/forecasts/{forecast.pk}/")
    # then
    assert response.status_code == 200
    html = response.content.decode()
    assert "vendor/chart.js/chart.umd.min.js" in html
    data = chart_data(html, "forecast-chart-data")
    assert data["volume_base"] == [10.0, 10.0]
    assert data["volume"] == [10.0, 13.0]
    assert data["last_week"] == [7, 7]
    assert data["labels"] == ["Mon 02 Nov 00:00", "Mon 02 Nov 00:30"]
    assert html.count('data-testid="adjustment-row"') == 1
    assert "Launch" in html
    assert 'data-testid="volume-wape">0.100' in html


def test_the_adjustment_form_adds_one_in_the_providers_time_zone(shop):
    # given: the provider in Manila (UTC+8)
    provider = shop["provider"]
    provider.timezone = "Asia/Manila"
    provider.save()
    forecast = make_forecast(shop["process"], MONDAY, [10.0])
    # when
    response = shop["planner"].post(
        f"/forecasts/{forecast.pk}/",
        {
            "start": "2026-11-02T08:00",
            "end": "2026-11-02T20:00",
            "series": "volume",
            "kind": "percent",
            "value": "30",
            "reason": "Campaign day",
        },
    )
    # then
    assert response.status_code == 302
    adjustment = ForecastAdjustment.objects.get()
    assert adjustment.start == MONDAY
    assert adjustment.end == MONDAY + timedelta(hours=12)


def test_the_adjustment_form_shows_its_field_errors(shop):
    forecast = make_forecast(shop["process"], MONDAY, [10.0])
    response = shop["planner"].post(
        f"/forecasts/{forecast.pk}/",
        {
            "start": "2026-11-02T08:00",
            "end": "2026-11-02T07:00",
            "series": "calls",
            "kind": "percent",
            "value": "lots",
            "reason": "",
        },
    )
    assert response.status_code == 422
    html = response.content.decode()
    for field in ("series", "value"):
        assert f'data-testid="error-{field}"' in html, field
    assert not ForecastAdjustment.objects.exists()


def test_a_team_lead_reads_the_forecast_but_may_not_adjust_it(shop):
    forecast = make_forecast(shop["process"], MONDAY, [10.0])
    lead = signed_in(shop["provider"], "team_lead")
    assert lead.get(f"/forecasts/{forecast.pk}/").status_code == 200
    response = lead.post(
        f"/forecasts/{forecast.pk}/",
        {
            "start": "2026-11-02T08:00",
            "end": "2026-11-02T09:00",
            "series": "volume",
            "kind": "percent",
            "value": "10",
            "reason": "x",
        },
    )
    assert response.status_code == 403
    assert "requires one of the roles" in response.content.decode()
    assert not ForecastAdjustment.objects.exists()


def test_removing_an_adjustment(shop):
    forecast = make_forecast(shop["process"], MONDAY, [10.0])
    adjustment = make_adjustment(shop["process"], MONDAY)
    url = f"/forecasts/{forecast.pk}/adjustments/{adjustment.pk}/delete/"
    assert shop["planner"].get(url).status_code == 302
    assert ForecastAdjustment.objects.exists()
    response = shop["planner"].post(url)
    assert response.status_code == 302
    assert not ForecastAdjustment.objects.exists()


def test_a_client_gets_a_404_for_a_forecast_of_its_own_process(shop):
    forecast = make_forecast(shop["process"], MONDAY, [10.0])
    client = signed_in(shop["acme"], "client_admin")
    assert client.get(f"/forecasts/{forecast.pk}/").status_code == 404


# ------------------------------------------------------------------ intraday


def test_intraday_shows_actuals_reforecast_and_gap(shop):
    # given: yesterday-and-before is over; a day of 10 per interval, 20 arrived twice
    process = shop["process"]
    make_forecast(process, MONDAY, [10.0] * 48)
    make_actuals(process, MONDAY, [20, 20])
    # when
    response = shop["planner"].get(
        "/forecasts/intraday/", {"process": process.pk, "date": "2026-11-02"}
    )
    # then
    assert response.status_code == 200
    html = response.content.decode()
    assert html.count('data-testid="intraday-row"') == 48
    assert 'data-testid="actual-total">40<' in html
    assert 'data-testid="forecast-total">480<' in html
    data = chart_data(html, "intraday-chart-data")
    assert data["actual"][:3] == [20, 20, 0]
    assert data["scheduled"] == [0.0] * 48


def test_intraday_names_a_bad_date_and_shows_today(shop):
    response = shop["planner"].get(
        "/forecasts/intraday/", {"process": shop["process"].pk, "date": "tomorrow"}
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-testid="error-date"' in html
    assert 'data-testid="no-forecast"' in html


def test_intraday_for_a_provider_without_processes():
    response = signed_in(make_provider("Empty"), "admin").get("/forecasts/intraday/")
    assert response.status_code == 200
    assert 'data-testid="no-process"' in response.content.decode()
