"""Scheduling through HTTP: `/api/v1/schedules` and its shifts, coverage, publish and
roster; `/shift-templates`; `/my-shifts`; `/time-off` and its decision."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from offload.tenancy.tests.factories import api_client, key_for, make_api_key, make_client
from offload.workers.models import Worker
from offload.workers.tests.factories import make_agent
from offload.workforce.models import Schedule, TimeOffRequest
from offload.workforce.tests.schedule_factories import (
    MONDAY_9_MANILA,
    Floor,
    make_floor,
    make_schedule,
)

pytestmark = pytest.mark.django_db

V1 = "/api/v1"
PROBLEM = "application/problem+json"
MONDAY = MONDAY_9_MANILA.isoformat().replace("+00:00", "Z")


def send(client: Client, method: str, url: str, body: dict[str, Any]) -> Any:
    return client.generic(method, url, json.dumps(body), content_type="application/json")


def errors_of(response: Any) -> list[str]:
    assert response["Content-Type"] == PROBLEM, response.content
    return [e["field"] for e in response.json()["errors"]]


def as_worker(worker: Worker) -> Client:
    return api_client(make_api_key(worker.provider, user=worker.user)[1])


def body(floor: Floor, agents: int = 2, **extra: Any) -> dict[str, Any]:
    return {
        "start": MONDAY,
        "days": 1,
        "name": "Monday",
        "requirements": [
            {
                "process_id": floor.process.pk,
                "start": (MONDAY_9_MANILA + timedelta(minutes=30 * k)).isoformat(),
                "agents": agents,
            }
            for k in range(16)
        ],
        **extra,
    }


def test_schedule_generate_publish_and_roster_through_http():
    # given a planner of a site with three agents
    floor = make_floor()
    planner = api_client(key_for(floor.provider, "wfm_planner"))

    # when two agents are wanted 09:00-17:00 Manila on Monday
    created = send(planner, "POST", f"{V1}/schedules", body(floor))

    # then the schedule is solved: two shifts, 160.00, nobody short
    assert created.status_code == 201, created.content
    schedule = created.json()
    assert (schedule["solve_state"], schedule["solver_status"]) == ("solved", "OPTIMAL")
    assert (schedule["shift_count"], schedule["under_staffed"], schedule["total_cost"]) == (
        2,
        0,
        "160.00",
    )
    assert schedule["cost_per_site"] == {str(floor.site.pk): "160.00"}
    sid = schedule["id"]

    # and its shifts show the site's local start
    shifts = planner.get(f"{V1}/schedules/{sid}/shifts").json()["items"]
    assert [s["local_start"] for s in shifts] == ["2026-11-23T09:00:00+08:00"] * 2
    # and its coverage meets the requirement at every interval
    coverage = planner.get(f"{V1}/schedules/{sid}/coverage").json()["items"]
    assert len(coverage) == 16
    assert all(row["scheduled"] == row["required"] == 2 for row in coverage)

    # when published and rostered
    published = send(planner, "POST", f"{V1}/schedules/{sid}/publish", {})
    rostered = send(planner, "POST", f"{V1}/schedules/{sid}/roster", {})

    # then
    assert published.json()["status"] == "published"
    assert rostered.json()["unfilled_shifts"] == 0
    workers = {s["worker_id"] for s in planner.get(f"{V1}/schedules/{sid}/shifts").json()["items"]}
    assert len(workers) == 2
    assert None not in workers


def test_bad_schedule_requests_are_422_naming_the_field():
    floor = make_floor()
    planner = api_client(key_for(floor.provider, "wfm_planner"))
    unaligned = send(planner, "POST", f"{V1}/schedules", body(floor, start="2026-11-23T01:10:00Z"))
    assert unaligned.status_code == 422
    assert errors_of(unaligned) == ["start"]
    foreign = body(floor)
    foreign["requirements"][0]["process_id"] = 2**40
    assert errors_of(send(planner, "POST", f"{V1}/schedules", foreign)) == [
        "requirements.process_id"
    ]
    no_days = send(planner, "POST", f"{V1}/schedules", body(floor, days=0))
    assert no_days.status_code == 422
    assert [f.split(".")[-1] for f in errors_of(no_days)] == ["days"]
    assert Schedule.objects.count() == 0


def test_agents_and_clients_do_not_plan():
    floor = make_floor()
    agent = as_worker(floor.agents[0])
    assert send(agent, "POST", f"{V1}/schedules", body(floor)).status_code == 403
    client = api_client(key_for(make_client(), "client_admin"))
    assert client.get(f"{V1}/schedules").json()["items"] == []
    assert (
        send(
            client, "POST", f"{V1}/shift-templates", {"name": "x", "length_minutes": 480}
        ).status_code
        == 403
    )


def test_schedule_list_reads_a_fixed_number_of_queries():
    floor = make_floor()
    planner = api_client(key_for(floor.provider, "wfm_planner"))
    make_schedule(floor)
    planner.get(f"{V1}/schedules")  # the key's first use is recorded once
    with CaptureQueriesContext(connection) as one:
        assert len(planner.get(f"{V1}/schedules").json()["items"]) == 1
    make_schedule(floor)
    make_schedule(floor)
    with CaptureQueriesContext(connection) as three:
        assert len(planner.get(f"{V1}/schedules").json()["items"]) == 3
    assert len(three) == len(one)


def test_shift_templates_are_created_and_checked():
    floor = make_floor()
    planner = api_client(key_for(floor.provider, "wfm_planner"))
    created = send(
        planner,
        "POST",
        f"{V1}/shift-templates",
        {"name": "10 h", "length_minutes": 600, "break_minutes": 60, "break_latest_minutes": 360},
    )
    assert created.status_code == 201, created.content
    assert (
        planner.get(f"{V1}/shift-templates/{created.json()['id']}").json()["length_minutes"] == 600
    )
    bad = send(
        planner,
        "POST",
        f"{V1}/shift-templates",
        {
            "name": "odd",
            "length_minutes": 485,
            "break_minutes": 30,
            "break_earliest_minutes": 400,
            "break_latest_minutes": 420,
        },
    )
    assert errors_of(bad) == ["length_minutes", "break_latest_minutes"]


def test_an_agent_asks_for_time_off_sees_its_own_and_its_shifts(monkeypatch):
    # given a published, rostered Monday and its agent's own key
    floor = make_floor(agents=1)
    schedule = make_schedule(floor)
    planner = api_client(key_for(floor.provider, "wfm_planner"))
    send(planner, "POST", f"{V1}/schedules/{schedule.pk}/publish", {})
    send(planner, "POST", f"{V1}/schedules/{schedule.pk}/roster", {})
    agent = as_worker(floor.agents[0])

    # when the agent asks for Monday off without naming itself
    asked = send(
        agent,
        "POST",
        f"{V1}/time-off",
        {
            "start": MONDAY,
            "end": (MONDAY_9_MANILA + timedelta(hours=8)).isoformat(),
            "reason": "Wedding",
        },
    )

    # then it is its own request, and the planner's decision shows the cost
    assert asked.status_code == 201, asked.content
    assert asked.json()["worker_id"] == floor.agents[0].pk
    other = make_agent(floor.provider, site=floor.site, processes=[floor.process])
    TimeOffRequest.objects.create(
        provider=floor.provider,
        worker=other,
        start=MONDAY_9_MANILA,
        end=MONDAY_9_MANILA + timedelta(hours=1),
    )
    assert [r["id"] for r in agent.get(f"{V1}/time-off").json()["items"]] == [asked.json()["id"]]
    assert len(planner.get(f"{V1}/time-off").json()["items"]) == 2
    decided = send(
        planner, "POST", f"{V1}/time-off/{asked.json()['id']}/decide", {"decision": "rejected"}
    )
    assert decided.json()["status"] == "rejected"
    assert len(decided.json()["coverage_cost"]) == 16

    # and /my-shifts lists the agent's own shift when the schedule is current
    from offload.workforce import schedules_api

    class Clock:
        @staticmethod
        def now(tz=None):
            return MONDAY_9_MANILA

    monkeypatch.setattr(schedules_api, "datetime", Clock)
    mine = agent.get(f"{V1}/my-shifts").json()["items"]
    assert [(s["worker_id"], s["start"]) for s in mine] == [(floor.agents[0].pk, MONDAY)]
    assert planner.get(f"{V1}/my-shifts").json()["items"] == []


def test_a_planner_names_the_agent_and_a_bad_span_is_422():
    floor = make_floor(agents=1)
    planner = api_client(key_for(floor.provider, "wfm_planner"))
    backwards = send(
        planner,
        "POST",
        f"{V1}/time-off",
        {"worker_id": floor.agents[0].pk, "start": MONDAY, "end": "2026-11-22T00:00:00Z"},
    )
    assert errors_of(backwards) == ["end"]
    not_an_agent = send(
        planner, "POST", f"{V1}/time-off", {"start": MONDAY, "end": "2026-11-24T00:00:00Z"}
    )
    assert errors_of(not_an_agent) == ["worker_id"]
