"""Site planning rules and agents' contracted hours: the services that set them, their
API (`/site-planning-rules`, `PUT /sites/{id}/planning-rule`, `/agent-contracts`,
`PUT /workers/{id}/contract`) and the rules page with its in-row contract edit."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client
from hypothesis import given
from hypothesis import strategies as st

from offload.contracts.tests.factories import make_engagement
from offload.core import errors
from offload.tenancy.models import AuditEvent, Organisation, User
from offload.tenancy.tests.factories import (
    api_client,
    key_for,
    make_client,
    make_principal,
    make_provider,
    make_site,
    make_user,
)
from offload.workers.tests.factories import make_agent, make_bot
from offload.workforce import schedule_selectors, schedule_services, scheduling
from offload.workforce.models import AgentContract, SitePlanningRule
from offload.workforce.tests.schedule_factories import make_floor

pytestmark = pytest.mark.django_db

V1 = "/api/v1"
PROBLEM = "application/problem+json"
WEEKDAYS_8_TO_8 = [["08:00", "20:00"]] * 5 + [["22:00", "06:00"], None]
ALL_WEEK = [["00:00", "24:00"]] * 7


def planner_of(provider: Any) -> Any:
    return make_principal(provider, "wfm_planner")


def set_rule(actor: Any, site: Any, **overrides: Any) -> SitePlanningRule:
    fields: dict[str, Any] = {
        "opening_hours": WEEKDAYS_8_TO_8,
        "max_days_per_week": 5,
        "min_rest_hours": 11,
    }
    fields.update(overrides)
    return schedule_services.site_planning_rule_set(actor=actor, site=site, **fields)


def refused_fields(call: Any) -> dict[str, str]:
    with pytest.raises(errors.ValidationFailed) as caught:
        call()
    return {e.field: e.message for e in caught.value.errors}


def client_of(provider: Organisation) -> Organisation:
    """A client with an engagement of `provider`: it sees the provider's sites."""
    client = make_client()
    make_engagement(client, provider)
    return client


def send(client: Client, method: str, url: str, body: dict[str, Any]) -> Any:
    return client.generic(method, url, json.dumps(body), content_type="application/json")


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


# ------------------------------------------------------------------ services: rules


def test_a_sites_rule_is_set_then_replaced_and_each_write_audited():
    # given a planner and a site without rules
    provider = make_provider()
    site = make_site(provider, timezone="Asia/Manila")
    planner = planner_of(provider)
    # when the rule is set, then replaced
    first = set_rule(planner, site)
    second = set_rule(planner, site, opening_hours=ALL_WEEK, max_days_per_week=6, min_rest_hours=10)
    # then one rule, the second's values, and two audit events with what changed
    assert first.pk == second.pk
    rule = SitePlanningRule.objects.get(site=site)
    assert rule.provider_id == provider.pk
    assert (rule.opening_hours, rule.max_days_per_week, rule.min_rest_hours) == (ALL_WEEK, 6, 10)
    created, replaced = AuditEvent.objects.filter(action="site_planning_rule.set").order_by("seq")
    assert created.changes["max_days_per_week"] == [None, 5]
    assert created.changes["opening_hours"] == [None, WEEKDAYS_8_TO_8]
    assert replaced.changes == {
        "max_days_per_week": [5, 6],
        "min_rest_hours": [11, 10],
        "opening_hours": [WEEKDAYS_8_TO_8, ALL_WEEK],
    }
    assert replaced.object_id == str(rule.pk)


def test_times_are_stored_as_hh_mm_and_read_by_the_solver_overnight_and_all_day():
    # given a site set open overnight on Monday, all day on Tuesday, closed otherwise
    provider = make_provider()
    site = make_site(provider, timezone="Asia/Manila")
    opening = [["22:00", "6:00"], ["00:00", "24:00"], None, None, None, None, None]
    # when
    rule = set_rule(planner_of(provider), site, opening_hours=opening)
    # then the stored shape is the model's, and the solver's opening is overnight/all day
    assert rule.opening_hours[:2] == [["22:00", "06:00"], ["00:00", "24:00"]]
    assert scheduling.opening_from_strings(rule.opening_hours) == (
        (22 * 60, 6 * 60),
        scheduling.ALL_DAY,
        None,
        None,
        None,
        None,
        None,
    )
    assert schedule_selectors.site_planning_rules(provider=provider)[site.pk] == rule


