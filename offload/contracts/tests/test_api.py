"""The contract endpoints through HTTP: status codes, bodies, problem+json, filters,
permissions, the audit trail and constant query counts on every list."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from offload.contracts import services
from offload.contracts.models import (
    BusinessCalendar,
    ContractDocument,
    Engagement,
    Process,
    RateCard,
    SlaPolicy,
    SlaRecompute,
)
from offload.contracts.tests.factories import (
    WARSAW_OFFICE,
    WEEKDAYS_9_TO_5,
    make_calendar,
    make_document,
    make_engagement,
    make_policy,
    make_process,
    make_rate_card,
)
from offload.sla import spec as calendar_spec
from offload.tenancy import services as tenancy_services
from offload.tenancy.models import AuditEvent, Organisation
from offload.tenancy.tests.factories import (
    api_client,
    key_for,
    make_client,
    make_principal,
    make_provider,
    make_site,
)

pytestmark = pytest.mark.django_db

PROBLEM = "application/problem+json"
API = "/api/v1"


def post(client: Client, path: str, body: dict[str, Any]) -> Any:
    return client.post(API + path, data=body, content_type="application/json")


def patch(client: Client, path: str, body: dict[str, Any]) -> Any:
    return client.patch(API + path, data=body, content_type="application/json")


def get(client: Client, path: str, **params: Any) -> Any:
    return client.get(API + path, params)


def problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == PROBLEM
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert {"type", "title", "detail"} <= set(body)
    return body


def error_fields(response: Any) -> list[str]:
    return [e["field"] for e in problem(response, 422)["errors"]]


def ids(response: Any) -> list[int]:
    assert response.status_code == 200, response.content
    return [item["id"] for item in response.json()["items"]]


class World:
    """A provider with one client and engagement, and a key per role."""

    def __init__(self) -> None:
        self.provider = make_provider()
        self.client = make_client()
        self.engagement = make_engagement(self.client, self.provider)
        self.admin = api_client(key_for(self.provider, "admin"))
        self.ops = api_client(key_for(self.provider, "ops_manager"))
        self.finance = api_client(key_for(self.provider, "finance"))
        self.client_admin = api_client(key_for(self.client, "client_admin"))
        self.viewer = api_client(key_for(self.client, "client_viewer"))
        self.stranger = api_client(key_for(make_client(), "client_admin"))


@pytest.fixture
def world() -> World:
    return World()


def audited(organisation: Organisation, action: str, object_id: int) -> AuditEvent:
    return AuditEvent.objects.get(
        organisation=organisation, action=action, object_id=str(object_id)
    )


# ------------------------------------------------------------------ engagements


def test_engagement_create_answers_201_and_audits_with_the_key(world):
    # given: a client the provider onboarded
    onboarded = tenancy_services.organisation_create(
        actor=make_principal(world.provider, "admin"),
        kind="client",
        name="Initech",
        country="GB",
        timezone="Europe/London",
        currency="GBP",
    )
    # when
    response = post(world.admin, "/engagements", {"client_id": onboarded.pk, "name": "Initech AP"})
    # then
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["slug"] == "initech-ap"
    assert body["status"] == "assess"
    assert (body["client_id"], body["provider_id"]) == (onboarded.pk, world.provider.pk)
    event = audited(onboarded, "engagement.create", body["id"])
    assert event.actor_api_key_id is not None


def test_engagement_create_with_an_unseen_client_names_client_id(world):
    # given
    unseen = make_client()
    # when
    response = post(world.admin, "/engagements", {"client_id": unseen.pk, "name": "X"})
    # then
    assert error_fields(response) == ["client_id"]
    assert not Engagement.objects.filter(client=unseen).exists()


def test_engagement_create_by_a_client_is_forbidden(world):
    # when
    response = post(world.client_admin, "/engagements", {"client_id": world.client.pk, "name": "X"})
    # then
    problem(response, 403)


def test_engagement_list_and_status_filter(world):
    # given
    other = make_engagement(make_client(), world.provider)
    services.engagement_transition(actor=None, engagement=other, status="select")
    # when
    everything = get(world.admin, "/engagements")
    selecting = get(world.admin, "/engagements", status="select")
    bad = get(world.admin, "/engagements", status="sleeping")
    # then
    assert set(everything.json()) == {"items", "next_cursor"}
    assert everything.json()["next_cursor"] is None
    assert ids(everything) == [world.engagement.pk, other.pk]
    assert ids(selecting) == [other.pk]
    assert error_fields(bad) == ["status"]


def test_engagement_list_pages_with_a_cursor(world):
    # given
    more = [make_engagement(make_client(), world.provider) for _ in range(2)]
    # when
    first = get(world.admin, "/engagements", limit=2)
    second = get(world.admin, "/engagements", limit=2, cursor=first.json()["next_cursor"])
    # then
    assert ids(first) == [world.engagement.pk, more[0].pk]
    assert ids(second) == [more[1].pk]
    assert second.json()["next_cursor"] is None


def test_engagement_get_and_patch(world):
    # given
    path = f"/engagements/{world.engagement.pk}"
    # when
    patched = patch(world.admin, path, {"description": "Tier-1 support"})
    fetched = get(world.viewer, path)
    # then
    assert patched.status_code == 200
    assert fetched.json()["description"] == "Tier-1 support"
    assert audited(world.client, "engagement.update", world.engagement.pk).changes == {
        "description": ["", "Tier-1 support"]
    }


def test_engagement_of_another_client_is_not_found(world):
    # when
    response = get(world.stranger, f"/engagements/{world.engagement.pk}")
    # then
    problem(response, 404)


def test_engagement_transition_legal_move_is_saved(world):
    # when
    response = post(
        world.admin, f"/engagements/{world.engagement.pk}/transition", {"status": "select"}
    )
    # then
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "select"
    assert response.json()["status_changed_at"] is not None
    world.engagement.refresh_from_db()
    assert world.engagement.status == "select"
    assert audited(world.client, "engagement.transition", world.engagement.pk).changes == {
        "status": ["assess", "select"]
    }


def test_engagement_transition_illegal_move_is_a_409_naming_the_allowed_moves(world):
    # when
    response = post(
        world.admin, f"/engagements/{world.engagement.pk}/transition", {"status": "pilot"}
    )
    # then
    body = problem(response, 409)
    assert body["current"] == "assess"
    assert body["allowed"] == ["select", "exit"]
    assert body["detail"] == services.ILLEGAL_MOVE.format(
        current="assess", target="pilot", allowed="select, exit"
    )
    world.engagement.refresh_from_db()
    assert world.engagement.status == "assess"


def test_engagement_transition_to_an_unknown_stage_names_status(world):
    # when
    response = post(
        world.admin, f"/engagements/{world.engagement.pk}/transition", {"status": "finished"}
    )
    # then
    assert error_fields(response) == ["status"]
    world.engagement.refresh_from_db()
    assert world.engagement.status == "assess"


def test_engagement_transition_by_a_client_is_forbidden(world):
    # when
    response = post(
        world.client_admin, f"/engagements/{world.engagement.pk}/transition", {"status": "select"}
    )
    # then
    problem(response, 403)


def test_engagement_sites_classifies_the_providers_sites(world):
    # given: the client is in the US
    make_site(world.provider, name="Austin", country="US", timezone="America/Chicago")
    make_site(world.provider, name="Krakow", country="PL", timezone="Europe/Warsaw")
    make_site(world.provider, name="Monterrey", country="MX", timezone="America/Monterrey")
    # when
    response = get(world.viewer, f"/engagements/{world.engagement.pk}/sites")
    # then
    assert response.status_code == 200
    assert [(s["site"], s["country"], s["shore"]) for s in response.json()] == [
        ("Austin", "US", "onshore"),
        ("Krakow", "PL", "offshore"),
        ("Monterrey", "MX", "nearshore"),
    ]


# ------------------------------------------------------------------ documents


def document_body(world: World, **overrides: Any) -> dict[str, Any]:
    return {
        "engagement_id": world.engagement.pk,
        "kind": "msa",
        "title": "Master services agreement",
        "effective_from": "2026-01-01",
        "body": "The parties agree.",
        **overrides,
    }


def test_document_create_then_a_second_supersedes_the_first(world):
    # given
    first = post(world.admin, "/documents", document_body(world))
    # when
    second = post(world.client_admin, "/documents", document_body(world, title="MSA amended"))
    # then
    assert (first.status_code, second.status_code) == (201, 201)
    v1 = get(world.viewer, f"/documents/{first.json()['id']}").json()
    v2 = second.json()
    assert (v1["version"], v2["version"]) == (1, 2)
    assert v1["is_current"] is False
    assert v1["superseded_by_id"] == v2["id"]
    assert v2["is_current"] is True
    assert v2["has_file"] is False


def test_document_list_filters_by_engagement_kind_and_current(world):
    # given
    v1 = make_document(world.engagement, "msa")
    v2 = make_document(world.engagement, "msa")
    dpa = make_document(world.engagement, "dpa")
    elsewhere = make_document(make_engagement(make_client(), world.provider), "msa")
    # when
    every = get(world.admin, "/documents")
    mine = get(world.admin, "/documents", engagement_id=world.engagement.pk)
    msas = get(world.admin, "/documents", engagement_id=world.engagement.pk, kind="msa")
    current = get(world.admin, "/documents", engagement_id=world.engagement.pk, current="true")
    bad_kind = get(world.admin, "/documents", kind="memo")
    # then
    assert ids(every) == [v1.pk, v2.pk, dpa.pk, elsewhere.pk]
    assert ids(mine) == [v1.pk, v2.pk, dpa.pk]
    assert ids(msas) == [v1.pk, v2.pk]
    assert ids(current) == [v2.pk, dpa.pk]
    assert error_fields(bad_kind) == ["kind"]


def test_document_upload_stores_the_file_and_download_returns_the_same_bytes(world):
    # given
    content = b"%PDF-1.7\n signed by both parties \x00\xff"
    upload = SimpleUploadedFile("signed-msa.pdf", content, content_type="application/pdf")
    # when
    created = world.client_admin.post(
        f"{API}/documents/upload",
        {
            "engagement_id": world.engagement.pk,
            "kind": "msa",
            "title": "Signed MSA",
            "effective_from": "2026-01-01",
            "signed_on": "2025-12-20",
            "signed_by_client": "J. Doe",
            "file": upload,
        },
    )
    download = world.viewer.get(f"{API}/documents/{created.json()['id']}/file")
    # then
    assert created.status_code == 201, created.content
    assert created.json()["has_file"] is True
    assert created.json()["signed_by_client"] == "J. Doe"
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == content
    assert "attachment" in download["Content-Disposition"]
    assert ".pdf" in download["Content-Disposition"]


def test_document_upload_refuses_effective_to_before_effective_from(world):
    # when
    response = world.client_admin.post(
        f"{API}/documents/upload",
        {
            "engagement_id": world.engagement.pk,
            "kind": "sow",
            "title": "SOW",
            "effective_from": "2026-06-01",
            "effective_to": "2026-05-01",
            "file": SimpleUploadedFile("sow.pdf", b"x"),
        },
    )
    # then
    assert error_fields(response) == ["effective_to"]
    assert not ContractDocument.objects.exists()


def test_document_upload_refuses_a_blank_title(world):
    # when
    response = world.client_admin.post(
        f"{API}/documents/upload",
        {
            "engagement_id": world.engagement.pk,
            "kind": "sow",
            "title": "  ",
            "effective_from": "2026-06-01",
            "file": SimpleUploadedFile("sow.pdf", b"x"),
        },
    )
    # then
    assert error_fields(response) == ["title"]


def test_document_file_of_a_text_document_is_not_found(world):
    # given
    document = make_document(world.engagement)
    # when
    response = world.viewer.get(f"{API}/documents/{document.pk}/file")
    # then
    problem(response, 404)


def test_document_file_of_another_client_is_not_found(world):
    # given
    document = make_document(
        world.engagement,
        body="",
        file=SimpleUploadedFile("nda.pdf", b"secret"),
    )
    # when
    response = world.stranger.get(f"{API}/documents/{document.pk}/file")
    # then
    problem(response, 404)


def test_document_create_refuses_effective_to_before_effective_from(world):
    # when
    response = post(
        world.admin,
        "/documents",
        document_body(world, effective_from="2026-06-01", effective_to="2026-05-31"),
    )
    # then
    assert error_fields(response) == ["effective_to"]
    assert not ContractDocument.objects.exists()


def test_document_create_without_body_or_file_is_a_422(world):
    # when
    response = post(world.admin, "/documents", document_body(world, body=""))
    # then
    assert error_fields(response) == ["body"]
    assert not ContractDocument.objects.exists()


def test_document_create_refuses_a_signatory_longer_than_the_column(world):
    # when
    response = post(world.admin, "/documents", document_body(world, signed_by_provider="x" * 201))
    # then
    assert error_fields(response) == ["signed_by_provider"]


def test_document_create_by_a_client_viewer_is_forbidden(world):
    # when
    response = post(world.viewer, "/documents", document_body(world))
    # then
    problem(response, 403)
    assert not ContractDocument.objects.exists()


def test_document_get_answers_dates_in_iso_format(world):
    # given
    document = make_document(world.engagement, effective_to=date(2026, 12, 31))
    # when
    body = get(world.viewer, f"/documents/{document.pk}").json()
    # then
    assert (body["effective_from"], body["effective_to"]) == ("2026-01-01", "2026-12-31")


def test_document_upload_refuses_a_signatory_longer_than_the_column(world):
    # when
    response = world.client_admin.post(
        f"{API}/documents/upload",
        {
            "engagement_id": world.engagement.pk,
            "kind": "sow",
            "title": "SOW",
            "effective_from": "2026-06-01",
            "signed_by_client": "x" * 201,
            "file": SimpleUploadedFile("sow.pdf", b"x"),
        },
    )
    # then
    assert error_fields(response) == ["signed_by_client"]
    assert not ContractDocument.objects.exists()


# ------------------------------------------------------------------ calendars


def test_calendar_create_get_patch_and_list(world):
    # given
    other = make_calendar(make_engagement(world.client, world.provider))
    # when
    created = post(
        world.ops,
        "/calendars",
        {"engagement_id": world.engagement.pk, "name": "NY hours", "spec": WEEKDAYS_9_TO_5},
    )
    calendar_id = created.json()["id"]
    patched = patch(
        world.ops, f"/calendars/{calendar_id}", {"spec": {"timezone": "UTC", "hours": "24/7"}}
    )
    listed = get(world.viewer, "/calendars", engagement_id=world.engagement.pk)
    # then
    assert created.status_code == 201, created.content
    assert created.json()["slug"] == "ny-hours"
    assert patched.json()["spec"] == {"timezone": "UTC", "hours": "24/7"}
    assert ids(listed) == [calendar_id]
    assert ids(get(world.viewer, "/calendars")) == [other.pk, calendar_id]
    assert audited(world.client, "calendar.update", calendar_id).changes["spec"][1] == {
        "timezone": "UTC",
        "hours": "24/7",
    }


def test_calendar_create_with_a_bad_spec_names_each_field_under_spec(world):
    # given
    spec = {
        "timezone": "Atlantis/Capital",
        "hours": {"mon": [["25:00", "17:00"]], "someday": []},
        "holidays": {"country": "XX"},
        "closed": ["2026-13-01"],
        "extra": 1,
    }
    # when
    response = post(
        world.ops, "/calendars", {"engagement_id": world.engagement.pk, "name": "C", "spec": spec}
    )
    # then
    assert error_fields(response) == [
        "spec.extra",
        "spec.timezone",
        "spec.hours.someday",
        "spec.hours.mon[0][0]",
        "spec.holidays.country",
        "spec.closed[0]",
    ]
    assert not BusinessCalendar.objects.exists()


def test_calendar_patch_with_a_bad_spec_keeps_the_old_one(world):
    # given
    calendar = make_calendar(world.engagement)
    # when
    response = patch(
        world.ops,
        f"/calendars/{calendar.pk}",
        {"spec": {**WEEKDAYS_9_TO_5, "hours": {"mon": [["09:00", "17:00"], ["16:00", "18:00"]]}}},
    )
    # then
    assert error_fields(response) == ["spec.hours.mon[1]"]
    assert problem(response, 422)["errors"][0]["message"] == calendar_spec.OVERLAP.format(
        other="hours.mon[0]"
    )
    calendar.refresh_from_db()
    assert calendar.spec == WEEKDAYS_9_TO_5


NINE_TO_FIVE = [["09:00", "17:00"]]


def preview_day(
    on: str,
    weekday: str,
    windows: list[list[str]] | None = None,
    minutes: int = 0,
    reason: str | None = None,
    holiday: str | None = None,
) -> dict[str, Any]:
    return {
        "date": on,
        "weekday": weekday,
        "windows": windows or [],
        "open_minutes": minutes,
        "reason": reason,
        "holiday": holiday,
    }


WARSAW_FORTNIGHT = [
    preview_day("2026-03-23", "mon", NINE_TO_FIVE, 480),
    preview_day("2026-03-24", "tue", NINE_TO_FIVE, 480),
    preview_day("2026-03-25", "wed", NINE_TO_FIVE, 480),
    preview_day("2026-03-26", "thu", NINE_TO_FIVE, 480),
    preview_day("2026-03-27", "fri", reason="closed"),
    preview_day("2026-03-28", "sat", reason="weekend"),
    preview_day("2026-03-29", "sun", [["01:00", "05:00"]], 180, reason="partial"),
    preview_day("2026-03-30", "mon", NINE_TO_FIVE, 480),
    preview_day("2026-03-31", "tue", NINE_TO_FIVE, 480),
    preview_day("2026-04-01", "wed", NINE_TO_FIVE, 480),
    preview_day("2026-04-02", "thu", NINE_TO_FIVE, 480),
    preview_day("2026-04-03", "fri", [["09:00", "13:00"]], 240, reason="partial"),
    preview_day("2026-04-04", "sat", reason="weekend"),
    preview_day("2026-04-05", "sun", reason="public_holiday", holiday="Easter Sunday"),
]


def test_calendar_preview_answers_each_day_of_a_fortnight(world):
    # given
    calendar = make_calendar(world.engagement, spec=WARSAW_OFFICE)
    # when
    response = get(world.viewer, f"/calendars/{calendar.pk}/preview", start="2026-03-23")
    # then
    assert response.status_code == 200, response.content
    assert response.json() == {
        "calendar_id": calendar.pk,
        "timezone": "Europe/Warsaw",
        "start": "2026-03-23",
        "days": WARSAW_FORTNIGHT,
    }


def test_calendar_preview_takes_days_and_starts_today_in_the_calendars_zone(world):
    # given
    calendar = make_calendar(world.engagement, spec=WARSAW_OFFICE)
    zone = ZoneInfo("Europe/Warsaw")
    before = timezone.now().astimezone(zone).date()
    # when
    response = get(world.viewer, f"/calendars/{calendar.pk}/preview", days=62)
    # then
    after = timezone.now().astimezone(zone).date()
    body = response.json()
    assert response.status_code == 200, response.content
    assert body["start"] in {before.isoformat(), after.isoformat()}
    assert len(body["days"]) == 62
    assert body["days"][0]["date"] == body["start"]


def test_calendar_preview_answers_the_next_14_days_by_default(world):
    # given
    calendar = make_calendar(world.engagement, spec=WARSAW_OFFICE)
    # when
    response = get(world.viewer, f"/calendars/{calendar.pk}/preview", start="2026-03-23")
    # then
    assert len(response.json()["days"]) == 14


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"days": 0}, "days"),
        ({"days": 63}, "days"),
        ({"days": "two weeks"}, "days"),
        ({"start": "2026-02-30"}, "start"),
        ({"start": "tomorrow"}, "start"),
        ({"start": "0001-01-01"}, "start"),
        ({"start": "2999-12-31", "days": 2}, "start"),
    ],
)
def test_calendar_preview_with_a_bad_range_names_the_field(world, params, field):
    # given
    calendar = make_calendar(world.engagement, spec=WARSAW_OFFICE)
    # when
    response = get(world.viewer, f"/calendars/{calendar.pk}/preview", **params)
    # then
    assert error_fields(response) == [field]


def test_calendar_preview_of_another_clients_calendar_is_not_found(world):
    # given
    calendar = make_calendar(world.engagement, spec=WARSAW_OFFICE)
    # when
    response = get(world.stranger, f"/calendars/{calendar.pk}/preview")
    # then
    problem(response, 404)


def test_calendar_patch_of_the_spec_writes_a_recompute_request(world):
    # given
    calendar = make_calendar(world.engagement)
    # when
    same = patch(world.ops, f"/calendars/{calendar.pk}", {"spec": WEEKDAYS_9_TO_5})
    changed = patch(world.ops, f"/calendars/{calendar.pk}", {"spec": WARSAW_OFFICE})
    # then
    assert (same.status_code, changed.status_code) == (200, 200)
    assert list(SlaRecompute.objects.values_list("kind", "calendar")) == [("calendar", calendar.pk)]


def test_calendar_create_by_finance_is_forbidden(world):
    # when
    response = post(
        world.finance,
        "/calendars",
        {"engagement_id": world.engagement.pk, "name": "C", "spec": WEEKDAYS_9_TO_5},
    )
    # then
    problem(response, 403)


# ------------------------------------------------------------------ SLA policies


def policy_body(world: World, calendar: BusinessCalendar, **overrides: Any) -> dict[str, Any]:
    return {
        "engagement_id": world.engagement.pk,
        "name": "Support SLA",
        "calendar_id": calendar.pk,
        "targets": [
            {
                "metric": "first_response",
                "priority": "P1",
                "target_value": "1",
                "unit": "business_hours",
                "comparison": "within",
                "credit": {"percent_of_fees": "2.5"},
            },
            {
                "metric": "accuracy",
                "target_value": "99.5",
                "unit": "percent",
                "comparison": "at_least",
            },
        ],
        **overrides,
    }


def test_sla_policy_create_answers_the_policy_with_its_targets(world):
    # given
    calendar = make_calendar(world.engagement)
    # when
    response = post(world.ops, "/sla-policies", policy_body(world, calendar))
    # then
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["version"], body["is_current"], body["superseded_by_id"]) == (1, True, None)
    targets = {t["metric"]: t for t in body["targets"]}
    assert targets["first_response"]["priority"] == "P1"
    assert targets["first_response"]["credit"] == {"percent_of_fees": "2.5"}
    assert targets["accuracy"]["priority"] is None
    assert targets["accuracy"]["comparison"] == "at_least"
    assert audited(world.client, "sla_policy.create", body["id"]).changes["targets"][0] is None


@pytest.mark.parametrize(
    ("target_overrides", "field"),
    [
        ({"metric": "turnaround", "unit": "percent"}, "targets[0].unit"),
        (
            {"metric": "accuracy", "unit": "percent", "comparison": "within"},
            "targets[0].comparison",
        ),
        (
            {
                "metric": "accuracy",
                "unit": "percent",
                "comparison": "at_least",
                "target_value": "101",
            },
            "targets[0].target_value",
        ),
        ({"window": "weekly"}, "targets[0].window"),
    ],
)
def test_sla_policy_create_refuses_a_target_that_does_not_fit(world, target_overrides, field):
    # given
    calendar = make_calendar(world.engagement)
    body = policy_body(world, calendar)
    body["targets"][0] = {**body["targets"][0], **target_overrides}
    body["targets"][0].pop("credit")
    # when
    response = post(world.ops, "/sla-policies", body)
    # then
    assert error_fields(response) == [field]
    assert not SlaPolicy.objects.exists()


@pytest.mark.parametrize(
    ("target_overrides", "fields"),
    [
        ({"unit": "light_years"}, ["targets[0].unit"]),
        ({"metric": "speed"}, ["targets[0].metric"]),
        ({"credit": {"percent_of_fees": "120"}}, ["targets[0].credit.percent_of_fees"]),
        (
            {"credit": {"flat_fee": "100"}},
            ["targets[0].credit.percent_of_fees", "targets[0].credit.flat_fee"],
        ),
        ({"target_value": "-1"}, ["targets[0].target_value"]),
    ],
)
def test_sla_policy_create_refuses_bad_values_of_a_target(world, target_overrides, fields):
    # given
    calendar = make_calendar(world.engagement)
    body = policy_body(world, calendar)
    body["targets"][0] = {**body["targets"][0], **target_overrides}
    # when
    response = post(world.ops, "/sla-policies", body)
    # then
    assert error_fields(response) == fields
    assert not SlaPolicy.objects.exists()


def test_sla_policy_create_refuses_a_duplicate_metric_and_priority(world):
    # given
    calendar = make_calendar(world.engagement)
    body = policy_body(world, calendar)
    body["targets"].append({**body["targets"][0], "target_value": "2"})
    # when
    response = post(world.ops, "/sla-policies", body)
    # then
    assert error_fields(response) == ["targets[2]"]


def test_sla_policy_create_with_a_calendar_of_another_client_names_calendar_id(world):
    # given
    foreign = make_calendar(make_engagement())
    # when
    response = post(world.ops, "/sla-policies", policy_body(world, foreign))
    # then
    assert error_fields(response) == ["calendar_id"]


def test_sla_policy_patch_makes_version_2_moves_processes_and_v1_cannot_be_revised(world):
    # given
    v1 = make_policy(world.engagement)
    process = make_process(world.engagement, sla_policy=v1)
    target = {
        "metric": "first_response",
        "priority": "P1",
        "target_value": "4",
        "unit": "business_hours",
        "comparison": "within",
    }
    # when
    revised = patch(world.ops, f"/sla-policies/{v1.pk}", {"targets": [target]})
    again = patch(world.ops, f"/sla-policies/{v1.pk}", {"name": "From the old one"})
    # then
    assert revised.status_code == 200, revised.content
    v2 = revised.json()
    assert (v2["version"], v2["slug"], v2["is_current"]) == (2, v1.slug, True)
    assert [t["target_value"] for t in v2["targets"]] == ["4.0000"]
    old = get(world.viewer, f"/sla-policies/{v1.pk}").json()
    assert (old["is_current"], old["superseded_by_id"]) == (False, v2["id"])
    assert [t["target_value"] for t in old["targets"]] == ["1.0000"]
    assert get(world.viewer, f"/processes/{process.pk}").json()["sla_policy_id"] == v2["id"]
    body = problem(again, 409)
    assert body["current_version"] == 2
    assert SlaPolicy.objects.filter(slug=v1.slug).count() == 2


def test_sla_policy_list_filters_current_and_engagement(world):
    # given
    v1 = make_policy(world.engagement)
    v2 = services.sla_policy_revise(actor=None, policy=v1, name="v2")
    elsewhere = make_policy(make_engagement(world.client, world.provider))
    # when
    every = get(world.viewer, "/sla-policies")
    current = get(world.viewer, "/sla-policies", engagement_id=world.engagement.pk, current=True)
    # then
    assert ids(every) == [v1.pk, v2.pk, elsewhere.pk]
    assert ids(current) == [v2.pk]


def test_sla_policy_create_defaults_and_answers_pause_statuses_and_warning_percents(world):
    # given
    calendar = make_calendar(world.engagement)
    # when
    default = post(world.ops, "/sla-policies", policy_body(world, calendar))
    chosen = post(
        world.ops,
        "/sla-policies",
        policy_body(
            world,
            calendar,
            name="Escalations",
            pause_statuses=["escalated", "failed"],
            warning_percents=[50, 80],
        ),
    )
    # then
    assert default.status_code == 201, default.content
    assert (default.json()["pause_statuses"], default.json()["warning_percents"]) == (
        ["waiting_on_client"],
        [75, 90],
    )
    assert chosen.status_code == 201, chosen.content
    assert (chosen.json()["pause_statuses"], chosen.json()["warning_percents"]) == (
        ["escalated", "failed"],
        [50, 80],
    )


@pytest.mark.parametrize(
    ("overrides", "errors_named"),
    [
        (
            {"warning_percents": [90, 75]},
            [{"field": "warning_percents", "message": services.NOT_ASCENDING}],
        ),
        (
            {"warning_percents": [0, 100]},
            [
                {
                    "field": "warning_percents",
                    "message": services.WARNING_RANGE.format(value=v, low=1, high=99),
                }
                for v in (0, 100)
            ],
        ),
        (
            {"warning_percents": [10, 20, 30, 40, 50, 60]},
            [
                {
                    "field": "warning_percents",
                    "message": services.TOO_MANY_WARNINGS.format(maximum=5),
                }
            ],
        ),
        (
            {"pause_statuses": ["in_progress"]},
            [
                {
                    "field": "pause_statuses",
                    "message": services.BAD_PAUSE_STATUS.format(
                        status="in_progress", allowed="escalated, failed, waiting_on_client"
                    ),
                }
            ],
        ),
    ],
)
def test_sla_policy_create_refuses_bad_warnings_or_pauses_by_name(world, overrides, errors_named):
    # given
    calendar = make_calendar(world.engagement)
    # when
    response = post(world.ops, "/sla-policies", policy_body(world, calendar, **overrides))
    # then
    assert problem(response, 422)["errors"] == errors_named
    assert not SlaPolicy.objects.exists()


def test_sla_policy_patch_takes_warning_percents_and_refuses_bad_ones(world):
    # given
    v1 = make_policy(world.engagement)
    # when
    bad = patch(world.ops, f"/sla-policies/{v1.pk}", {"warning_percents": [50, 50]})
    good = patch(world.ops, f"/sla-policies/{v1.pk}", {"warning_percents": [50, 95]})
    # then
    assert error_fields(bad) == ["warning_percents"]
    assert good.status_code == 200, good.content
    assert (good.json()["version"], good.json()["warning_percents"]) == (2, [50, 95])
    assert list(SlaRecompute.objects.values_list("kind", "policy")) == [
        ("policy", good.json()["id"])
    ]


def test_sla_policy_versions_lists_every_version_newest_first(world):
    # given
    calendar = make_calendar(world.engagement, name="Office hours")
    v1 = make_policy(world.engagement, calendar=calendar)
    revised = patch(
        world.ops,
        f"/sla-policies/{v1.pk}",
        {"warning_percents": [80], "pause_statuses": ["escalated"]},
    )
    v2 = SlaPolicy.objects.get(pk=revised.json()["id"])
    make_policy(world.engagement, name="Another policy")
    # when: asked of either version, by the client
    from_v1 = get(world.viewer, f"/sla-policies/{v1.pk}/versions")
    from_v2 = get(world.viewer, f"/sla-policies/{v2.pk}/versions")
    # then
    assert from_v1.status_code == 200, from_v1.content
    body = from_v1.json()
    assert body == from_v2.json()
    assert [(v["id"], v["version"], v["is_current"]) for v in body] == [
        (v2.pk, 2, True),
        (v1.pk, 1, False),
    ]
    newest, oldest = body
    assert newest["created_by"].startswith("key:")
    assert oldest["created_by"] == "system"
    assert (newest["warning_percents"], newest["pause_statuses"]) == ([80], ["escalated"])
    assert (oldest["warning_percents"], oldest["pause_statuses"]) == (
        [75, 90],
        ["waiting_on_client"],
    )
    assert (oldest["superseded_by_id"], newest["superseded_by_id"]) == (v2.pk, None)
    assert newest["calendar_id"] == oldest["calendar_id"] == calendar.pk
    assert [t["target_value"] for t in newest["targets"]] == ["1.0000"]
    assert newest["created_at"] >= oldest["created_at"]


def test_sla_policy_versions_of_another_clients_policy_is_not_found(world):
    # given
    policy = make_policy(world.engagement)
    # when
    response = get(world.stranger, f"/sla-policies/{policy.pk}/versions")
    # then
    problem(response, 404)


def test_sla_policy_versions_query_count_does_not_grow_with_versions(world):
    # given
    policy = make_policy(world.engagement)
    get(world.admin, f"/sla-policies/{policy.pk}")  # the key notes its first use once

    def queries_for(count: int) -> int:
        with CaptureQueriesContext(connection) as ctx:
            response = get(world.admin, f"/sla-policies/{policy.pk}/versions")
        assert len(response.json()) == count
        return len(ctx.captured_queries)

    services.sla_policy_revise(actor=None, policy=policy, name="v2")
    with_two = queries_for(2)
    current = SlaPolicy.objects.get(slug=policy.slug, superseded_by=None)
    for n in range(4):
        current = services.sla_policy_revise(actor=None, policy=current, name=f"v{n + 3}")
    # when
    with_six = queries_for(6)
    # then: the key's rows (its principal is kept; on PostgreSQL a prepared read,
    # which Django's log omits), the policy, the versions, their targets, the trail
    assert with_two == with_six == (4 if connection.vendor == "postgresql" else 5)


def test_sla_policy_create_by_finance_is_forbidden(world):
    # given
    calendar = make_calendar(world.engagement)
    # when
    response = post(world.finance, "/sla-policies", policy_body(world, calendar))
    # then
    problem(response, 403)


# ------------------------------------------------------------------ rate cards


def rate_card_body(world: World, **overrides: Any) -> dict[str, Any]:
    return {
        "engagement_id": world.engagement.pk,
        "name": "Email per item",
        "pricing_unit": "per_item",
        "price": "1.20",
        "currency": "USD",
        "tiers": [{"from_volume": 10000, "price": "0.95"}, {"from_volume": 50000, "price": "0.8"}],
        "minimum_monthly_fee": "5000",
        "effective_from": "2026-01-01",
        **overrides,
    }


def test_rate_card_create_by_finance_then_patch(world):
    # when
    created = post(world.finance, "/rate-cards", rate_card_body(world))
    patched = patch(world.finance, f"/rate-cards/{created.json()['id']}", {"price": "1.10"})
    # then
    assert created.status_code == 201, created.content
    assert created.json()["tiers"] == [
        {"from_volume": 10000, "price": "0.95"},
        {"from_volume": 50000, "price": "0.8"},
    ]
    assert patched.status_code == 200
    assert patched.json()["price"] == "1.1000"
    assert audited(world.client, "rate_card.update", created.json()["id"]).changes == {
        "price": ["1.2000", "1.1000"]
    }


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        (
            {"tiers": [{"from_volume": 500, "price": "1"}, {"from_volume": 100, "price": "0.9"}]},
            "tiers",
        ),
        ({"price": "-1"}, "price"),
        ({"currency": "XYZ"}, "currency"),
        ({"currency": "DOLLARS"}, "currency"),
        ({"pricing_unit": "per_smile"}, "pricing_unit"),
        ({"effective_to": "2025-12-31"}, "effective_to"),
    ],
)
def test_rate_card_create_names_the_bad_field(world, overrides, field):
    # when
    response = post(world.finance, "/rate-cards", rate_card_body(world, **overrides))
    # then
    assert error_fields(response) == [field]
    assert not RateCard.objects.exists()


def test_rate_card_create_by_ops_manager_is_forbidden(world):
    # when
    response = post(world.ops, "/rate-cards", rate_card_body(world))
    # then
    problem(response, 403)
    assert not RateCard.objects.exists()


def test_rate_card_list_filters_by_engagement(world):
    # given
    card = make_rate_card(world.engagement)
    other = make_rate_card(make_engagement(world.client, world.provider))
    # when
    every = get(world.viewer, "/rate-cards")
    mine = get(world.viewer, "/rate-cards", engagement_id=world.engagement.pk)
    # then
    assert ids(every) == [card.pk, other.pk]
    assert ids(mine) == [card.pk]


# ------------------------------------------------------------------ processes


def process_body(world: World, **overrides: Any) -> dict[str, Any]:
    return {
        "engagement_id": world.engagement.pk,
        "name": "Email support",
        "channel": "email",
        "required_skills": {"billing": 3},
        "languages": ["en", "es"],
        "item_schema": {"type": "object", "properties": {"subject": {"type": "string"}}},
        "sop": "# Email support\n1. Read the email.",
        **overrides,
    }


def test_process_create_by_ops_manager_answers_its_sop(world):
    # given
    policy = make_policy(world.engagement)
    # when
    response = post(world.ops, "/processes", process_body(world, sla_policy_id=policy.pk))
    # then
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["slug"] == "email-support"
    assert body["sop_version"] == 1
    assert body["sop"].startswith("# Email support")
    assert body["sla_policy_id"] == policy.pk
    assert body["required_skills"] == {"billing": 3}
    assert audited(world.client, "process.create", body["id"]).actor_api_key_id is not None


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"item_schema": {"type": "nope"}}, "item_schema"),
        ({"required_skills": {"billing": 6}}, "required_skills.billing"),
        ({"required_skills": {"billing": 0}}, "required_skills.billing"),
        ({"languages": ["zz"]}, "languages"),
        ({"channel": "pigeon"}, "channel"),
        ({"colour": "blue"}, "colour"),
    ],
)
def test_process_create_names_the_bad_field(world, overrides, field):
    # when
    response = post(world.ops, "/processes", process_body(world, **overrides))
    # then
    assert error_fields(response) == [field]
    assert not Process.objects.exists()


def test_process_create_refuses_a_language_that_is_not_iso_639_1(world):
    # when
    response = post(world.ops, "/processes", process_body(world, languages=["eng"]))
    # then
    assert error_fields(response) == ["languages[0]"]


def test_process_create_refuses_a_policy_of_another_engagement(world):
    # given
    other = make_policy(make_engagement(world.client, world.provider))
    # when
    response = post(world.ops, "/processes", process_body(world, sla_policy_id=other.pk))
    # then
    assert error_fields(response) == ["sla_policy_id"]
    assert not Process.objects.exists()


def test_process_create_with_another_clients_policy_names_sla_policy_id(world):
    # given
    foreign = make_policy(make_engagement())
    # when
    response = post(world.ops, "/processes", process_body(world, sla_policy_id=foreign.pk))
    # then
    assert error_fields(response) == ["sla_policy_id"]


def test_process_create_by_a_client_viewer_is_forbidden(world):
    # when
    response = post(world.viewer, "/processes", process_body(world))
    # then
    assert problem(response, 403)["title"] == "Forbidden"
    assert not Process.objects.exists()


def test_process_patch_sop_makes_version_2_and_keeps_version_1(world):
    # given
    process_id = post(world.ops, "/processes", process_body(world, sop="v1 steps")).json()["id"]
    # when
    patched = patch(world.ops, f"/processes/{process_id}", {"sop": "v2 steps", "channel": "chat"})
    versions = get(world.viewer, f"/processes/{process_id}/sop-versions")
    # then
    assert patched.status_code == 200, patched.content
    assert (patched.json()["sop"], patched.json()["sop_version"]) == ("v2 steps", 2)
    assert patched.json()["channel"] == "chat"
    assert [(v["version"], v["body"]) for v in versions.json()] == [
        (2, "v2 steps"),
        (1, "v1 steps"),
    ]
    actions = set(
        AuditEvent.objects.filter(
            organisation=world.client, object_type="contracts.process", object_id=str(process_id)
        ).values_list("action", flat=True)
    )
    assert actions == {"process.create", "process.update", "process.sop_revise"}


def test_process_patch_with_an_invalid_item_schema_changes_nothing(world):
    # given
    process = make_process(world.engagement)
    # when
    response = patch(world.ops, f"/processes/{process.pk}", {"item_schema": {"type": 12}})
    # then
    assert error_fields(response) == ["item_schema"]
    process.refresh_from_db()
    assert process.item_schema == {"type": "object"}


def test_process_list_filters_by_engagement_and_channel(world):
    # given
    email = make_process(world.engagement, channel="email")
    chat = make_process(world.engagement, channel="chat")
    elsewhere = make_process(make_engagement(world.client, world.provider), channel="email")
    # when
    every = get(world.viewer, "/processes")
    emails = get(world.viewer, "/processes", channel="email")
    mine = get(world.viewer, "/processes", engagement_id=world.engagement.pk, channel="chat")
    bad = get(world.viewer, "/processes", channel="pigeon")
    # then
    assert ids(every) == [email.pk, chat.pk, elsewhere.pk]
    assert ids(emails) == [email.pk, elsewhere.pk]
    assert ids(mine) == [chat.pk]
    assert error_fields(bad) == ["channel"]


def test_process_list_shows_each_current_sop(world):
    # given
    ops = make_principal(world.provider, "ops_manager")
    revised = make_process(world.engagement, sop="old")
    services.process_update(actor=ops, process=revised, data={}, sop="new")
    bare = make_process(world.engagement)
    # when
    items = get(world.viewer, "/processes").json()["items"]
    # then
    assert [(p["id"], p["sop"], p["sop_version"]) for p in items] == [
        (revised.pk, "new", 2),
        (bare.pk, "", None),
    ]


# ------------------------------------------------------------------ every list: constant queries

# The key, its user's roles, the page; plus one prefetch where rows carry children.
LIST_QUERIES = {
    "/engagements": 3,
    "/documents": 3,
    "/calendars": 3,
    "/sla-policies": 4,
    "/rate-cards": 3,
    "/processes": 4,
}


def _rows(path: str) -> Callable[[Engagement, int], None]:
    def engagements(engagement: Engagement, n: int) -> None:
        for _ in range(n):
            make_engagement(make_client(), engagement.provider)

    def documents(engagement: Engagement, n: int) -> None:
        for i in range(n):
            make_document(engagement, ["msa", "sow", "sla", "dpa", "nda"][i % 5])

    def calendars(engagement: Engagement, n: int) -> None:
        for _ in range(n):
            make_calendar(engagement)

    def policies(engagement: Engagement, n: int) -> None:
        for _ in range(n):
            make_policy(engagement)

    def rate_cards(engagement: Engagement, n: int) -> None:
        for _ in range(n):
            make_rate_card(engagement)

    def processes(engagement: Engagement, n: int) -> None:
        ops = make_principal(engagement.provider, "ops_manager")
        for i in range(n):
            process = make_process(engagement, sop=f"steps {i}")
            services.process_update(actor=ops, process=process, data={}, sop=f"steps {i} v2")

    return {
        "/engagements": engagements,
        "/documents": documents,
        "/calendars": calendars,
        "/sla-policies": policies,
        "/rate-cards": rate_cards,
        "/processes": processes,
    }[path]


@pytest.mark.parametrize("path", list(LIST_QUERIES))
def test_list_query_count_does_not_grow_with_rows(world, path, django_assert_max_num_queries):
    # given
    add_rows = _rows(path)
    get(world.admin, path)  # the key's first use notes its last-used time once

    def queries_for_list(expected_rows: int) -> int:
        with CaptureQueriesContext(connection) as ctx:
            response = get(world.admin, path, limit=50)
        assert len(response.json()["items"]) >= expected_rows
        return len(ctx.captured_queries)

    add_rows(world.engagement, 3)
    with_three = queries_for_list(3)
    add_rows(world.engagement, 7)
    # when
    with django_assert_max_num_queries(LIST_QUERIES[path]):
        with_ten = queries_for_list(10)
    # then
    assert with_three == with_ten


# ------------------------------------------------------------------ the trail


def test_each_api_write_is_audited_in_the_clients_chain_with_the_key(world):
    # given
    calendar = make_calendar(world.engagement)
    writes = [
        (world.admin, "/documents", document_body(world), "document.create"),
        (
            world.ops,
            "/calendars",
            {"engagement_id": world.engagement.pk, "name": "Cal", "spec": WEEKDAYS_9_TO_5},
            "calendar.create",
        ),
        (world.ops, "/sla-policies", policy_body(world, calendar), "sla_policy.create"),
        (world.finance, "/rate-cards", rate_card_body(world), "rate_card.create"),
        (world.ops, "/processes", process_body(world), "process.create"),
    ]
    # when
    created = [(post(client, path, body), action) for client, path, body, action in writes]
    # then
    for response, action in created:
        assert response.status_code == 201, response.content
        event = audited(world.client, action, response.json()["id"])
        assert event.actor_api_key_id is not None
        assert event.actor_label.startswith("key:")
    assert not AuditEvent.objects.filter(
        organisation=world.provider, action__in=[action for *_, action in writes]
    ).exists()
