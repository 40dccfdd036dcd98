"""Admin edits of calendars and policies: the services' checks and recompute requests."""

from __future__ import annotations

import json

import pytest
from django.forms import modelform_factory
from django.test import Client

from offload.contracts import services
from offload.contracts.admin import SlaPolicyForm
from offload.contracts.models import SlaPolicy, SlaRecompute
from offload.contracts.tests.factories import (
    WARSAW_OFFICE,
    make_calendar,
    make_engagement,
    make_policy,
)
from offload.tenancy.models import User

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_site_client() -> Client:
    client = Client()
    client.force_login(User.objects.create_superuser("root", "root@example.com", "x" * 12))
    return client


def calendar_form(calendar, spec) -> dict[str, object]:
    return {
        "client": calendar.client_id,
        "provider": calendar.provider_id,
        "engagement": calendar.engagement_id,
        "name": calendar.name,
        "slug": calendar.slug,
        "spec": json.dumps(spec),
    }


def test_an_admin_change_of_a_calendars_spec_writes_a_recompute_request(admin_site_client):
    # given
    calendar = make_calendar(make_engagement())
    url = f"/admin/contracts/businesscalendar/{calendar.pk}/change/"
    # when
    same = admin_site_client.post(url, calendar_form(calendar, calendar.spec))
    changed = admin_site_client.post(url, calendar_form(calendar, WARSAW_OFFICE))
    # then
    assert (same.status_code, changed.status_code) == (302, 302)
    assert list(SlaRecompute.objects.values_list("kind", "calendar")) == [("calendar", calendar.pk)]


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        (
            {"pause_statuses": '["queued"]', "warning_percents": "[75, 90]"},
            "pause_statuses",
            services.BAD_PAUSE_STATUS.format(
                status="queued", allowed="escalated, failed, waiting_on_client"
            ),
        ),
        (
            {"pause_statuses": '["failed"]', "warning_percents": "[90, 75]"},
            "warning_percents",
            services.NOT_ASCENDING,
        ),
    ],
)
def test_the_admin_policy_form_checks_pauses_and_warnings_as_the_services_do(data, field, message):
    # given
    policy = make_policy(make_engagement())
    form_class = modelform_factory(
        SlaPolicy, form=SlaPolicyForm, fields=["pause_statuses", "warning_percents"]
    )
    # when
    form = form_class(data, instance=policy)
    # then
    assert not form.is_valid()
    assert form.errors == {field: [message]}


def test_an_admin_edit_of_a_policy_writes_a_recompute_request(admin_site_client):
    # given
    policy = make_policy(make_engagement())
    [t] = policy.targets.all()
    form = {
        "client": policy.client_id,
        "provider": policy.provider_id,
        "engagement": policy.engagement_id,
        "name": policy.name,
        "slug": policy.slug,
        "calendar": policy.calendar_id,
        "pause_statuses": '["waiting_on_client"]',
        "warning_percents": "[60]",
        "at_risk_percent": "0",
        "targets-TOTAL_FORMS": "1",
        "targets-INITIAL_FORMS": "1",
        "targets-MIN_NUM_FORMS": "0",
        "targets-MAX_NUM_FORMS": "1000",
        "targets-0-id": t.pk,
        "targets-0-policy": policy.pk,
        "targets-0-metric": t.metric,
        "targets-0-priority": t.priority,
        "targets-0-target_value": str(t.target_value),
        "targets-0-unit": t.unit,
        "targets-0-comparison": t.comparison,
        "targets-0-window": t.window,
        "targets-0-calendar": "",
        "targets-0-credit": "{}",
        "targets-0-bonus": "{}",
        "targets-0-attainment_percent": "95",
    }
    # when
    response = admin_site_client.post(f"/admin/contracts/slapolicy/{policy.pk}/change/", form)
    # then
    assert response.status_code == 302, response.content
    policy.refresh_from_db()
    assert policy.warning_percents == [60]
    assert list(SlaRecompute.objects.values_list("kind", "policy")) == [("policy", policy.pk)]