HALF_HOURS = st.integers(min_value=0, max_value=47)


@given(
    days=st.lists(
        st.none() | st.tuples(HALF_HOURS, st.integers(min_value=0, max_value=48)),
        min_size=7,
        max_size=7,
    )
)
def test_every_half_hour_day_is_accepted_and_read_back_by_the_solver_as_given(days):
    # given 7 days of half-hour open and close times, written without a leading zero
    def text(half_hours: int) -> str:
        return f"{half_hours // 2}:{30 * (half_hours % 2):02d}"

    given_days = [None if d is None else [text(d[0]), text(d[1])] for d in days]
    # when
    stored, problems = schedule_services.opening_hours_check(given_days)
    # then nothing is refused, and the solver opens each day when it was given
    assert problems == []
    for day, opening in zip(days, scheduling.opening_from_strings(stored), strict=True):
        if day is None:
            assert opening is None
        elif day[0] * 30 == day[1] * 30 % scheduling.DAY_MINUTES:
            assert opening == scheduling.ALL_DAY
        else:
            assert opening == (day[0] * 30, day[1] * 30)


@pytest.mark.parametrize(
    ("opening_hours", "field", "message"),
    [
        ([["08:00", "20:00"]] * 6, "opening_hours", schedule_services.OPENING_DAYS),
        ([], "opening_hours", schedule_services.OPENING_DAYS),
        ([["08:00", "20:00"]] * 6 + [["08:15", "20:00"]], "opening_hours[6]", "OPENING_DAY"),
        ([["8h", "20:00"]] + [None] * 6, "opening_hours[0]", "OPENING_DAY"),
        ([["08:00", "25:00"]] + [None] * 6, "opening_hours[0]", "OPENING_DAY"),
        ([["08:00"]] + [None] * 6, "opening_hours[0]", "OPENING_DAY"),
        ([None, ["08:00", "20:00", "22:00"]] + [None] * 5, "opening_hours[1]", "OPENING_DAY"),
        (
            [None, None, ["24:00", "08:00"]] + [None] * 4,
            "opening_hours[2]",
            schedule_services.OPENING_OPEN_24,
        ),
    ],
)
def test_bad_opening_hours_are_refused_naming_the_day(opening_hours, field, message):
    # given
    provider = make_provider()
    site = make_site(provider)
    # when / then
    problems = refused_fields(
        lambda: set_rule(planner_of(provider), site, opening_hours=opening_hours)
    )
    expected = schedule_services.OPENING_DAY if message == "OPENING_DAY" else message
    assert problems == {field: expected}
    assert not SitePlanningRule.objects.exists()


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("max_days_per_week", 0, schedule_services.MAX_DAYS_RANGE),
        ("max_days_per_week", 8, schedule_services.MAX_DAYS_RANGE),
        ("min_rest_hours", -1, schedule_services.MIN_REST_RANGE),
        ("min_rest_hours", 25, schedule_services.MIN_REST_RANGE),
    ],
)
def test_days_a_week_and_rest_out_of_range_are_refused_by_name(field, value, message):
    provider = make_provider()
    site = make_site(provider)
    problems = refused_fields(lambda: set_rule(planner_of(provider), site, **{field: value}))
    assert problems == {field: message}


def test_the_bounds_themselves_are_accepted():
    provider = make_provider()
    site = make_site(provider)
    rule = set_rule(planner_of(provider), site, max_days_per_week=7, min_rest_hours=0)
    assert (rule.max_days_per_week, rule.min_rest_hours) == (7, 0)
    rule = set_rule(planner_of(provider), site, max_days_per_week=1, min_rest_hours=24)
    assert (rule.max_days_per_week, rule.min_rest_hours) == (1, 24)


