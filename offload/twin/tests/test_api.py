"""/api/v1/twin: scenarios, runs, sweeps, comparisons and the live export, through HTTP."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from offload.tenancy.tests.factories import api_client, key_for, make_client, make_provider
from offload.twin import live, services
from offload.twin.models import RunStatus, Scenario, ScenarioRun
from offload.twin.schemas import BAD_REPLAY_FROM
from offload.twin.tests.factories import (
    START,
    make_history_item,
    make_live,
    make_scenario,
    recent_replay_day,
    tiny_scenario,
)

pytestmark = pytest.mark.django_db
PROBLEM = "application/problem+json"
V1 = "/api/v1/twin"


def test_a_planner_creates_a_scenario_from_live_with_changes():
    # given
    world = make_live()
    client = api_client(key_for(world.provider, "wfm_planner"))
    # when
    response = client.post(
        f"{V1}/scenarios",
        {
            "name": "Spanish chat to Monterrey",
            "start": START.isoformat(),
            "days": 1,
            "changes": [
                {
                    "kind": "move_work",
                    "process": world.chat.pk,
                    "language": "es",
                    "site": "Monterrey",
                }
            ],
        },
        content_type="application/json",
    )
    # then
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["source"] == "live"
    assert body["changes"][0]["kind"] == "move_work"
    assert [p["name"] for p in body["built"]["processes"]] == ["Chat", "Chat (es)"]
    assert Scenario.objects.get(pk=body["id"]).provider == world.provider


def test_a_bad_change_is_a_problem_naming_the_change_field():
    # given
    world = make_live()
    client = api_client(key_for(world.provider, "ops_manager"))
    # when
    response = client.post(
        f"{V1}/scenarios",
        {
            "name": "x",
            "days": 1,
            "changes": [{"kind": "remove_agents", "site": "Manila", "count": 5}],
        },
        content_type="application/json",
    )
    # then
    assert response.status_code == 422
    assert response["Content-Type"] == PROBLEM
    assert response.json()["errors"] == [
        {"field": "changes[0].count", "message": "site 'Manila' has only 1 agents"}
    ]


def test_a_team_lead_reads_but_does_not_write_and_a_client_sees_nothing():
    # given
    provider = make_provider()
    scenario = make_scenario(provider, uploaded=tiny_scenario())
    lead = api_client(key_for(provider, "team_lead"))
    client = api_client(key_for(make_client(), "client_admin"))
    # when
    read = lead.get(f"{V1}/scenarios/{scenario.pk}")
    write = lead.post(f"{V1}/scenarios/{scenario.pk}/run", {}, content_type="application/json")
    foreign = client.get(f"{V1}/scenarios/{scenario.pk}")
    listed = client.get(f"{V1}/scenarios")
    # then
    assert read.status_code == 200
    assert write.status_code == 403
    assert foreign.status_code == 404
    assert listed.json()["items"] == []


def test_an_agent_may_not_read_the_twin():
    provider = make_provider()
    response = api_client(key_for(provider, "agent")).get(f"{V1}/scenarios")
    assert response.status_code == 403
    assert response["Content-Type"] == PROBLEM


def test_a_run_is_queued_and_polled_for_its_progress_and_result():
    # given
    provider = make_provider()
    scenario = make_scenario(provider, uploaded=tiny_scenario())
    client = api_client(key_for(provider, "admin"))
    # when: the immediate backend runs it before the answer
    queued = client.post(
        f"{V1}/scenarios/{scenario.pk}/run", {"replications": 2}, content_type="application/json"
    )
    run = client.get(f"{V1}/runs/{queued.json()['id']}")
    # then
    assert queued.status_code == 202
    assert run.status_code == 200
    body = run.json()
    assert (body["status"], body["progress"]) == ("succeeded", 1.0)
    assert body["result"]["overall"]["arrivals"]["mean"] == 40.0


def test_the_run_list_reads_in_a_fixed_number_of_queries():
    # given
    provider = make_provider()
    scenario = make_scenario(provider, uploaded=tiny_scenario())
    for _ in range(3):
        ScenarioRun.objects.create(
            provider=provider, scenario=scenario, seed=1, replications=1, enqueued_at=START
        )
    client = api_client(key_for(provider, "admin"))
    client.get(f"{V1}/runs")  # warm: the key's lookups
    # when
    with CaptureQueriesContext(connection) as few:
        response = client.get(f"{V1}/runs?scenario_id={scenario.pk}")
    ScenarioRun.objects.create(
        provider=provider, scenario=scenario, seed=1, replications=1, enqueued_at=START
    )
    with CaptureQueriesContext(connection) as more:
        client.get(f"{V1}/runs?scenario_id={scenario.pk}")
    # then
    assert len(response.json()["items"]) == 3
    assert len(more) == len(few)


def test_a_sweep_runs_each_entry_and_names_an_unknown_scenario():
    # given
    provider = make_provider()
    a = make_scenario(provider, name="A", uploaded=tiny_scenario())
    b = make_scenario(provider, name="B", uploaded=tiny_scenario(agents=3))
    other = make_scenario(make_provider(), name="theirs", uploaded=tiny_scenario())
    client = api_client(key_for(provider, "wfm_planner"))
    # when
    ok = client.post(
        f"{V1}/sweeps",
        {"runs": [{"scenario_id": a.pk}, {"scenario_id": b.pk, "seed": 3}], "replications": 2},
        content_type="application/json",
    )
    bad = client.post(
        f"{V1}/sweeps",
        {"runs": [{"scenario_id": a.pk}, {"scenario_id": other.pk}]},
        content_type="application/json",
    )
    # then
    assert ok.status_code == 202
    assert [(r["scenario_id"], r["seed"], r["status"]) for r in ok.json()["runs"]] == [
        (a.pk, 1, "succeeded"),
        (b.pk, 3, "succeeded"),
    ]
    assert bad.status_code == 422
    assert [e["field"] for e in bad.json()["errors"]] == ["runs[1].scenario_id"]
    assert ScenarioRun.objects.filter(scenario=other).count() == 0


def test_compare_puts_runs_side_by_side_with_half_widths_and_deltas():
    # given: two, then three agents for the same arrivals
    provider = make_provider()
    two = make_scenario(provider, name="Two", uploaded=tiny_scenario(replications=3))
    three = make_scenario(provider, name="Three", uploaded=tiny_scenario(agents=3, replications=3))
    first = services.scenario_run(actor=None, scenario=two)
    second = services.scenario_run(actor=None, scenario=three)
    client = api_client(key_for(provider, "team_lead"))
    # when
    response = client.get(f"{V1}/runs/{first.pk}/compare?runs={second.pk}")
    # then
    assert response.status_code == 200
    body = response.json()
    assert [r["id"] for r in body["runs"]] == [first.pk, second.pk]
    rows = {r["key"]: r for r in body["rows"]}
    asa = rows["asa_s"]["cells"]
    assert asa[0]["half_width"] is not None
    assert asa[0]["delta"] is None
    assert asa[1]["delta"] == pytest.approx(asa[1]["mean"] - asa[0]["mean"])
    assert asa[1]["mean"] < asa[0]["mean"]  # a third agent answers sooner
    assert "service_level.first_response" in rows
    assert "occupancy.main" in rows
    assert len(body["series"]) == 2
    series = body["series"][0]
    assert set(series) >= {"starts", "service_level", "backlog", "occupancy", "asa_s"}
    assert len(series["starts"]) == len(series["backlog"]) == len(series["asa_s"])


def test_compare_refuses_a_run_list_that_is_not_ids_or_not_visible():
    # given
    provider = make_provider()
    run = services.scenario_run(
        actor=None, scenario=make_scenario(provider, uploaded=tiny_scenario())
    )
    theirs = services.scenario_run(
        actor=None, scenario=make_scenario(make_provider(), uploaded=tiny_scenario())
    )
    client = api_client(key_for(provider, "admin"))
    # when
    text = client.get(f"{V1}/runs/{run.pk}/compare?runs=two")
    foreign = client.get(f"{V1}/runs/{run.pk}/compare?runs={theirs.pk}")
    # then
    assert text.status_code == 422
    assert [e["field"] for e in text.json()["errors"]] == ["runs"]
    assert foreign.status_code == 422
    assert theirs.status != RunStatus.QUEUED


def test_live_returns_the_configuration_as_a_scenario_file_and_stores_nothing():
    # given
    world = make_live()
    client = api_client(key_for(world.provider, "team_lead"))
    # when
    response = client.post(
        f"{V1}/live", {"start": START.isoformat(), "days": 2}, content_type="application/json"
    )
    # then
    assert response.status_code == 200
    body = response.json()
    assert body["scenario"]["horizon_s"] == 2 * 86_400
    assert {a["site"] for a in body["scenario"]["agents"]} == {"Manila", "Monterrey"}
    assert body["notes"]
    assert Scenario.objects.count() == 0


def test_a_scenario_replays_a_past_day_and_its_run_completes():
    # given: three chat items on a past day, one handled in 300 + 60 s
    world = make_live()
    day, since = recent_replay_day()
    make_history_item(world.chat, since + timedelta(hours=1), priority="P1", leases=((300, 60),))
    make_history_item(world.chat, since + timedelta(hours=2), language="es")
    make_history_item(world.chat, since + timedelta(hours=9))
    client = api_client(key_for(world.provider, "wfm_planner"))
    # when
    response = client.post(
        f"{V1}/scenarios",
        {
            "name": "Last Thursday again",
            "start": START.isoformat(),
            "days": 1,
            "replay_from": day.isoformat(),
            "replications": 2,
        },
        content_type="application/json",
    )
    # then: the day's items, an hour apart as they came, on the scenario's period
    assert response.status_code == 201, response.content
    body = response.json()
    replay = body["built"]["replay"]
    assert [(r["at_s"], r["priority"], r["language"], r["aht_s"]) for r in replay] == [
        (3600.0, 1, "", 360.0),
        (7200.0, 3, "es", None),
        (32_400.0, 3, "", None),
    ]
    assert body["built"]["horizon_s"] == 86_400.0
    assert any(n.startswith("replay: the 3 items created from") for n in body["notes"])
    # and a run of it completes, with the three items offered in every replication
    queued = client.post(
        f"{V1}/scenarios/{body['id']}/run", {}, content_type="application/json"
    ).json()
    run = client.get(f"{V1}/runs/{queued['id']}").json()
    assert run["status"] == "succeeded", run["error"]
    assert run["result"]["overall"]["arrivals"]["values"] == [3.0, 3.0]


def test_volume_on_a_replay_thins_it_by_the_scenarios_seed():
    # given: 40 items of a past day
    world = make_live()
    day, since = recent_replay_day()
    for i in range(40):
        make_history_item(world.chat, since + timedelta(minutes=15 * i))
    client = api_client(key_for(world.provider, "wfm_planner"))
    body = {
        "name": "Half the day",
        "start": START.isoformat(),
        "days": 1,
        "replay_from": day.isoformat(),
        "changes": [{"kind": "volume", "percent": -50}],
    }
    # when
    a = client.post(f"{V1}/scenarios", body, content_type="application/json").json()
    b = client.post(f"{V1}/scenarios", body, content_type="application/json").json()
    c = client.post(f"{V1}/scenarios", {**body, "seed": 2}, content_type="application/json")
    # then: the same seed keeps the same arrivals; another seed others
    assert len(a["built"]["replay"]) < 40
    assert a["built"]["replay"] == b["built"]["replay"]
    assert c.json()["built"]["replay"] != a["built"]["replay"]


@pytest.mark.parametrize(
    ("replay_from", "extra", "message"),
    [
        ("last week", {}, BAD_REPLAY_FROM),
        (12, {}, BAD_REPLAY_FROM),
        ("2026-02-30", {}, BAD_REPLAY_FROM),
        ("today", {}, live.REPLAY_NOT_PAST.format(days=1)),
        ("9999-12-31", {}, live.REPLAY_NOT_PAST.format(days=1)),
        ("9999-12-31T23:00:00+00:00", {}, live.REPLAY_OUT_OF_RANGE),
        ("past", {"scenario": tiny_scenario()}, live.REPLAY_UPLOADED),
    ],
)
def test_a_bad_replay_from_is_a_problem_naming_it(replay_from, extra, message):
    # given
    world = make_live()
    client = api_client(key_for(world.provider, "wfm_planner"))
    if replay_from == "today":
        replay_from = recent_replay_day(0)[0].isoformat()
    elif replay_from == "past":
        replay_from = recent_replay_day()[0].isoformat()
    # when
    response = client.post(
        f"{V1}/scenarios",
        {"name": "x", "days": 1, "replay_from": replay_from, **extra},
        content_type="application/json",
    )
    # then
    assert response.status_code == 422
    assert response["Content-Type"] == PROBLEM
    assert response.json()["errors"] == [{"field": "replay_from", "message": message}]
    assert not Scenario.objects.exists()


def test_the_live_export_replays_a_past_window_and_names_a_bad_one():
    # given items created on a past day
    world = make_live()
    day, _ = recent_replay_day()
    client = api_client(key_for(world.provider, "wfm_planner"))
    # when
    good = client.post(
        f"{V1}/live",
        {"start": START.isoformat(), "days": 1, "replay_from": day.isoformat()},
        content_type="application/json",
    )
    bad = client.post(
        f"{V1}/live",
        {"days": 1, "replay_from": recent_replay_day(0)[0].isoformat()},
        content_type="application/json",
    )
    # then
    assert good.status_code == 200
    assert good.json()["scenario"]["replay"] is not None
    assert bad.status_code == 422
    assert bad.json()["errors"] == [
        {"field": "replay_from", "message": live.REPLAY_NOT_PAST.format(days=1)}
    ]
