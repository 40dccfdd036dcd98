"""The twin's pages: the list, the new-scenario form with its changes, a scenario and
its Run button, a run's self-refreshing progress, and the comparison with charts."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.test import Client

from offload.tenancy.tests.factories import make_client, make_user
from offload.twin import services
from offload.twin.models import RunStatus, Scenario, ScenarioRun
from offload.twin.tests.factories import (
    make_history_item,
    make_live,
    make_scenario,
    recent_replay_day,
    tiny_scenario,
)

pytestmark = pytest.mark.django_db


def signed_in(organisation, *roles) -> Client:
    browser = Client()
    browser.force_login(make_user(organisation, *roles))
    return browser


def test_the_list_shows_scenarios_and_the_nav_link_to_planners():
    # given
    world = make_live()
    make_scenario(world.provider, name="Five more in Monterrey")
    browser = signed_in(world.provider, "wfm_planner")
    # when
    response = browser.get("/twin/")
    # then
    body = response.content.decode()
    assert response.status_code == 200
    assert "Five more in Monterrey" in body
    assert 'data-testid="nav-twin"' in body
    assert 'data-testid="twin-new"' in body


def test_a_client_is_sent_home_and_an_agent_is_refused():
    # given
    world = make_live()
    # when
    client_page = signed_in(make_client(), "client_admin").get("/twin/")
    agent_page = signed_in(world.provider, "agent").get("/twin/")
    # then
    assert client_page.status_code == 302
    assert agent_page.status_code == 403
    assert 'data-testid="nav-twin"' not in agent_page.content.decode()


def test_the_new_scenario_form_makes_a_scenario_with_its_changes():
    # given
    world = make_live()
    browser = signed_in(world.provider, "ops_manager")
    # when: two change blocks, numbered as the page numbers them
    response = browser.post(
        "/twin/new/",
        {
            "name": "Spanish chat to Monterrey, bots on 30 %",
            "start": "2026-12-07",
            "days": "1",
            "replications": "2",
            "seed": "1",
            "c101_kind": "move_work",
            "c101_process": str(world.chat.pk),
            "c101_language": "es",
            "c101_site": "Monterrey",
            "c102_kind": "bot_share",
            "c102_process": str(world.chat.pk),
            "c102_share": "30",
        },
    )
    # then
    scenario = Scenario.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/twin/{scenario.pk}/"
    assert [c["kind"] for c in scenario.changes] == ["move_work", "bot_share"]
    assert scenario.changes[1]["share"] == 0.3
    # the period starts at midnight in the provider's time zone
    midnight = datetime(2026, 12, 7, tzinfo=ZoneInfo(world.provider.timezone))
    assert scenario.start == midnight


def test_a_bad_change_on_the_form_is_shown_on_its_block():
    # given
    world = make_live()
    browser = signed_in(world.provider, "ops_manager")
    # when
    response = browser.post(
        "/twin/new/",
        {
            "name": "x",
            "days": "1",
            "c0_kind": "remove_agents",
            "c0_site": "Manila",
            "c0_count": "9",
        },
    )
    # then
    body = response.content.decode()
    assert response.status_code == 422
    assert "changes[0].count: site &#x27;Manila&#x27; has only 1 agents" in body
    assert 'name="c0_count" min="1" max="1000" value="9"' in body
    assert Scenario.objects.count() == 0


def test_the_change_form_fragment_has_the_kinds_fields():
    # given
    world = make_live()
    browser = signed_in(world.provider, "ops_manager")
    # when
    response = browser.get("/twin/changes/form/?kind=add_agents&index=103")
    # then
    body = response.content.decode()
    assert 'name="c103_kind" value="add_agents"' in body
    assert "<option>Monterrey</option>" in body


def test_the_scenario_page_runs_it_and_the_run_page_polls_until_done(monkeypatch):
    # given: runs stay queued (no task runs them), as with a busy worker
    provider = make_live().provider
    scenario = make_scenario(provider, uploaded=tiny_scenario())
    monkeypatch.setattr(services, "_enqueue", lambda run: None)
    browser = signed_in(provider, "wfm_planner")
    # when
    page = browser.get(f"/twin/{scenario.pk}/")
    posted = browser.post(f"/twin/{scenario.pk}/")
    run = ScenarioRun.objects.get()
    progress = browser.get(f"/twin/runs/{run.pk}/", headers={"HX-Request": "true"})
    # then
    assert 'data-testid="twin-run-form"' in page.content.decode()
    assert posted["Location"] == f"/twin/runs/{run.pk}/"
    fragment = progress.content.decode()
    assert 'hx-trigger="every 2s"' in fragment
    assert "Queued" in fragment
    assert "<html" not in fragment
    # when it finishes, the fragment stops polling and asks for the whole page
    ScenarioRun.objects.filter(pk=run.pk).update(status=RunStatus.FAILED, error="boom")
    done = browser.get(f"/twin/runs/{run.pk}/", headers={"HX-Request": "true"})
    assert "hx-trigger" not in done.content.decode()
    assert done["HX-Refresh"] == "true"


def test_the_compare_page_shows_the_table_and_the_charts():
    # given
    provider = make_live().provider
    a = services.scenario_run(
        actor=None, scenario=make_scenario(provider, name="Two", uploaded=tiny_scenario())
    )
    b = services.scenario_run(
        actor=None, scenario=make_scenario(provider, name="Three", uploaded=tiny_scenario(agents=3))
    )
    browser = signed_in(provider, "team_lead")
    # when
    response = browser.get(f"/twin/compare/?runs={a.pk}&runs={b.pk}")
    # then
    body = response.content.decode()
    assert response.status_code == 200
    assert 'data-testid="twin-comparison"' in body
    assert "(baseline)" in body
    assert 'data-testid="twin-row-asa_s"' in body
    assert "chart.umd.min.js" in body
    for chart in ("twin-sl-chart", "twin-backlog-chart", "twin-occupancy-chart"):
        assert f'id="{chart}"' in body
    assert 'id="twin-chart-data"' in body
    # and boxes ticked newest first compare oldest first: the earlier run is the baseline
    ticked = browser.get(f"/twin/compare/?runs={b.pk}&runs={a.pk}").context["comparison"]
    written = browser.get(f"/twin/compare/?runs={b.pk},{a.pk}").context["comparison"]
    assert [r.pk for r in ticked.runs] == [a.pk, b.pk]
    assert [r.pk for r in written.runs] == [b.pk, a.pk]


def test_the_run_page_of_a_finished_run_shows_its_figures():
    # given
    provider = make_live().provider
    run = services.scenario_run(
        actor=None, scenario=make_scenario(provider, uploaded=tiny_scenario())
    )
    browser = signed_in(provider, "admin")
    # when
    response = browser.get(f"/twin/runs/{run.pk}/")
    # then
    body = response.content.decode()
    assert "Succeeded" in body
    assert 'data-testid="twin-row-service_level.first_response"' in body
    assert "hx-trigger" not in body


def test_the_new_scenario_form_offers_every_kind_of_change():
    # given
    world = make_live()
    browser = signed_in(world.provider, "wfm_planner")
    # when
    response = browser.get("/twin/new/")
    # then
    body = response.content.decode()
    assert response.status_code == 200
    for kind in ("add_agents", "move_work", "bot_share", "routing_rule", "volume", "aht"):
        assert f'<option value="{kind}">' in body
    assert 'hx-get="/twin/changes/form/"' in body


def test_the_scenario_page_says_its_changes_in_words_and_its_notes():
    # given
    world = make_live()
    scenario = make_scenario(
        world.provider,
        changes=[
            {"kind": "move_work", "process": world.chat.pk, "language": "es", "site": "Monterrey"}
        ],
    )
    browser = signed_in(world.provider, "team_lead")
    # when
    response = browser.get(f"/twin/{scenario.pk}/")
    # then: a team lead reads it, without the Run button
    body = response.content.decode()
    assert response.status_code == 200
    assert "Move Chat (es) to Monterrey" in body
    assert "every agent is always on" in body
    assert 'data-testid="twin-run-form"' not in body


def test_the_new_scenario_form_replays_a_past_day():
    # given: two chat items on a past day
    world = make_live()
    day, since = recent_replay_day()
    make_history_item(world.chat, since + timedelta(minutes=30), priority="P2", language="es")
    make_history_item(world.chat, since + timedelta(hours=5), reported=420)
    browser = signed_in(world.provider, "wfm_planner")
    # when
    response = browser.post(
        "/twin/new/",
        {
            "name": "That day again",
            "start": "2026-12-07",
            "days": "1",
            "replay_from": day.isoformat(),
        },
    )
    # then
    assert response.status_code == 302
    scenario = Scenario.objects.get()
    replay = [
        (r["at_s"], r["priority"], r["language"], r["aht_s"]) for r in scenario.built["replay"]
    ]
    assert replay == [(1800.0, 2, "es", None), (18_000.0, 3, "", 420.0)]
    assert any(n.startswith("replay: the 2 items") for n in scenario.notes)


@pytest.mark.parametrize(
    ("replay_from", "message"),
    [("23/11/2026", "must be a date (YYYY-MM-DD)"), ("today", "must be in the past")],
)
def test_a_bad_replay_date_is_shown_by_its_field(replay_from, message):
    # given
    world = make_live()
    browser = signed_in(world.provider, "ops_manager")
    if replay_from == "today":
        replay_from = recent_replay_day(0)[0].isoformat()
    # when
    response = browser.post("/twin/new/", {"name": "x", "days": "1", "replay_from": replay_from})
    # then: the error by the field, which keeps what was typed
    body = response.content.decode()
    assert response.status_code == 422
    error = body.split('data-testid="twin-replay-error">', 1)[1].split("</p>", 1)[0]
    assert error.startswith(message)
    assert f'name="replay_from" value="{replay_from}"' in body
    assert 'aria-invalid="true"' in body
    assert Scenario.objects.count() == 0


def test_the_new_scenario_form_offers_a_replay_date():
    # given
    world = make_live()
    browser = signed_in(world.provider, "wfm_planner")
    # when
    body = browser.get("/twin/new/").content.decode()
    # then
    assert '<input type="date" name="replay_from" value=""' in body
    assert 'data-testid="twin-replay-error"' not in body