def test_another_providers_site_is_refused_and_an_agent_may_not_set_rules():
    # given
    provider, other = make_provider(), make_provider()
    site = make_site(other)
    # when / then
    assert refused_fields(lambda: set_rule(planner_of(provider), site)) == {
        "site_id": schedule_services.NOT_PROVIDERS_SITE
    }
    with pytest.raises(errors.PermissionDenied):
        set_rule(make_principal(other, "agent"), site)
    assert not SitePlanningRule.objects.exists()
    assert not AuditEvent.objects.filter(action="site_planning_rule.set").exists()


# ------------------------------------------------------------------ services: contracts


def test_an_agents_contract_is_set_then_replaced_and_audited():
    # given
    provider = make_provider()
    agent = make_agent(provider)
    planner = planner_of(provider)
    # when
    schedule_services.agent_contract_set(actor=planner, worker=agent, hours_per_week=40)
    contract = schedule_services.agent_contract_set(actor=planner, worker=agent, hours_per_week=20)
    # then one contract of 20 hours, which the roster reads, and two audit events
    assert AgentContract.objects.get(worker=agent).pk == contract.pk
    assert schedule_selectors.agent_contract_hours(provider=provider) == {agent.pk: 20}
    changes = [
        e.changes for e in AuditEvent.objects.filter(action="agent_contract.set").order_by("seq")
    ]
    assert changes == [{"hours_per_week": [None, 40]}, {"hours_per_week": [40, 20]}]


@pytest.mark.parametrize("hours", [0, 81, -5])
def test_hours_out_of_range_are_refused_by_name(hours):
    provider = make_provider()
    agent = make_agent(provider)
    problems = refused_fields(
        lambda: schedule_services.agent_contract_set(
            actor=planner_of(provider), worker=agent, hours_per_week=hours
        )
    )
    assert problems == {"hours_per_week": schedule_services.CONTRACT_HOURS_RANGE}


def test_a_bot_or_another_providers_agent_gets_no_contract():
    # given
    provider, other = make_provider(), make_provider()
    bot = make_bot(provider)
    stranger = make_agent(other)
    planner = planner_of(provider)
    # when / then
    assert refused_fields(
        lambda: schedule_services.agent_contract_set(actor=planner, worker=bot, hours_per_week=30)
    ) == {"worker_id": schedule_services.CONTRACT_NOT_AGENT}
    assert refused_fields(
        lambda: schedule_services.agent_contract_set(
            actor=planner, worker=stranger, hours_per_week=30
        )
    ) == {"worker_id": schedule_services.NOT_PROVIDERS_AGENT}
    assert not AgentContract.objects.exists()


# ------------------------------------------------------------------ API


def test_rules_and_contracts_through_http():
    # given a planner of a provider with a site and an agent
    provider = make_provider()
    site = make_site(provider, timezone="Europe/Warsaw")
    agent = make_agent(provider, site=site)
    planner = api_client(key_for(provider, "wfm_planner"))
    # when
    put_rule = send(
        planner,
        "PUT",
        f"{V1}/sites/{site.pk}/planning-rule",
        {"opening_hours": WEEKDAYS_8_TO_8, "max_days_per_week": 5, "min_rest_hours": 11},
    )
    put_contract = send(planner, "PUT", f"{V1}/workers/{agent.pk}/contract", {"hours_per_week": 24})
    rules = planner.get(f"{V1}/site-planning-rules")
    contracts = planner.get(f"{V1}/agent-contracts")
    # then
    assert put_rule.status_code == 200, put_rule.content
    rule = put_rule.json()
    assert rule["site_id"] == site.pk
    assert rule["timezone"] == "Europe/Warsaw"
    assert rule["opening_hours"] == WEEKDAYS_8_TO_8
    assert [r["id"] for r in rules.json()["items"]] == [rule["id"]]
    assert planner.get(f"{V1}/site-planning-rules/{rule['id']}").json() == rule
    assert put_contract.status_code == 200, put_contract.content
    contract = put_contract.json()
    assert (contract["worker_id"], contract["hours_per_week"]) == (agent.pk, 24)
    assert [c["id"] for c in contracts.json()["items"]] == [contract["id"]]
    assert planner.get(f"{V1}/agent-contracts/{contract['id']}").json() == contract


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"opening_hours": [["08:00", "20:00"]] * 6}, "opening_hours"),
        ({"opening_hours": [["08:00", "20:10"]] * 7}, "opening_hours[0]"),
        ({"opening_hours": [None, None, None, ["7", "x"], None, None, None]}, "opening_hours[3]"),
        ({"max_days_per_week": 8}, "max_days_per_week"),
        ({"min_rest_hours": 30}, "min_rest_hours"),
    ],
)
def test_bad_rules_are_a_422_naming_the_field(body, field):
    # given
    provider = make_provider()
    site = make_site(provider)
    planner = api_client(key_for(provider, "wfm_planner"))
    payload = {"opening_hours": ALL_WEEK, "max_days_per_week": 5, "min_rest_hours": 11, **body}
    # when
    response = send(planner, "PUT", f"{V1}/sites/{site.pk}/planning-rule", payload)
    # then
    assert response.status_code == 422, response.content
    assert response["Content-Type"] == PROBLEM
    assert field in [e["field"] for e in response.json()["errors"]]
    assert not SitePlanningRule.objects.exists()


