"""Writes of the contract side: validation, versioning, permissions and the audit trail."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from offload.contracts import services
from offload.contracts.models import (
    ContractDocument,
    Process,
    SlaPolicy,
    SlaRecompute,
    SopVersion,
)
from offload.contracts.tests.factories import (
    WEEKDAYS_9_TO_5,
    make_calendar,
    make_document,
    make_engagement,
    make_policy,
    make_process,
    make_rate_card,
    target,
)
from offload.core import errors
from offload.sla import spec as calendar_spec
from offload.tenancy import audit
from offload.tenancy.models import AuditEvent
from offload.tenancy.tests.factories import make_client, make_principal, make_provider

pytestmark = pytest.mark.django_db


def fields_of(exc: pytest.ExceptionInfo[errors.ValidationFailed]) -> list[str]:
    return [e.field for e in exc.value.errors]


def events(organisation, action: str, obj=None) -> list[AuditEvent]:
    qs = AuditEvent.objects.filter(organisation=organisation, action=action)
    if obj is not None:
        qs = qs.filter(object_id=str(obj.pk), object_type=obj._meta.label_lower)
    return list(qs.order_by("seq"))


# ------------------------------------------------------------------ engagements


def test_engagement_create_takes_the_actors_provider_and_audits_in_the_clients_chain():
    # given
    provider, other_provider, client = make_provider(), make_provider(), make_client()
    admin = make_principal(provider, "admin")
    # when
    engagement = services.engagement_create(
        actor=admin, client=client, provider=other_provider, name="Acme support"
    )
    # then
    assert engagement.provider == provider
    assert engagement.slug == "acme-support"
    assert engagement.status == "assess"
    [event] = events(client, "engagement.create", engagement)
    assert event.actor_user == admin.user
    assert event.changes["name"] == [None, "Acme support"]
    assert event.changes["provider_id"] == [None, provider.pk]
    assert audit.verify() == []


def test_engagement_create_refuses_a_provider_as_client():
    # given
    provider = make_provider()
    # when
    with pytest.raises(errors.ValidationFailed) as exc:
        services.engagement_create(
            actor=None, client=make_provider(), provider=provider, name="Wrong way round"
        )
    # then
    assert exc.value.errors == [errors.FieldError("client_id", services.NOT_A_CLIENT)]


@pytest.mark.parametrize("role", ["ops_manager", "finance", "agent"])
def test_engagement_create_needs_a_provider_admin(role):
    # given
    provider, client = make_provider(), make_client()
    # when / then
    with pytest.raises(errors.PermissionDenied):
        services.engagement_create(
            actor=make_principal(provider, role), client=client, provider=provider, name="E"
        )


def test_engagement_create_refuses_a_client_admin():
    # given
    client = make_client()
    # when / then
    with pytest.raises(errors.PermissionDenied):
        services.engagement_create(
            actor=make_principal(client, "client_admin"),
            client=client,
            provider=make_provider(),
            name="E",
        )


def test_engagement_create_with_a_taken_slug_names_slug():
    # given
    client, provider = make_client(), make_provider()
    make_engagement(client, provider, name="Support")
    # when
    with pytest.raises(errors.ValidationFailed) as exc:
        make_engagement(client, provider, name="Support")
    # then
    assert fields_of(exc) == ["slug"]


def test_engagement_update_audits_only_changed_fields():
    # given
    engagement = make_engagement(name="Old name")
    admin = make_principal(engagement.provider, "admin")
    # when
    services.engagement_update(
        actor=admin, engagement=engagement, data={"name": "New name", "description": ""}
    )
    # then
    engagement.refresh_from_db()
    assert engagement.name == "New name"
    [event] = events(engagement.client, "engagement.update", engagement)
    assert event.changes == {"name": ["Old name", "New name"]}


def test_engagement_transition_moves_one_step_and_audits():
    # given
    engagement = make_engagement()
    admin = make_principal(engagement.provider, "admin")
    # when
    moved = services.engagement_transition(actor=admin, engagement=engagement, status="select")
    # then
    engagement.refresh_from_db()
    assert engagement.status == "select"
    assert engagement.status_changed_at is not None
    assert moved.status == "select"
    [event] = events(engagement.client, "engagement.transition", engagement)
    assert event.changes == {"status": ["assess", "select"]}
    assert event.actor_user == admin.user


def test_engagement_transition_refuses_a_skip_naming_the_allowed_moves():
    # given
    engagement = make_engagement()
    # when
    with pytest.raises(errors.Conflict) as exc:
        services.engagement_transition(actor=None, engagement=engagement, status="live")
    # then
    assert exc.value.detail == services.ILLEGAL_MOVE.format(
        current="assess", target="live", allowed="select, exit"
    )
    assert exc.value.extra == {"current": "assess", "allowed": ["select", "exit"]}
    engagement.refresh_from_db()
    assert engagement.status == "assess"
    assert events(engagement.client, "engagement.transition") == []


def test_engagement_transition_refuses_going_back():
    # given
    engagement = make_engagement()
    services.engagement_transition(actor=None, engagement=engagement, status="select")
    # when
    with pytest.raises(errors.Conflict) as exc:
        services.engagement_transition(actor=None, engagement=engagement, status="assess")
    # then
    assert exc.value.extra == {"current": "select", "allowed": ["contract", "exit"]}


def test_engagement_transition_exit_is_final():
    # given
    engagement = make_engagement()
    services.engagement_transition(actor=None, engagement=engagement, status="exit")
    # when
    with pytest.raises(errors.Conflict) as exc:
        services.engagement_transition(actor=None, engagement=engagement, status="select")
    # then
    assert exc.value.extra == {"current": "exit", "allowed": []}
    assert "none (final)" in exc.value.detail


def test_engagement_transition_walks_the_whole_lifecycle():
    # given
    engagement = make_engagement()
    path = ["select", "contract", "transition", "pilot", "live", "exit"]
    # when
    for stage in path:
        services.engagement_transition(actor=None, engagement=engagement, status=stage)
    # then
    engagement.refresh_from_db()
    assert engagement.status == "exit"
    changes = [e.changes["status"] for e in events(engagement.client, "engagement.transition")]
    assert changes == [list(pair) for pair in zip(["assess", *path[:-1]], path, strict=True)]


def test_engagement_transition_to_an_unknown_stage_names_status():
    # given
    engagement = make_engagement()
    # when
    with pytest.raises(errors.ValidationFailed) as exc:
        services.engagement_transition(actor=None, engagement=engagement, status="done")
    # then
    assert fields_of(exc) == ["status"]


def test_engagement_transition_needs_engagement_manage():
    # given
    engagement = make_engagement()
    # when / then
    with pytest.raises(errors.PermissionDenied):
        services.engagement_transition(
            actor=make_principal(engagement.provider, "ops_manager"),
            engagement=engagement,
            status="select",
        )
    engagement.refresh_from_db()
    assert engagement.status == "assess"


# ------------------------------------------------------------------ documents


def test_document_second_of_a_kind_becomes_version_2_and_supersedes_version_1():
    # given
    engagement = make_engagement()
    v1 = make_document(engagement, "msa", title="MSA 2026")
    # when
    v2 = make_document(engagement, "msa", title="MSA 2026 amended")
    # then
    v1.refresh_from_db()
    assert (v1.version, v2.version) == (1, 2)
    assert v1.superseded_by == v2
    assert v1.is_current is False
    assert v2.is_current is True
    assert ContractDocument.objects.filter(engagement=engagement, kind="msa").count() == 2


def test_document_third_version_supersedes_only_the_second():
    # given
    engagement = make_engagement()
    v1 = make_document(engagement, "sow")
    v2 = make_document(engagement, "sow")
    # when
    v3 = make_document(engagement, "sow")
    # then
    v1.refresh_from_db()
    v2.refresh_from_db()
    assert v3.version == 3
    assert v1.superseded_by == v2
    assert v2.superseded_by == v3
    assert v3.is_current


def test_document_of_another_kind_starts_its_own_versions():
    # given
    engagement = make_engagement()
    msa = make_document(engagement, "msa")
    # when
    dpa = make_document(engagement, "dpa")
    # then
    msa.refresh_from_db()
    assert dpa.version == 1
    assert msa.is_current


def test_document_versions_are_per_engagement():
    # given
    client, provider = make_client(), make_provider()
    first, second = make_engagement(client, provider), make_engagement(client, provider)
    make_document(first, "msa")
    # when
    other = make_document(second, "msa")
    # then
    assert other.version == 1


def test_document_create_with_a_file_stores_it():
    # given
    engagement = make_engagement()
    upload = SimpleUploadedFile("signed.pdf", b"%PDF-1.7 signed", content_type="application/pdf")
    # when
    document = services.document_create(
        actor=None,
        engagement=engagement,
        kind="nda",
        title="NDA",
        effective_from=date(2026, 1, 1),
        file=upload,
    )
    # then
    document.refresh_from_db()
    assert document.file.name.endswith(".pdf")
    with document.file.open("rb") as stored:
        assert stored.read() == b"%PDF-1.7 signed"


def test_document_create_refuses_effective_to_before_effective_from():
    # given
    engagement = make_engagement()
    # when
    with pytest.raises(errors.ValidationFailed) as exc:
        make_document(engagement, effective_from=date(2026, 6, 1), effective_to=date(2026, 5, 31))
    # then
    assert exc.value.errors == [errors.FieldError("effective_to", services.DATES_REVERSED)]
    assert not ContractDocument.objects.filter(engagement=engagement).exists()


def test_document_create_refuses_neither_body_nor_file():
    # given
    engagement = make_engagement()
    # when
    with pytest.raises(errors.ValidationFailed) as exc:
        make_document(engagement, body="")
    # then
    assert exc.value.errors == [errors.FieldError("body", services.NO_BODY)]


def test_document_create_by_client_admin_on_own_engagement_is_audited():
    # given
    engagement = make_engagement()
    client_admin = make_principal(engagement.client, "client_admin")
    # when
    document = make_document(engagement, actor=client_admin)
    # then
    [event] = events(engagement.client, "document.create", document)
    assert event.actor_user == client_admin.user
    assert event.changes["version"] == [None, 1]


def test_document_create_by_another_client_is_not_found():
    # given
    engagement = make_engagement()
    stranger = make_principal(make_client(), "client_admin")
    # when / then
    with pytest.raises(errors.NotFound):
        make_document(engagement, actor=stranger)


def test_document_create_by_client_viewer_is_forbidden():
    # given
    engagement = make_engagement()
    # when / then
    with pytest.raises(errors.PermissionDenied):
        make_document(engagement, actor=make_principal(engagement.client, "client_viewer"))


# ------------------------------------------------------------------ calendars


def test_calendar_create_stores_the_spec_and_audits():
    # given
    engagement = make_engagement()
    planner = make_principal(engagement.provider, "wfm_planner")
    # when
    calendar = services.calendar_create(
        actor=planner, engagement=engagement, name="New York hours", spec=WEEKDAYS_9_TO_5
    )
    # then
    assert calendar.slug == "new-york-hours"
    assert calendar.timezone == "America/New_York"
    assert (calendar.client, calendar.provider) == (engagement.client, engagement.provider)
    [event] = events(engagement.client, "calendar.create", calendar)
    assert event.changes["spec"] == [None, WEEKDAYS_9_TO_5]


def test_calendar_create_names_each_bad_spec_field_under_spec():
    # given
    engagement = make_engagement()
    bad = {**WEEKDAYS_9_TO_5, "timezone": "Mars/Base", "hours": {"mon": [["25:00", "17:00"]]}}
    # when
    with pytest.raises(errors.ValidationFailed) as exc:
        make_calendar(engagement, spec=bad)
    # then
    assert fields_of(exc) == ["spec.timezone", "spec.hours.mon[0][0]"]


def test_calendar_update_validates_a_new_spec_and_keeps_the_old_one():
    # given
    calendar = make_calendar(make_engagement())
    admin = make_principal(calendar.provider, "admin")
    # when
    with pytest.raises(errors.ValidationFailed) as exc:
        services.calendar_update(
            actor=admin, calendar=calendar, data={"spec": {"timezone": "UTC", "hours": "9-5"}}
        )
    # then
    assert fields_of(exc) == ["spec.hours"]
    calendar.refresh_from_db()
    assert calendar.spec == WEEKDAYS_9_TO_5


def test_calendar_update_audits_the_change():
    # given
    calendar = make_calendar(make_engagement())
    admin = make_principal(calendar.provider, "ops_manager")
    new_spec = {"timezone": "UTC", "hours": calendar_spec.ALWAYS_OPEN, "holidays": None}
    # when
    services.calendar_update(actor=admin, calendar=calendar, data={"spec": new_spec})
    # then
    calendar.refresh_from_db()
    assert calendar.spec == new_spec
    [event] = events(calendar.client, "calendar.update", calendar)
    assert event.changes == {"spec": [WEEKDAYS_9_TO_5, new_spec]}


def recomputes() -> list[tuple[str, int | None, int | None]]:
    return list(SlaRecompute.objects.order_by("id").values_list("kind", "policy", "calendar"))


def test_calendar_update_of_the_spec_writes_a_recompute_request_with_it():
    # given
    calendar = make_calendar(make_engagement())
    ops = make_principal(calendar.provider, "ops_manager")
    new_spec = {"timezone": "UTC", "hours": calendar_spec.ALWAYS_OPEN, "holidays": None}
    # when
    services.calendar_update(actor=ops, calendar=calendar, data={"spec": new_spec})
    # then
    [request] = SlaRecompute.objects.all()
    assert (request.kind, request.calendar, request.policy) == ("calendar", calendar, None)
    assert (request.client, request.provider) == (calendar.client, calendar.provider)
    assert request.done_at is None
    assert request.due_at <= timezone.now()


@pytest.mark.parametrize(
    "data",
    [{"spec": WEEKDAYS_9_TO_5}, {"name": "Renamed"}, {"name": "Renamed", "spec": WEEKDAYS_9_TO_5}],
    ids=["same spec", "name only", "name and the same spec"],
)
def test_calendar_update_that_leaves_the_spec_writes_no_recompute_request(data):
    # given
    calendar = make_calendar(make_engagement())
    ops = make_principal(calendar.provider, "ops_manager")
    # when
    services.calendar_update(actor=ops, calendar=calendar, data=data)
    # then
    assert recomputes() == []


def test_calendar_update_with_a_bad_spec_writes_no_recompute_request():
    # given
    calendar = make_calendar(make_engagement())
    ops = make_principal(calendar.provider, "ops_manager")
    # when
    with pytest.raises(errors.ValidationFailed):
        services.calendar_update(actor=ops, calendar=calendar, data={"spec": {"timezone": "UTC"}})
    # then
    assert recomputes() == []


def test_a_calendar_with_recompute_requests_can_still_be_deleted_and_they_go_with_it():
    # given: the calendar's spec was corrected once, and nothing uses it
    calendar = make_calendar(make_engagement())
    admin = make_principal(calendar.provider, "admin")
    services.calendar_update(
        actor=admin, calendar=calendar, data={"spec": {**WEEKDAYS_9_TO_5, "closed": ["2026-12-24"]}}
    )
    # when
    services.calendar_delete(actor=admin, calendar=calendar)
    # then
    assert recomputes() == []


def test_calendar_create_needs_a_calendar_role():
    # given
    engagement = make_engagement()
    # when / then
    with pytest.raises(errors.PermissionDenied):
        services.calendar_create(
            actor=make_principal(engagement.provider, "finance"),
            engagement=engagement,
            name="C",
            spec=WEEKDAYS_9_TO_5,
        )


# ------------------------------------------------------------------ SLA policies


def test_sla_policy_create_with_targets_audits_them():
    # given
    engagement = make_engagement()
    calendar = make_calendar(engagement)
    ops = make_principal(engagement.provider, "ops_manager")
    targets = [
        target("first_response", "P1", "1", credit={"percent_of_fees": "2.5"}),
        target("turnaround", "", "2"),
        target("accuracy", "", "99.5", bonus={"percent_of_fees": "1"}),
    ]
    # when
    policy = services.sla_policy_create(
        actor=ops, engagement=engagement, name="Support SLA", calendar=calendar, targets=targets
    )
    # then
    assert (policy.version, policy.is_current, policy.slug) == (1, True, "support-sla")
    assert policy.pause_statuses == ["waiting_on_client"]
    rows = {(t.metric, t.priority): t for t in policy.targets.all()}
    assert set(rows) == {("first_response", "P1"), ("turnaround", ""), ("accuracy", "")}
    assert rows[("first_response", "P1")].credit == {"percent_of_fees": "2.5"}
    assert rows[("accuracy", "")].target_value == Decimal("99.5")
    assert rows[("accuracy", "")].comparison == "at_least"
    [event] = events(engagement.client, "sla_policy.create", policy)
    assert [t["metric"] for t in event.changes["targets"][1]] == [
        "accuracy",
        "first_response",
        "turnaround",
    ]


@pytest.mark.parametrize(
    ("bad_target", "field", "message"),
    [
        (
            target("turnaround", "P1", "2", unit="percent"),
            "targets[0].unit",
            services.BAD_UNIT.format(
                unit="percent",
                metric="turnaround",
                allowed="business_days, business_hours, business_minutes",
            ),
        ),
        (
            target("accuracy", "", "99", comparison="within"),
            "targets[0].comparison",
            services.BAD_COMPARISON.format(
                comparison="within", metric="accuracy", expected="at_least"
            ),
        ),
        (
            target("abandonment_rate", "", "5", comparison="at_least"),
            "targets[0].comparison",
            services.BAD_COMPARISON.format(
                comparison="at_least", metric="abandonment_rate", expected="at_most"
            ),
        ),
        (target("first_response", "P1", "0"), "targets[0].target_value", services.NOT_POSITIVE),
        (
            target("accuracy", "", "150"),
            "targets[0].target_value",
            services.OUT_OF_RANGE.format(maximum=100, unit="%"),
        ),
        (
            target("csat", "", "6", unit="score", comparison="at_least"),
            "targets[0].target_value",
            services.SCORE_RANGE,
        ),
        (
            target("first_response", "P1", "1", window="weekly"),
            "targets[0].window",
            services.BAD_WINDOW.format(window="weekly", allowed="monthly"),
        ),
        (
            target("first_response", "P1", "1", credit={"percent_of_fees": "120"}),
            "targets[0].credit",
            services.BAD_TERMS,
        ),
        (
            target("first_response", "P1", "1", bonus={"flat_fee": "100"}),
            "targets[0].bonus",
            services.BAD_TERMS,
        ),
        (
            target("first_response", "P1", "1", credit={"percent_of_fees": "lots"}),
            "targets[0].credit",
            services.BAD_TERMS,
        ),
    ],
)
def test_sla_policy_create_refuses_a_target_that_does_not_fit(bad_target, field, message):
    # given
    engagement = make_engagement()
    # when
    with pytest.raises(errors.ValidationFailed) as exc:
        make_policy(engagement, targets=[bad_target])
    # then
    assert exc.value.errors == [errors.FieldError(field, message)]
    assert not SlaPolicy.objects.filter(engagement=engagement).exists()


def test_sla_policy_create_accepts_csat_as_a_score():
    # given
    engagement = make_engagement()
    # when
    policy = make_policy(
        engagement, targets=[target("csat", "", "4.2", unit="score", comparison="at_least")]
    )
    # then
    assert policy.targets.get().target_value == Decimal("4.2")


def test_sla_policy_create_refuses_the_same_metric_and_priority_twice():
    # given
    engagement = make_engagement()
    # when
    with pytest.raises(errors.ValidationFailed) as exc:
        make_policy(
            engagement,
            targets=[target("first_response", "P1", "1"), target("first_response", "P1", "2")],
        )
    # then
    assert exc.value.errors == [
        errors.FieldError(
            "targets[1]", services.DUPLICATE_TARGET.format(metric="first_response", priority="P1")
        )
    ]


def test_sla_policy_create_allows_one_metric_at_several_priorities():
    # given
    engagement = make_engagement()
    # when
    policy = make_policy(
        engagement,
        targets=[target("first_response", p, str(i)) for i, p in enumerate(["P1", "P2", ""], 1)],
    )
    # then
    assert policy.targets.count() == 3


def test_sla_policy_create_refuses_a_calendar_of_another_engagement():
    # given
    client, provider = make_client(), make_provider()
    engagement, other = make_engagement(client, provider), make_engagement(client, provider)
    foreign = make_calendar(other)
    # when
    with pytest.raises(errors.ValidationFailed) as exc:
        make_policy(
            engagement,
            calendar=foreign,
            targets=[target(calendar=foreign)],
        )
    # then
    assert fields_of(exc) == ["calendar_id", "targets[0].calendar_id"]


def test_sla_policy_create_refuses_an_unknown_pause_status_and_negative_risk():
    # given
    engagement = make_engagement()
    # when
    with pytest.raises(errors.ValidationFailed) as exc:
        make_policy(engagement, pause_statuses=["lunch"], at_risk_percent=Decimal("-1"))
    # then
    assert fields_of(exc) == ["at_risk_percent", "pause_statuses"]


def test_sla_policy_create_needs_ops_manager_or_admin():
    # given
    engagement = make_engagement()
    # when / then
    with pytest.raises(errors.PermissionDenied):
        make_policy(engagement, actor=make_principal(engagement.provider, "finance"))


def test_sla_policy_revise_makes_version_2_and_moves_processes():
    # given
    engagement = make_engagement()
    v1 = make_policy(engagement, targets=[target("first_response", "P1", "1")])
    process = make_process(engagement, sla_policy=v1)
    ops = make_principal(engagement.provider, "ops_manager")
    # when
    v2 = services.sla_policy_revise(
        actor=ops, policy=v1, targets=[target("first_response", "P1", "2")]
    )
    # then
    v1.refresh_from_db()
    process.refresh_from_db()
    assert (v2.version, v2.slug, v2.is_current) == (2, v1.slug, True)
    assert v1.superseded_by == v2
    assert v1.is_current is False
    assert v1.targets.get().target_value == Decimal("1")
    assert v2.targets.get().target_value == Decimal("2")
    assert process.sla_policy == v2
    [event] = events(engagement.client, "sla_policy.revise", v2)
    assert event.changes["version"] == [1, 2]
    assert event.changes["targets"][0][0]["target_value"] == "1.0000"
    assert event.changes["targets"][1][0]["target_value"] == "2.0000"


def test_sla_policy_revise_without_targets_copies_them():
    # given
    engagement = make_engagement()
    calendar = make_calendar(engagement)
    v1 = make_policy(
        engagement,
        targets=[
            target("first_response", "P1", "1", calendar=calendar, credit={"percent_of_fees": "3"})
        ],
    )
    # when
    v2 = services.sla_policy_revise(actor=None, policy=v1, name="Renamed")
    # then
    copied = v2.targets.get()
    assert v2.name == "Renamed"
    assert copied.calendar == calendar
    assert copied.credit == {"percent_of_fees": "3"}
    assert copied.target_value == Decimal("1")


def test_sla_policy_revise_of_a_superseded_version_conflicts():
    # given
    engagement = make_engagement()
    v1 = make_policy(engagement)
    services.sla_policy_revise(actor=None, policy=v1, name="v2")
    # when
    with pytest.raises(errors.Conflict) as exc:
        services.sla_policy_revise(actor=None, policy=v1, name="v3 from v1")
    # then
    assert exc.value.extra == {"current_version": 2}
    assert SlaPolicy.objects.filter(slug=v1.slug).count() == 2


def test_sla_policy_revise_validates_credit_terms():
    # given
    v1 = make_policy(make_engagement())
    # when
    with pytest.raises(errors.ValidationFailed) as exc:
        services.sla_policy_revise(
            actor=None,
            policy=v1,
            targets=[target("first_response", "P1", "1", credit={"percent_of_fees": "-1"})],
        )
    # then
    assert fields_of(exc) == ["targets[0].credit"]
    v1.refresh_from_db()
    assert v1.is_current


# ------------------------------------------------------------------ rate cards


def test_sla_policy_create_defaults_pause_statuses_and_warning_percents():
    # when
    policy = make_policy(make_engagement())
    # then
    policy.refresh_from_db()
    assert (policy.pause_statuses, policy.warning_percents) == (["waiting_on_client"], [75, 90])


def test_sla_policy_create_takes_every_pausable_status_and_warning_percents():
    # when
    policy = make_policy(
        make_engagement(),
        pause_statuses=["waiting_on_client", "escalated", "failed"],
        warning_percents=[50, 80, 95],
    )
    # then
    policy.refresh_from_db()
    assert policy.pause_statuses == ["waiting_on_client", "escalated", "failed"]
    assert policy.warning_percents == [50, 80, 95]
    [event] = events(policy.client, "sla_policy.create", policy)
    assert event.changes["warning_percents"] == [None, [50, 80, 95]]


ALLOWED_PAUSES = "escalated, failed, waiting_on_client"


@pytest.mark.parametrize(
    ("pause_statuses", "messages"),
    [
        (
            ["in_progress"],
            [services.BAD_PAUSE_STATUS.format(status="in_progress", allowed=ALLOWED_PAUSES)],
        ),
        (
            ["queued", "waiting_on_client", "closed"],
            [
                services.BAD_PAUSE_STATUS.format(status="queued", allowed=ALLOWED_PAUSES),
                services.BAD_PAUSE_STATUS.format(status="closed", allowed=ALLOWED_PAUSES),
            ],
        ),
        ("waiting_on_client", [services.NOT_A_LIST]),
    ],
)
def test_sla_policy_create_refuses_a_status_a_clock_cannot_pause_in(pause_statuses, messages):
    # given
    engagement = make_engagement()
    # when
    with pytest.raises(errors.ValidationFailed) as exc:
        make_policy(engagement, pause_statuses=pause_statuses)
    # then
    assert exc.value.errors == [errors.FieldError("pause_statuses", m) for m in messages]
    assert not SlaPolicy.objects.filter(engagement=engagement).exists()


@pytest.mark.parametrize(
    ("warning_percents", "messages"),
    [
        ([0], [services.WARNING_RANGE.format(value=0, low=1, high=99)]),
        ([50, 100], [services.WARNING_RANGE.format(value=100, low=1, high=99)]),
        ([90, 75], [services.NOT_ASCENDING]),
        ([75, 75], [services.NOT_ASCENDING]),
        ([10, 20, 30, 40, 50, 60], [services.TOO_MANY_WARNINGS.format(maximum=5)]),
        ([True, "80", 90.5], [services.NOT_A_PERCENT.format(value=v) for v in (True, "80", 90.5)]),
        ({"at": 75}, [services.NOT_A_LIST]),
        (
            [95, 150, 10, 20, 30, 40],
            [
                services.WARNING_RANGE.format(value=150, low=1, high=99),
                services.TOO_MANY_WARNINGS.format(maximum=5),
                services.NOT_ASCENDING,
            ],
        ),
    ],
)
def test_sla_policy_create_refuses_bad_warning_percents_by_name(warning_percents, messages):
    # given
    engagement = make_engagement()
    # when
    with pytest.raises(errors.ValidationFailed) as exc:
        make_policy(engagement, warning_percents=warning_percents)
    # then
    assert exc.value.errors == [errors.FieldError("warning_percents", m) for m in messages]
    assert not SlaPolicy.objects.filter(engagement=engagement).exists()


@pytest.mark.parametrize("warning_percents", [[], [1], [1, 2, 3, 98, 99]])
def test_sla_policy_create_accepts_no_warnings_or_up_to_five(warning_percents):
    # when
    policy = make_policy(make_engagement(), warning_percents=warning_percents)
    # then
    policy.refresh_from_db()
    assert policy.warning_percents == warning_percents


def test_sla_policy_revise_takes_warning_percents_and_pause_statuses_into_the_new_version():
    # given
    v1 = make_policy(make_engagement())
    # when
    v2 = services.sla_policy_revise(
        actor=None, policy=v1, warning_percents=[60], pause_statuses=["escalated"]
    )
    v3 = services.sla_policy_revise(actor=None, policy=v2, name="Renamed")
    # then
    v1.refresh_from_db()
    assert (v1.warning_percents, v1.pause_statuses) == ([75, 90], ["waiting_on_client"])
    assert (v2.warning_percents, v2.pause_statuses) == ([60], ["escalated"])
    assert (v3.warning_percents, v3.pause_statuses) == ([60], ["escalated"])
    [event] = events(v1.client, "sla_policy.revise", v2)
    assert event.changes["warning_percents"] == [[75, 90], [60]]
    assert event.changes["pause_statuses"] == [["waiting_on_client"], ["escalated"]]


def test_sla_policy_revise_writes_a_recompute_request_for_the_new_version():
    # given
    v1 = make_policy(make_engagement())
    ops = make_principal(v1.provider, "ops_manager")
    # when
    v2 = services.sla_policy_revise(actor=ops, policy=v1, name="v2")
    v3 = services.sla_policy_revise(
        actor=ops, policy=v2, targets=[target("first_response", "P1", "3")]
    )
    # then: one request per revision, each naming the version open items move to
    assert recomputes() == [("policy", v2.pk, None), ("policy", v3.pk, None)]
    request = SlaRecompute.objects.get(policy=v3)
    assert (request.client, request.provider, request.done_at) == (v3.client, v3.provider, None)


@pytest.mark.parametrize(
    "change",
    [
        {"warning_percents": [90, 75]},
        {"pause_statuses": ["in_progress"]},
        {"targets": [target("first_response", "P1", "0")]},
    ],
    ids=["warning_percents", "pause_statuses", "targets"],
)
def test_sla_policy_revise_that_fails_validation_writes_nothing(change):
    # given
    v1 = make_policy(make_engagement())
    process = make_process(v1.engagement, sla_policy=v1)
    # when
    with pytest.raises(errors.ValidationFailed):
        services.sla_policy_revise(actor=None, policy=v1, **change)
    # then
    v1.refresh_from_db()
    process.refresh_from_db()
    assert v1.is_current
    assert process.sla_policy == v1
    assert SlaPolicy.objects.filter(slug=v1.slug).count() == 1
    assert recomputes() == []
    assert events(v1.client, "sla_policy.revise") == []


def test_sla_recompute_done_marks_the_claimed_requests_once():
    # given
    v1 = make_policy(make_engagement())
    v2 = services.sla_policy_revise(actor=None, policy=v1, name="v2")
    request = SlaRecompute.objects.get(policy=v2)
    now = timezone.now()
    # when
    first = services.sla_recompute_done(recomputes=[request], now=now)
    again = services.sla_recompute_done(recomputes=[request], now=now + timedelta(hours=1))
    # then
    request.refresh_from_db()
    assert (first, again) == (1, 0)
    assert request.done_at == now


def test_rate_card_create_with_tiers_by_finance_is_audited():
    # given
    engagement = make_engagement()
    finance = make_principal(engagement.provider, "finance")
    tiers = [{"from_volume": 10000, "price": "0.95"}, {"from_volume": 50000, "price": "0.80"}]
    # when
    card = make_rate_card(
        engagement, actor=finance, tiers=tiers, minimum_monthly_fee=Decimal("5000")
    )
    # then
    card.refresh_from_db()
    assert card.tiers == tiers
    assert card.price == Decimal("1.2")
    [event] = events(engagement.client, "rate_card.create", card)
    assert event.changes["tiers"] == [None, tiers]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        (
            {"tiers": [{"from_volume": 500, "price": "1"}, {"from_volume": 100, "price": "0.9"}]},
            "tiers",
        ),
        (
            {"tiers": [{"from_volume": 100, "price": "1"}, {"from_volume": 100, "price": "0.9"}]},
            "tiers",
        ),
        ({"tiers": [{"from_volume": -1, "price": "1"}]}, "tiers"),
        ({"tiers": [{"from_volume": 10, "price": "-1"}]}, "tiers"),
        ({"tiers": [{"from_volume": True, "price": "1"}]}, "tiers"),
        ({"tiers": [{"from_volume": 10}]}, "tiers"),
        ({"price": Decimal("-0.01")}, "price"),
        ({"minimum_monthly_fee": Decimal("-5")}, "minimum_monthly_fee"),
        ({"currency": "usd"}, "currency"),
        ({"currency": "XYZ"}, "currency"),
        ({"effective_to": date(2025, 12, 31)}, "effective_to"),
    ],
)
def test_rate_card_create_names_the_bad_field(overrides, field):
    # given
    engagement = make_engagement()
    # when
    with pytest.raises(errors.ValidationFailed) as exc:
        make_rate_card(engagement, **overrides)
    # then
    assert fields_of(exc) == [field]


def test_rate_card_create_refuses_ops_manager():
    # given
    engagement = make_engagement()
    # when / then
    with pytest.raises(errors.PermissionDenied):
        make_rate_card(engagement, actor=make_principal(engagement.provider, "ops_manager"))


def test_rate_card_update_checks_dates_against_the_stored_start():
    # given
    card = make_rate_card(make_engagement(), effective_from=date(2026, 3, 1))
    finance = make_principal(card.provider, "finance")
    # when
    with pytest.raises(errors.ValidationFailed) as exc:
        services.rate_card_update(actor=finance, card=card, data={"effective_to": date(2026, 2, 1)})
    # then
    assert fields_of(exc) == ["effective_to"]


def test_rate_card_update_audits_the_new_price():
    # given
    card = make_rate_card(make_engagement())
    card.refresh_from_db()
    finance = make_principal(card.provider, "finance")
    # when
    services.rate_card_update(actor=finance, card=card, data={"price": Decimal("1.35")})
    # then
    card.refresh_from_db()
    assert card.price == Decimal("1.35")
    [event] = events(card.client, "rate_card.update", card)
    assert event.changes == {"price": ["1.2000", "1.3500"]}


# ------------------------------------------------------------------ processes


def test_process_create_with_sop_and_policy_is_audited():
    # given
    engagement = make_engagement()
    policy = make_policy(engagement)
    ops = make_principal(engagement.provider, "ops_manager")
    # when
    process = make_process(
        engagement,
        actor=ops,
        name="Claims entry",
        channel="back_office",
        required_skills={"claims": 3},
        languages=["en", "es"],
        item_schema={"type": "object", "required": ["claim_no"]},
        sla_policy=policy,
        sop="# Steps\n1. Read the claim.",
    )
    # then
    assert process.slug == "claims-entry"
    [sop] = SopVersion.objects.filter(process=process)
    assert (sop.version, sop.author) == (1, ops.user)
    [event] = events(engagement.client, "process.create", process)
    assert event.changes["sla_policy_id"] == [None, policy.pk]
    assert event.changes["required_skills"] == [None, {"claims": 3}]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"item_schema": {"type": "nope"}}, "item_schema"),
        ({"item_schema": {"properties": {"x": {"minLength": -1}}}}, "item_schema"),
        ({"required_skills": {"claims": 0}}, "required_skills.claims"),
        ({"required_skills": {"claims": 6}}, "required_skills.claims"),
        ({"required_skills": {"claims": True}}, "required_skills.claims"),
        ({"required_skills": {"claims": "3"}}, "required_skills.claims"),
        ({"languages": ["english"]}, "languages"),
        ({"languages": ["EN"]}, "languages"),
        ({"languages": ["zz"]}, "languages"),
    ],
)
def test_process_create_names_the_bad_field(overrides, field):
    # given
    engagement = make_engagement()
    # when
    with pytest.raises(errors.ValidationFailed) as exc:
        make_process(engagement, **overrides)
    # then
    assert fields_of(exc) == [field]
    assert not Process.objects.filter(engagement=engagement).exists()


def test_process_create_refuses_a_policy_of_another_engagement():
    # given
    client, provider = make_client(), make_provider()
    engagement, other = make_engagement(client, provider), make_engagement(client, provider)
    # when
    with pytest.raises(errors.ValidationFailed) as exc:
        make_process(engagement, sla_policy=make_policy(other))
    # then
    assert exc.value.errors == [errors.FieldError("sla_policy_id", services.OTHER_ENGAGEMENT)]


def test_process_create_refuses_a_superseded_policy_version():
    # given
    engagement = make_engagement()
    v1 = make_policy(engagement)
    services.sla_policy_revise(actor=None, policy=v1, name="v2")
    v1.refresh_from_db()
    # when
    with pytest.raises(errors.ValidationFailed) as exc:
        make_process(engagement, sla_policy=v1)
    # then
    assert exc.value.errors == [
        errors.FieldError("sla_policy_id", services.SUPERSEDED_POLICY.format(version=1))
    ]


def test_process_create_refuses_client_viewer_and_finance():
    # given
    engagement = make_engagement()
    # when / then
    for actor in (
        make_principal(engagement.client, "client_viewer"),
        make_principal(engagement.client, "client_admin"),
        make_principal(engagement.provider, "finance"),
    ):
        with pytest.raises(errors.PermissionDenied):
            make_process(engagement, actor=actor)
    assert not Process.objects.filter(engagement=engagement).exists()


def test_process_update_with_a_new_sop_adds_version_2_and_keeps_version_1():
    # given
    engagement = make_engagement()
    process = make_process(engagement, sop="v1 steps")
    ops = make_principal(engagement.provider, "ops_manager")
    # when
    services.process_update(actor=ops, process=process, data={}, sop="v2 steps")
    # then
    bodies = list(process.sop_versions.order_by("version").values_list("version", "body"))
    assert bodies == [(1, "v1 steps"), (2, "v2 steps")]
    [event] = events(engagement.client, "process.sop_revise", process)
    assert event.changes == {"sop_version": [1, 2]}


def test_process_update_with_the_same_sop_adds_no_version():
    # given
    process = make_process(make_engagement(), sop="steps")
    ops = make_principal(process.provider, "ops_manager")
    # when
    services.process_update(actor=ops, process=process, data={}, sop="steps")
    # then
    assert process.sop_versions.count() == 1
    assert events(process.client, "process.sop_revise") == []


def test_process_update_with_an_empty_sop_and_none_before_adds_no_version():
    # given
    process = make_process(make_engagement())
    ops = make_principal(process.provider, "ops_manager")
    # when
    services.process_update(actor=ops, process=process, data={}, sop="")
    # then
    assert process.sop_versions.count() == 0
    assert events(process.client, "process.sop_revise") == []


def test_process_update_validates_and_audits_fields():
    # given
    process = make_process(make_engagement(), channel="email")
    ops = make_principal(process.provider, "ops_manager")
    # when
    with pytest.raises(errors.ValidationFailed) as exc:
        services.process_update(
            actor=ops, process=process, data={"required_skills": {"billing": 9}}
        )
    services.process_update(actor=ops, process=process, data={"channel": "chat"})
    # then
    assert fields_of(exc) == ["required_skills.billing"]
    process.refresh_from_db()
    assert process.channel == "chat"
    assert process.required_skills == {}
    [event] = events(process.client, "process.update", process)
    assert event.changes == {"channel": ["email", "chat"]}


# ------------------------------------------------------------------ the trail holds


def test_every_write_lands_in_the_clients_chain_and_the_chain_verifies():
    # given
    client, provider = make_client(), make_provider()
    admin = make_principal(provider, "admin")
    # when
    engagement = services.engagement_create(actor=admin, client=client, provider=provider, name="E")
    services.engagement_transition(actor=admin, engagement=engagement, status="select")
    make_document(engagement, actor=admin)
    calendar = make_calendar(engagement)
    policy = make_policy(engagement, calendar=calendar, actor=admin)
    services.sla_policy_revise(actor=admin, policy=policy, name="Revised")
    make_rate_card(engagement, actor=admin)
    process = make_process(engagement, actor=admin)
    services.process_update(actor=admin, process=process, data={"description": "x"}, sop="s")
    # then
    actions = list(
        AuditEvent.objects.filter(organisation=client)
        .exclude(action="organisation.create")
        .order_by("seq")
        .values_list("action", flat=True)
    )
    assert actions == [
        "engagement.create",
        "engagement.transition",
        "document.create",
        "calendar.create",
        "sla_policy.create",
        "sla_policy.revise",
        "rate_card.create",
        "process.create",
        "process.update",
        "process.sop_revise",
    ]
    provider_actions = set(
        AuditEvent.objects.filter(organisation=provider).values_list("action", flat=True)
    )
    assert provider_actions.isdisjoint(actions)
    assert audit.verify() == []
