"""`POST /api/v1/workforce/erlang`: the staffing calculator through the HTTP layer."""

from __future__ import annotations

import pytest

from offload.tenancy.models import AuditEvent
from offload.tenancy.tests.factories import (
    api_client,
    key_for,
    make_api_key,
    make_client,
    make_provider,
    make_user,
)
from offload.workforce import staffing_calculator

pytestmark = pytest.mark.django_db

URL = "/api/v1/workforce/erlang"
PROBLEM = "application/problem+json"
# The textbook queue: 100 calls in 30 minutes, AHT 180 s, 80 % in 20 s.
TEXTBOOK = {"calls": 100, "interval_s": 1800, "aht_s": 180, "target_s": 20, "service_level": 0.8}


def post(secret: str, body: object):
    return api_client(secret).post(URL, body, content_type="application/json")


@pytest.fixture
def planner() -> str:
    return key_for(make_provider(), "wfm_planner")


def test_staffing_calculate_answers_the_textbook_queue(planner):
    # given the textbook queue with 30 % shrinkage
    # when the calculator is asked
    response = post(planner, TEXTBOOK | {"shrinkage": 0.3})
    # then 14 agents, 20 to schedule, and the published figures for 14
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["traffic_erlangs"] == 10
    assert (body["agents"], body["scheduled_fte"], body["shrinkage"]) == (14, 20, 0.3)
    assert round(body["p_wait"], 4) == 0.1741
    assert round(body["service_level"], 4) == 0.8884
    assert round(body["asa_s"], 2) == 7.84
    assert round(body["occupancy"], 3) == 0.714
    assert body["erlang_a"] is None
    # and the curve from 12 to 17 agents, where 13 misses the target and 14 meets it
    curve = {row["agents"]: row for row in body["curve"]}
    assert list(curve) == [12, 13, 14, 15, 16, 17]
    assert [curve[n]["meets_target"] for n in curve] == [False, False, True, True, True, True]
    assert round(curve[13]["service_level"], 4) == 0.7956
    assert curve[17]["scheduled_fte"] == 25  # ceil(17 / 0.7)
    slas = [row["service_level"] for row in body["curve"]]
    assert slas == sorted(slas)


def test_staffing_calculate_adds_erlang_a_with_a_patience(planner):
    # when a mean patience of a minute is given
    response = post(planner, TEXTBOOK | {"patience_s": 60})
    # then the Erlang A figures come with every row
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["agents"] == 14
    assert round(body["erlang_a"]["abandon"], 6) == 0.030322
    assert round(body["erlang_a"]["service_level"], 6) == 0.943776
    assert all(row["erlang_a"] is not None for row in body["curve"])


def test_staffing_calculate_occupancy_cap_binds(planner):
    # given 66.7 Erlangs: 74 agents reach 80/20 at 90 % occupancy
    body = TEXTBOOK | {"calls": 400, "aht_s": 300}
    # when the occupancy is capped at 85 %
    capped = post(planner, body | {"max_occupancy": 0.85}).json()
    free = post(planner, body).json()
    # then the cap decides
    assert (free["agents"], capped["agents"]) == (74, 79)
    assert capped["occupancy"] <= 0.85


def test_staffing_calculate_unstable_counts_have_no_asa(planner):
    # given 10 Erlangs, whose curve would start at 8 and 9 agents when 10 or 11 are needed
    response = post(planner, TEXTBOOK | {"service_level": 0.05, "target_s": 0})
    # then a count without a finite wait has a null ASA, not an error
    body = response.json()
    assert response.status_code == 200
    assert body["agents"] == 11
    rows = {row["agents"]: row for row in body["curve"]}
    assert rows[9]["asa_s"] is None
    assert rows[10]["asa_s"] is None
    assert rows[9]["meets_target"] is False


def test_staffing_calculate_no_calls_needs_nobody(planner):
    response = post(planner, TEXTBOOK | {"calls": 0, "shrinkage": 0.3})
    body = response.json()
    assert (body["agents"], body["scheduled_fte"], body["service_level"]) == (0, 0, 1)
    assert [row["agents"] for row in body["curve"]] == [0, 1, 2, 3]


@pytest.mark.parametrize("role", ["wfm_planner", "ops_manager", "admin", "team_lead"])
def test_staffing_calculate_open_to_planning_roles(role):
    response = post(key_for(make_provider(), role), TEXTBOOK)
    assert response.status_code == 200, response.content


@pytest.mark.parametrize("role", ["agent", "qa_analyst", "finance"])
def test_staffing_calculate_refused_to_other_provider_roles(role):
    # when a provider person outside planning asks
    response = post(key_for(make_provider(), role), TEXTBOOK)
    # then a 403 names the roles that may
    assert response.status_code == 403
    assert response["Content-Type"] == PROBLEM
    assert response.json()["detail"] == staffing_calculator.NOT_A_PLANNER


@pytest.mark.parametrize("role", ["client_admin", "client_viewer"])
def test_staffing_calculate_refused_to_clients(role):
    response = post(key_for(make_client(), role), TEXTBOOK)
    assert response.status_code == 403
    assert response.json()["detail"] == staffing_calculator.PROVIDER_ONLY


def test_staffing_calculate_needs_only_the_read_scope():
    # given a planner's read-only key: the calculator writes nothing
    provider = make_provider()
    _, secret = make_api_key(provider, user=make_user(provider, "wfm_planner"), scopes=("read",))
    before = AuditEvent.objects.count()
    # when
    response = post(secret, TEXTBOOK)
    # then it answers, and nothing is recorded
    assert response.status_code == 200
    assert AuditEvent.objects.count() == before


def test_staffing_calculate_refuses_a_write_only_key():
    provider = make_provider()
    _, secret = make_api_key(provider, user=make_user(provider, "wfm_planner"), scopes=("write",))
    assert post(secret, TEXTBOOK).status_code == 403


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"calls": -1}, "calls"),
        ({"interval_s": 0}, "interval_s"),
        ({"aht_s": 0}, "aht_s"),
        ({"target_s": -5}, "target_s"),
        ({"service_level": 0}, "service_level"),
        ({"service_level": 1.5}, "service_level"),
        ({"max_occupancy": 0}, "max_occupancy"),
        ({"patience_s": 0}, "patience_s"),
        ({"shrinkage": 1}, "shrinkage"),
        ({"calls": "many"}, "calls"),
        ({"calls": 1_000_000, "aht_s": 600}, "calls"),  # 333,333 Erlangs
        ({"typo": 1}, "typo"),
    ],
)
def test_staffing_calculate_bad_input_is_a_422_naming_the_field(planner, change, field):
    # when one field is bad
    response = post(planner, TEXTBOOK | change)
    # then a problem names it
    assert response.status_code == 422, response.content
    assert response["Content-Type"] == PROBLEM
    assert [e["field"] for e in response.json()["errors"]] == [field]


def test_staffing_calculate_missing_field_is_named(planner):
    body = {k: v for k, v in TEXTBOOK.items() if k != "aht_s"}
    response = post(planner, body)
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["aht_s"]


def test_staffing_calculate_largest_queue_allowed_answers(planner):
    # given 10,000 Erlangs, the calculator's limit
    response = post(planner, TEXTBOOK | {"calls": 100_000, "interval_s": 1800, "aht_s": 180})
    # then it answers with finite figures
    assert response.status_code == 200, response.content
    body = response.json()
    assert 10_000 < body["agents"] < 10_200
    assert 0 <= body["p_wait"] <= 1
