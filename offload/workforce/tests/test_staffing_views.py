"""The staffing calculator page `/workforce/staffing/`: form, htmx answer, field errors."""

from __future__ import annotations

import pytest
from django.test import Client

from offload.tenancy.models import Organisation
from offload.tenancy.tests.factories import make_client, make_provider, make_user

pytestmark = pytest.mark.django_db

PAGE = "/workforce/staffing/"
HTMX = {"HX-Request": "true"}
# The textbook queue as a planner types it: percentages, not fractions.
FORM = {
    "calls": "100",
    "interval_s": "1800",
    "aht_s": "180",
    "target_s": "20",
    "service_level": "80",
    "max_occupancy": "85",
    "patience_s": "",
    "shrinkage": "30",
}


def signed_in(org: Organisation, *roles: str) -> Client:
    client = Client()
    client.force_login(make_user(org, *roles))
    return client


@pytest.fixture
def planner() -> Client:
    return signed_in(make_provider(), "wfm_planner")


def test_staffing_calculator_page_shows_the_form_with_an_example(planner):
    # when a planner opens the page
    response = planner.get(PAGE)
    # then the form is there, filled with the textbook example, and the nav links it
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-testid="staffing-form"' in html
    assert 'name="aht_s" value="180"' in html
    assert 'data-testid="nav-staffing"' in html
    assert 'data-testid="staffing-answer"' not in html


def test_staffing_calculator_htmx_post_swaps_in_the_answer(planner):
    # when the form is posted by htmx
    response = planner.post(PAGE, FORM, headers=HTMX)
    # then only the result fragment comes back: 14 agents, 20 to schedule
    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" not in html
    assert 'data-testid="staffing-agents">14<' in html
    assert 'data-testid="staffing-fte">20<' in html
    assert "88.8" in html  # the service level with 14 agents, in %
    for agents in range(12, 18):
        assert f'data-testid="curve-{agents}"' in html
    assert 'data-testid="staffing-erlang-a"' not in html
    # and each field's (empty) error slot, swapped out of band to clear old errors
    assert html.count('hx-swap-oob="true"') == 8


def test_staffing_calculator_with_a_patience_shows_erlang_a(planner):
    response = planner.post(PAGE, FORM | {"patience_s": "60"}, headers=HTMX)
    html = response.content.decode()
    assert 'data-testid="staffing-erlang-a"' in html
    assert "3.0 % abandon" in html


def test_staffing_calculator_plain_post_renders_the_whole_page(planner):
    # when the form is posted without JavaScript
    response = planner.post(PAGE, FORM)
    # then the page comes back with the answer and the values typed
    html = response.content.decode()
    assert "<html" in html
    assert 'data-testid="staffing-agents">14<' in html
    assert 'name="service_level" value="80"' in html
    assert 'hx-swap-oob="true"' not in html


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"aht_s": "0"}, "aht_s", "greater than 0"),
        ({"calls": "lots"}, "calls", "must be a number"),
        ({"target_s": ""}, "target_s", "is required"),
        ({"service_level": "120"}, "service_level", "at most 100 %"),
        ({"shrinkage": "100"}, "shrinkage", "less than 100 %"),
        ({"calls": "1000000", "aht_s": "600"}, "calls", "Erlangs; at most 10,000"),
    ],
)
def test_staffing_calculator_shows_the_error_next_to_the_field(planner, change, field, message):
    # when one field is bad
    response = planner.post(PAGE, FORM | change, headers=HTMX)
    # then no answer, and the message fills that field's error slot
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-testid="staffing-answer"' not in html
    start = html.index(f'id="error-{field}"')
    slot = html[start : html.index("</span>", start)]
    assert message in slot
    others = [f for f in FORM if f != field]
    for other in others:
        start = html.index(f'id="error-{other}"')
        assert html[html.index(">", start) + 1 : html.index("</span>", start)] == ""


def test_staffing_calculator_plain_post_shows_errors_in_the_form(planner):
    response = planner.post(PAGE, FORM | {"aht_s": "-3"})
    html = response.content.decode()
    assert 'aria-invalid="true"' in html
    assert 'name="aht_s" value="-3"' in html


def test_staffing_calculator_optional_fields_may_be_empty(planner):
    # when no cap, no patience and no shrinkage are given
    blank = FORM | {"max_occupancy": "", "shrinkage": "", "patience_s": ""}
    response = planner.post(PAGE, blank, headers=HTMX)
    # then FTE equals agents
    html = response.content.decode()
    assert 'data-testid="staffing-agents">14<' in html
    assert 'data-testid="staffing-fte">14<' in html


def test_staffing_calculator_sends_clients_home():
    client = signed_in(make_client(), "client_admin")
    response = client.get(PAGE)
    assert response.status_code == 302
    assert 'data-testid="nav-staffing"' not in client.get("/", follow=True).content.decode()


@pytest.mark.parametrize("role", ["agent", "finance"])
def test_staffing_calculator_refuses_other_provider_roles(role):
    browser = signed_in(make_provider(), role)
    assert browser.get(PAGE).status_code == 403
    assert browser.post(PAGE, FORM).status_code == 403


def test_staffing_calculator_needs_sign_in():
    response = Client().get(PAGE)
    assert response.status_code == 302
    assert "/login/" in response["Location"]
