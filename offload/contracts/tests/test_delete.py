"""Deleting contract objects: allowed while nothing refers to them, a 409 otherwise."""

import pytest

from offload.contracts.models import BusinessCalendar, Engagement, Process, RateCard, SlaPolicy
from offload.contracts.tests.factories import (
    make_calendar,
    make_engagement,
    make_policy,
    make_process,
    make_rate_card,
)
from offload.tenancy.models import AuditEvent
from offload.tenancy.tests.factories import api_client, key_for, make_client, make_provider

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    provider = make_provider()
    engagement = make_engagement(make_client(), provider)
    return provider, engagement, api_client(key_for(provider))


def test_an_unreferenced_process_is_deleted_and_audited(world):
    # given
    _, engagement, api = world
    process = make_process(engagement, sop="# Steps")
    # when
    response = api.delete(f"/api/v1/processes/{process.pk}")
    # then
    assert response.status_code == 204
    assert not Process.objects.filter(pk=process.pk).exists()
    event = AuditEvent.objects.filter(organisation=engagement.client).latest("seq")
    assert (event.action, event.object_id) == ("process.delete", str(process.pk))
    assert event.changes["name"][0] == process.name


def test_a_policy_in_use_by_a_process_is_a_conflict_and_nothing_changes(world):
    # given
    _, engagement, api = world
    policy = make_policy(engagement)
    make_process(engagement, sla_policy=policy)
    events_before = AuditEvent.objects.count()
    # when
    response = api.delete(f"/api/v1/sla-policies/{policy.pk}")
    # then
    assert response.status_code == 409
    assert response["Content-Type"] == "application/problem+json"
    assert "process" in response.json()["detail"]
    assert SlaPolicy.objects.filter(pk=policy.pk).exists()
    assert AuditEvent.objects.count() == events_before


def test_an_engagement_with_a_calendar_cannot_be_deleted_but_an_empty_one_can(world):
    # given
    provider, engagement, api = world
    make_calendar(engagement)
    empty = make_engagement(make_client(), provider)
    # when
    busy = api.delete(f"/api/v1/engagements/{engagement.pk}")
    gone = api.delete(f"/api/v1/engagements/{empty.pk}")
    # then
    assert busy.status_code == 409
    assert "business calendar" in busy.json()["detail"]
    assert gone.status_code == 204
    assert list(Engagement.objects.values_list("pk", flat=True)) == [engagement.pk]


def test_calendar_and_rate_card_deletes_need_their_roles(world):
    # given: an ops manager may manage calendars but not rate cards
    provider, engagement, _ = world
    calendar, card = make_calendar(engagement), make_rate_card(engagement)
    ops = api_client(key_for(provider, "ops_manager"))
    # when
    card_response = ops.delete(f"/api/v1/rate-cards/{card.pk}")
    calendar_response = ops.delete(f"/api/v1/calendars/{calendar.pk}")
    # then
    assert card_response.status_code == 403
    assert RateCard.objects.filter(pk=card.pk).exists()
    assert calendar_response.status_code == 204
    assert not BusinessCalendar.objects.filter(pk=calendar.pk).exists()
