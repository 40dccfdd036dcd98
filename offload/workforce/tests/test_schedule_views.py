"""The scheduling pages: the list and its form, a schedule's chart, costs and grid in
the site's local time, and time off for agents and planners."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import Client

from offload.tenancy.models import User
from offload.tenancy.tests.factories import make_client, make_site, make_user
from offload.workers.tests.factories import make_agent
from offload.workforce import schedule_services
from offload.workforce.models import Schedule, ScheduledShift, TimeOffRequest, TimeOffStatus
from offload.workforce.tests.schedule_factories import (
    MONDAY_9_MANILA,
    make_floor,
    make_rule,
    make_schedule,
)

pytestmark = pytest.mark.django_db


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_nav_links_schedules_for_providers_only():
    floor = make_floor(agents=0)
    page = signed_in(make_user(floor.provider, "wfm_planner")).get("/schedules/")
    assert page.status_code == 200
    assert b'data-testid="nav-schedules"' in page.content
    client = signed_in(make_user(make_client(), "client_admin"))
    assert client.get("/schedules/").status_code == 302
    assert b"nav-schedules" not in client.get("/", follow=True).content


def test_the_generate_form_shows_field_errors():
    floor = make_floor(agents=0)
    planner = signed_in(make_user(floor.provider, "wfm_planner"))
    page = planner.post("/schedules/", {"start_date": "23/11/2026", "days": "x"})
    assert page.status_code == 422
    assert b'data-testid="error-start_date"' in page.content
    assert b'data-testid="error-days"' in page.content
    assert Schedule.objects.count() == 0


def test_the_generate_form_says_when_there_are_no_forecasts(monkeypatch):
    floor = make_floor(agents=0)
    from offload.workforce import forecast_selectors

    monkeypatch.setattr(forecast_selectors, "staffing_requirements", lambda **kw: [])
    planner = signed_in(make_user(floor.provider, "wfm_planner"))
    page = planner.post("/schedules/", {"start_date": "2026-11-23", "days": "7"})
    assert page.status_code == 422
    assert schedule_services.NO_REQUIREMENTS.encode() in page.content


def test_a_schedule_page_charts_coverage_costs_sites_and_draws_the_local_grid():
    # given a schedule with two shifts 09:00-17:00 Manila, rostered and published
    floor = make_floor()
    schedule = make_schedule(floor, agents=2)
    schedule_services.roster_generate(actor=None, schedule=schedule)
    planner = signed_in(make_user(floor.provider, "wfm_planner"))

    # when the page is read
    page = planner.get(f"/schedules/{schedule.pk}/")

    # then the chart holds required and scheduled per process, 48 intervals
    assert page.status_code == 200
    chart = page.context["chart"]
    (series,) = chart["series"]
    assert series["process"] == floor.process.name
    assert len(chart["labels"]) == 48
    assert len(series["required"]) == 48
    assert series["required"].count(2.0) == 16
    assert series["scheduled"] == series["required"]
    # and the cost of the site
    assert page.context["site_costs"] == [(floor.site, "160.00")]
    # and a grid in Manila time: two agents, each on from 09 to 16 local, 8 columns
    grid = page.context["grid"]
    assert grid.hours[0].hour == 9  # the horizon starts 01:00 UTC = 09:00 Manila
    assert len(grid.rows) == 2
    for row in grid.rows:
        on = [grid.hours[i].hour for i, cell in enumerate(row.cells) if cell]
        assert on == list(range(9, 17))
    assert b'data-testid="schedule-grid"' in page.content


def test_an_overnight_shift_is_drawn_across_local_midnight():
    # given a night site in Manila with a shift 22:00-06:00 local
    floor = make_floor(agents=1)
    night = make_site(floor.provider, timezone="Asia/Manila", hourly_cost=Decimal("9.00"))
    make_rule(night, [["22:00", "06:00"]] * 7)
    make_agent(floor.provider, site=night, skills={"billing": 3}, processes=[floor.process])
    start = MONDAY_9_MANILA + timedelta(hours=13)  # 22:00 Manila
    schedule = schedule_services.schedule_generate(
        actor=None,
        provider=floor.provider,
        start=MONDAY_9_MANILA,
        days=1,
        requirements=[
            schedule_services.Requirement(floor.process.pk, start + k * timedelta(minutes=30), 1)
            for k in range(16)
        ],
    )
    planner = signed_in(make_user(floor.provider, "wfm_planner"))

    # when the night site's grid is read
    page = planner.get(f"/schedules/{schedule.pk}/?site={night.pk}")

    # then its row is on from 22 through 05, across midnight
    (row,) = page.context["grid"].rows
    hours = page.context["grid"].hours
    on = [(hours[i].day, hours[i].hour) for i, cell in enumerate(row.cells) if cell]
    assert on == [(23, 22), (23, 23)] + [(24, h) for h in range(6)]


def test_publish_and_roster_buttons_and_who_may_press_them():
    floor = make_floor()
    schedule = make_schedule(floor)
    agent = signed_in(floor.agents[0].user)
    refused = agent.post(f"/schedules/{schedule.pk}/", {"action": "publish"})
    assert refused.status_code == 403
    planner = signed_in(make_user(floor.provider, "wfm_planner"))
    assert planner.post(f"/schedules/{schedule.pk}/", {"action": "publish"}).status_code == 302
    assert planner.post(f"/schedules/{schedule.pk}/", {"action": "roster"}).status_code == 302
    schedule.refresh_from_db()
    assert schedule.status == "published"
    assert schedule.rostered_at is not None
    assert planner.post(f"/schedules/{schedule.pk}/", {"action": "x"}).status_code == 422


def test_an_agent_asks_for_time_off_on_the_page_and_sees_field_errors():
    floor = make_floor(agents=1)
    agent = signed_in(floor.agents[0].user)
    bad = agent.post("/time-off/", {"start": "2026-12-24T09:00", "end": "2026-12-23T09:00"})
    assert bad.status_code == 422
    assert b'data-testid="error-end"' in bad.content
    good = agent.post(
        "/time-off/",
        {"start": "2026-12-24T00:00", "end": "2026-12-27T00:00", "reason": "Christmas"},
    )
    assert good.status_code == 302
    request = TimeOffRequest.objects.get()
    # Manila midnight is 16:00 UTC the day before: the agent's site's local time
    assert request.start.isoformat() == "2026-12-23T16:00:00+00:00"
    assert b"Christmas" in agent.get("/time-off/").content


def test_planners_see_the_queue_with_its_cost_and_decide():
    floor = make_floor(agents=1)
    schedule = make_schedule(floor)
    schedule_services.schedule_publish(actor=None, schedule=schedule)
    schedule_services.roster_generate(actor=None, schedule=schedule)
    shift = ScheduledShift.objects.get(schedule=schedule)
    request = schedule_services.time_off_request(
        actor=None, worker=floor.agents[0], start=shift.start, end=shift.end, reason="Flu"
    )
    planner = signed_in(make_user(floor.provider, "wfm_planner"))
    page = planner.get("/time-off/")
    ((queued, cost),) = page.context["queue"]
    assert queued == request
    assert len(cost) == 16
    assert b"16 intervals short" in page.content
    assert (
        planner.post(f"/time-off/{request.pk}/decide/", {"decision": "approve"}).status_code == 302
    )
    request.refresh_from_db()
    assert request.status == TimeOffStatus.APPROVED
    again = planner.post(f"/time-off/{request.pk}/decide/", {"decision": "reject"})
    assert again.status_code == 409


def test_the_chart_data_is_json_in_the_page():
    floor = make_floor()
    schedule = make_schedule(floor)
    page = signed_in(make_user(floor.provider, "ops_manager")).get(f"/schedules/{schedule.pk}/")
    script = page.content.split(b'id="schedule-chart-data" type="application/json">')[1].split(
        b"</script>"
    )[0]
    assert json.loads(script)["series"][0]["required"][0] == 1.0
