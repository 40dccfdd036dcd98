"""A target's `attainment_percent` (offload.contracts): the share of a month's items
that must meet a time target. Checked by the contracts service and the API schemas,
kept across revisions, shown in the versions' diff. Tested here, with attainment."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from django.test import Client

from offload.contracts import selectors, services
from offload.contracts.tests.factories import make_calendar, make_engagement, make_policy, target
from offload.core import errors
from offload.tenancy.tests.factories import api_client, key_for, make_user

pytestmark = pytest.mark.django_db


def test_a_target_asks_95_percent_unless_it_says_otherwise():
    # given
    engagement = make_engagement()
    # when
    policy = make_policy(
        engagement,
        targets=[
            target("first_response", "P1", "4"),
            target("turnaround", "", "2", attainment_percent=Decimal("97.5")),
        ],
    )
    # then
    assert [(t.metric, t.attainment_percent) for t in policy.targets.order_by("metric")] == [
        ("first_response", Decimal("95.00")),
        ("turnaround", Decimal("97.50")),
    ]


@pytest.mark.parametrize("value", [Decimal("-0.01"), Decimal("100.01"), Decimal(150)])
def test_the_service_refuses_a_share_outside_0_to_100_naming_the_field(value: Decimal):
    # given
    engagement = make_engagement()
    # when
    with pytest.raises(errors.ValidationFailed) as exc:
        make_policy(
            engagement,
            targets=[
                target("first_response", "P1", "4"),
                target("turnaround", "", "2", attainment_percent=value),
            ],
        )
    # then
    assert [(e.field, e.message) for e in exc.value.errors] == [
        ("targets[1].attainment_percent", services.PERCENT_RANGE)
    ]


def test_the_bounds_0_and_100_are_accepted():
    policy = make_policy(
        make_engagement(),
        targets=[
            target("first_response", "P1", "4", attainment_percent=Decimal(0)),
            target("turnaround", "", "2", attainment_percent=Decimal(100)),
        ],
    )
    assert sorted(t.attainment_percent for t in policy.targets.all()) == [Decimal(0), Decimal(100)]


def test_a_revision_without_targets_keeps_their_share_and_a_change_shows_in_the_diff():
    # given
    engagement = make_engagement()
    v1 = make_policy(
        engagement, targets=[target("first_response", "P1", "4", attainment_percent=Decimal(90))]
    )
    # when
    v2 = services.sla_policy_revise(actor=None, policy=v1, warning_percents=[80])
    v3 = services.sla_policy_revise(
        actor=None, policy=v2, targets=[target("first_response", "P1", "4")]
    )
    # then
    assert [t.attainment_percent for t in v2.targets.all()] == [Decimal("90.00")]
    assert selectors.target_changes(v2, v3) == [
        selectors.TargetChange(
            "first_response",
            "P1",
            "within 4 business hours, for 90 % of items",
            "within 4 business hours",
        )
    ]


def test_the_api_takes_and_answers_the_share_and_names_it_when_out_of_range():
    # given
    engagement = make_engagement()
    calendar = make_calendar(engagement)
    client = api_client(key_for(engagement.provider, "ops_manager"))

    def create(share: str) -> dict[str, object]:
        body = {
            "engagement_id": engagement.pk,
            "name": f"SLA {share}",
            "calendar_id": calendar.pk,
            "targets": [
                {
                    "metric": "first_response",
                    "priority": "P1",
                    "target_value": "4",
                    "unit": "business_hours",
                    "comparison": "within",
                    "attainment_percent": share,
                }
            ],
        }
        response = client.post(
            "/api/v1/sla-policies", json.dumps(body), content_type="application/json"
        )
        return {"status": response.status_code, **response.json()}

    # when
    made = create("92.5")
    refused = create("100.5")
    # then
    assert made["status"] == 201
    assert made["targets"][0]["attainment_percent"] == "92.50"  # type: ignore[index]
    assert refused["status"] == 422
    assert [e["field"] for e in refused["errors"]] == ["targets[0].attainment_percent"]  # type: ignore[attr-defined]


def test_the_policy_page_shows_the_share_of_time_targets():
    # given
    engagement = make_engagement()
    policy = make_policy(
        engagement,
        targets=[
            target("first_response", "P1", "4", attainment_percent=Decimal("97.5")),
            target("accuracy", "", "99"),
        ],
    )
    browser = Client()
    browser.force_login(make_user(engagement.provider, "ops_manager"))
    # when
    response = browser.get(f"/sla-policies/{policy.pk}/")
    # then
    assert response.status_code == 200
    text = response.content.decode()
    assert "97.50 % of the month's items" in text
    assert text.count("of the month's items") == 1  # accuracy has no share