def test_bad_hours_are_a_422_naming_the_field():
    provider = make_provider()
    agent = make_agent(provider)
    planner = api_client(key_for(provider, "wfm_planner"))
    response = send(planner, "PUT", f"{V1}/workers/{agent.pk}/contract", {"hours_per_week": 90})
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["hours_per_week"]


def test_a_client_sees_none_of_it_even_of_its_providers_site():
    # given a provider's rule and contract, and a client of that provider's who sees its site
    floor = make_floor(agents=1)
    schedule_services.agent_contract_set(actor=None, worker=floor.agents[0], hours_per_week=30)
    client = api_client(key_for(client_of(floor.provider), "client_admin"))
    rule = SitePlanningRule.objects.get(site=floor.site)
    # when
    put = send(
        client,
        "PUT",
        f"{V1}/sites/{floor.site.pk}/planning-rule",
        {"opening_hours": ALL_WEEK, "max_days_per_week": 7, "min_rest_hours": 0},
    )
    # then
    assert put.status_code == 404
    assert client.get(f"{V1}/site-planning-rules").json()["items"] == []
    assert client.get(f"{V1}/agent-contracts").json()["items"] == []
    assert client.get(f"{V1}/site-planning-rules/{rule.pk}").status_code == 404
    assert SitePlanningRule.objects.get(pk=rule.pk).max_days_per_week == rule.max_days_per_week


def test_an_agent_of_the_provider_may_read_but_not_set():
    floor = make_floor(agents=1)
    agent_key = api_client(key_for(floor.provider, "agent"))
    put = send(
        agent_key, "PUT", f"{V1}/workers/{floor.agents[0].pk}/contract", {"hours_per_week": 10}
    )
    assert put.status_code == 403
    assert not AgentContract.objects.exists()


# ------------------------------------------------------------------ the page


def test_the_page_shows_each_sites_rules_and_the_agents_hours():
    # given a site with rules (overnight Saturday), one without, and an agent
    floor = make_floor(agents=1)
    krakow = make_site(floor.provider, name="Krakow", timezone="Europe/Warsaw")
    planner = signed_in(make_user(floor.provider, "wfm_planner"))
    # when
    page = planner.get("/schedules/rules/")
    # then
    assert page.status_code == 200
    text = page.content.decode()
    assert f'data-testid="site-rules-{floor.site.pk}"' in text
    assert f'data-testid="site-rules-{krakow.pk}"' in text
    assert "Europe/Warsaw" in text
    assert 'name="open_0" value="09:00"' in text  # the floor's site: 09:00-17:00 weekdays
    assert f'data-testid="contract-row-{floor.agents[0].pk}"' in text
    assert "the default" in text
    assert b"planning-rules-link" in planner.get("/schedules/").content


