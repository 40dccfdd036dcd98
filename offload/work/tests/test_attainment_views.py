"""The SLA attainment page (`/attainment/`): pickers swapped by htmx, the month's lines
and breaches, and the Freeze button for those allowed."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from offload.tenancy.models import AuditEvent, Organisation, User
from offload.tenancy.tests.factories import make_user
from offload.work.models import AttainmentMonth
from offload.work.tests.test_attainment import at, make_clock, make_march, make_setup

pytestmark = pytest.mark.django_db

PAGE = "/attainment/"
HTMX = {"HX-Request": "true"}


def browser(organisation: Organisation, *roles: str) -> tuple[Client, User]:
    user = make_user(organisation, *roles)
    client = Client()
    client.force_login(user)
    return client, user


def test_the_client_sees_its_months_lines_and_breaches_linked_to_their_items():
    # given
    setup = make_setup()
    make_march(setup)
    late = make_clock(setup, state="breached", stopped_at=at(28), subject="Refund overdue")
    client, _ = browser(setup.engagement.client, "client_viewer")
    # when
    response = client.get(PAGE, {"engagement": str(setup.engagement.pk), "month": "2026-03"})
    # then
    assert response.status_code == 200
    text = response.content.decode()
    assert 'data-testid="attainment-lines"' in text
    assert 'data-metric="first_response" data-priority="P3"' in text
    assert "<td>50 %</td>" in text  # first response P3: 2 of 4 with the late one
    assert text.count('data-testid="target-met"') == 2
    assert text.count('data-testid="target-missed"') == 1  # first response P3: 50 < 95
    assert reverse("work_item_detail", args=[late.item_id]) in text
    assert "Refund overdue" in text
    assert 'data-testid="attainment-freeze"' not in text  # a client does not freeze
    assert 'data-testid="nav-attainment"' in text


def test_picking_a_month_swaps_only_the_panel():
    # given
    setup = make_setup()
    make_march(setup)
    client, _ = browser(setup.engagement.provider, "team_lead")
    # when
    response = client.get(
        PAGE, {"engagement": str(setup.engagement.pk), "month": "2026-02"}, headers=HTMX
    )
    # then
    assert response.status_code == 200
    text = response.content.decode()
    assert text.startswith('<div id="attainment"')
    assert "<html" not in text
    assert 'data-testid="attainment-empty"' in text
    assert "HX-Request" in response["Vary"]


def test_without_a_choice_the_page_shows_the_first_engagement_this_month():
    # given
    setup = make_setup()
    client, _ = browser(setup.engagement.client, "client_viewer")
    # when
    response = client.get(PAGE)
    # then
    assert response.status_code == 200
    assert response.context["engagement"] == setup.engagement
    assert response.context["month"] == response.context["result"].month


def test_ops_manager_freezes_a_closed_month_from_the_page():
    # given
    setup = make_setup()
    make_march(setup)
    client, user = browser(setup.engagement.provider, "ops_manager")
    shown = client.get(PAGE, {"engagement": str(setup.engagement.pk), "month": "2026-03"})
    # when
    response = client.post(PAGE, {"engagement": str(setup.engagement.pk), "month": "2026-03"})
    # then
    assert 'data-testid="attainment-freeze"' in shown.content.decode()
    assert response.status_code == 200
    text = response.content.decode()
    assert "frozen</span>" in text
    assert 'data-testid="attainment-freeze"' not in text
    assert set(AttainmentMonth.objects.values_list("frozen_by", flat=True)) == {user.pk}
    assert AuditEvent.objects.filter(action="attainment.freeze").count() == 1


def test_freezing_again_from_the_page_is_a_409_saying_why():
    # given
    setup = make_setup()
    make_march(setup)
    client, _ = browser(setup.engagement.provider, "admin")
    client.post(PAGE, {"engagement": str(setup.engagement.pk), "month": "2026-03"})
    # when
    response = client.post(PAGE, {"engagement": str(setup.engagement.pk), "month": "2026-03"})
    # then
    assert response.status_code == 409
    assert "was frozen at" in response.content.decode()


def test_a_client_admin_posting_a_freeze_is_refused():
    # given
    setup = make_setup()
    make_march(setup)
    client, _ = browser(setup.engagement.client, "client_admin")
    # when
    response = client.post(PAGE, {"engagement": str(setup.engagement.pk), "month": "2026-03"})
    # then
    assert response.status_code == 403
    assert not AttainmentMonth.objects.exists()


def test_another_clients_engagement_is_a_404_to_read_and_to_freeze():
    # given
    setup = make_setup()
    make_march(setup)
    other = make_setup()
    reader, _ = browser(other.engagement.client, "client_admin")
    provider, _ = browser(other.engagement.provider, "admin")
    # when
    responses = [
        reader.get(PAGE, {"engagement": str(setup.engagement.pk), "month": "2026-03"}),
        provider.post(PAGE, {"engagement": str(setup.engagement.pk), "month": "2026-03"}),
        reader.get(PAGE, {"engagement": "x1"}),
    ]
    # then
    assert [r.status_code for r in responses] == [404, 404, 404]
    assert not AttainmentMonth.objects.exists()


def test_a_bad_month_is_a_422_naming_it():
    # given
    setup = make_setup()
    client, _ = browser(setup.engagement.client, "client_viewer")
    # when
    response = client.get(PAGE, {"engagement": str(setup.engagement.pk), "month": "2026-13"})
    # then
    assert response.status_code == 422
    assert "month: must be a month as YYYY-MM" in response.content.decode()