def test_a_sites_form_saves_and_shows_field_errors_next_to_the_fields():
    # given
    floor = make_floor(agents=0)
    planner = signed_in(make_user(floor.provider, "wfm_planner"))
    form: dict[str, str] = {"site_id": str(floor.site.pk)}
    for i in range(7):
        form[f"open_{i}"], form[f"close_{i}"] = ("22:00", "06:00") if i < 6 else ("", "")
    # when a bad day, days a week and rest are posted
    bad = planner.post(
        "/schedules/rules/",
        {**form, "open_2": "9", "max_days_per_week": "9", "min_rest_hours": "x"},
    )
    # then each error is next to its field, and nothing is saved
    assert bad.status_code == 422
    assert b'data-testid="error-day-2"' in bad.content
    assert b'data-testid="error-max_days_per_week"' in bad.content
    assert b'data-testid="error-min_rest_hours"' in bad.content
    assert SitePlanningRule.objects.get(site=floor.site).opening_hours[0] == ["09:00", "17:00"]
    # when the form is good
    good = planner.post(
        "/schedules/rules/", {**form, "max_days_per_week": "6", "min_rest_hours": "12"}
    )
    # then
    assert good.status_code == 302
    rule = SitePlanningRule.objects.get(site=floor.site)
    assert rule.opening_hours == [["22:00", "06:00"]] * 6 + [None]
    assert (rule.max_days_per_week, rule.min_rest_hours) == (6, 12)
    assert "closes the next day" in planner.get("/schedules/rules/").content.decode()


def test_an_agents_hours_are_edited_in_its_row_with_htmx():
    # given
    floor = make_floor(agents=1)
    agent = floor.agents[0]
    planner = signed_in(make_user(floor.provider, "wfm_planner"))
    url = f"/schedules/rules/agents/{agent.pk}/"
    # when a bad value, then a good one, are posted by htmx
    bad = planner.post(url, {"hours_per_week": "99"}, headers={"HX-Request": "true"})
    good = planner.post(url, {"hours_per_week": "32"}, headers={"HX-Request": "true"})
    # then the row comes back, first with its error, then saved
    assert bad.status_code == 200
    assert bad.content.decode().lstrip().startswith(f'<tr id="agent-{agent.pk}"')
    assert b'data-testid="error-hours_per_week"' in bad.content
    assert b'data-testid="contract-saved"' in good.content
    assert AgentContract.objects.get(worker=agent).hours_per_week == 32


def test_without_htmx_the_row_posts_as_a_form():
    floor = make_floor(agents=1)
    agent = floor.agents[0]
    planner = signed_in(make_user(floor.provider, "wfm_planner"))
    url = f"/schedules/rules/agents/{agent.pk}/"
    bad = planner.post(url, {"hours_per_week": "0"})
    good = planner.post(url, {"hours_per_week": "16"})
    assert bad.status_code == 422
    assert b'data-testid="error-hours_per_week"' in bad.content
    assert good.status_code == 302
    assert good["Location"].endswith(f"#agent-{agent.pk}")
    assert planner.get(url).status_code == 302
    assert AgentContract.objects.get(worker=agent).hours_per_week == 16


def test_a_client_is_sent_home_and_an_agent_reads_without_forms():
    floor = make_floor(agents=1)
    client = signed_in(make_user(client_of(floor.provider), "client_admin"))
    assert client.get("/schedules/rules/").status_code == 302
    assert client.post(f"/schedules/rules/agents/{floor.agents[0].pk}/").status_code == 404
    reader = signed_in(make_user(floor.provider, "agent"))
    page = reader.get("/schedules/rules/")
    assert page.status_code == 200
    assert b'name="hours_per_week"' not in page.content
    assert b'name="max_days_per_week"' not in page.content
    refused = reader.post(
        "/schedules/rules/",
        {"site_id": str(floor.site.pk), "max_days_per_week": "7", "min_rest_hours": "0"},
    )
    assert refused.status_code == 403
    assert SitePlanningRule.objects.get(site=floor.site).max_days_per_week == 5


def test_a_post_for_another_providers_site_is_a_404():
    floor = make_floor(agents=0)
    other = make_site(make_provider())
    planner = signed_in(make_user(floor.provider, "wfm_planner"))
    response = planner.post("/schedules/rules/", {"site_id": str(other.pk)})
    assert response.status_code == 404
    assert not SitePlanningRule.objects.filter(site=other).exists()
