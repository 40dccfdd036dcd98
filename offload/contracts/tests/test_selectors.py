"""Reads of the contract side: scoping, filters, prefetching and site classification."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from offload.contracts import selectors, services
from offload.contracts.models import BusinessCalendar, SlaRecompute
from offload.contracts.tests.factories import (
    WARSAW_OFFICE,
    make_calendar,
    make_document,
    make_engagement,
    make_policy,
    make_process,
    make_rate_card,
    target,
)
from offload.core import errors, sweeps
from offload.tenancy.geography import Shore
from offload.tenancy.tests.factories import make_client, make_principal, make_provider, make_site

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_clients():
    """One provider serving two clients; each client has one engagement."""
    provider = make_provider()
    acme, globex = make_client(), make_client()
    return provider, make_engagement(acme, provider), make_engagement(globex, provider)


def test_engagement_list_scopes_clients_to_their_own_and_providers_to_theirs(two_clients):
    # given
    provider, acme, globex = two_clients
    make_engagement(acme.client, make_provider())  # acme with another provider
    # when
    seen_by_acme = selectors.engagement_list(principal=make_principal(acme.client))
    seen_by_provider = selectors.engagement_list(principal=make_principal(provider))
    # then
    assert {e.client_id for e in seen_by_acme} == {acme.client_id}
    assert len(seen_by_acme) == 2
    assert {e.pk for e in seen_by_provider} == {acme.pk, globex.pk}


def test_engagement_list_filters_by_status(two_clients):
    # given
    provider, acme, _ = two_clients
    services.engagement_transition(actor=None, engagement=acme, status="select")
    # when
    selected = selectors.engagement_list(principal=make_principal(provider), status="select")
    # then
    assert [e.pk for e in selected] == [acme.pk]


def test_document_list_filters_by_engagement_kind_and_current(two_clients):
    # given
    provider, acme, globex = two_clients
    msa_v1 = make_document(acme, "msa")
    msa_v2 = make_document(acme, "msa")
    sow = make_document(acme, "sow")
    make_document(globex, "msa")
    principal = make_principal(provider)
    # when
    acme_docs = selectors.document_list(principal=principal, engagement_id=acme.pk)
    acme_msas = selectors.document_list(principal=principal, engagement_id=acme.pk, kind="msa")
    acme_current = selectors.document_list(
        principal=principal, engagement_id=acme.pk, current_only=True
    )
    # then
    assert {d.pk for d in acme_docs} == {msa_v1.pk, msa_v2.pk, sow.pk}
    assert {d.pk for d in acme_msas} == {msa_v1.pk, msa_v2.pk}
    assert {d.pk for d in acme_current} == {msa_v2.pk, sow.pk}


def test_document_list_of_a_client_hides_the_other_clients(two_clients):
    # given
    _, acme, globex = two_clients
    mine = make_document(acme)
    make_document(globex)
    # when
    docs = selectors.document_list(principal=make_principal(acme.client, "client_viewer"))
    # then
    assert [d.pk for d in docs] == [mine.pk]


def test_calendar_and_rate_card_lists_filter_by_engagement(two_clients):
    # given
    provider, acme, globex = two_clients
    calendar, card = make_calendar(acme), make_rate_card(acme)
    make_calendar(globex)
    make_rate_card(globex)
    principal = make_principal(provider)
    # when
    calendars = selectors.calendar_list(principal=principal, engagement_id=acme.pk)
    cards = selectors.rate_card_list(principal=principal, engagement_id=acme.pk)
    # then
    assert [c.pk for c in calendars] == [calendar.pk]
    assert [c.pk for c in cards] == [card.pk]


def test_sla_policy_list_current_only_drops_superseded_versions(two_clients):
    # given
    provider, acme, _ = two_clients
    v1 = make_policy(acme)
    v2 = services.sla_policy_revise(actor=None, policy=v1, name="v2")
    # when
    every = selectors.sla_policy_list(principal=make_principal(provider), engagement_id=acme.pk)
    current = selectors.sla_policy_list(
        principal=make_principal(provider), engagement_id=acme.pk, current_only=True
    )
    # then
    assert {p.pk for p in every} == {v1.pk, v2.pk}
    assert [p.pk for p in current] == [v2.pk]


def test_process_list_filters_by_engagement_and_channel(two_clients):
    # given
    provider, acme, globex = two_clients
    email = make_process(acme, channel="email")
    make_process(acme, channel="chat")
    make_process(globex, channel="email")
    # when
    found = selectors.process_list(
        principal=make_principal(provider), engagement_id=acme.pk, channel="email"
    )
    # then
    assert [p.pk for p in found] == [email.pk]


def test_process_current_sop_is_the_latest_version_with_or_without_the_prefetch(two_clients):
    # given
    provider, acme, _ = two_clients
    ops = make_principal(provider, "ops_manager")
    process = make_process(acme, sop="first")
    services.process_update(actor=ops, process=process, data={}, sop="second")
    bare = make_process(acme)
    # when
    listed = {p.pk: p for p in selectors.process_list(principal=ops)}
    # then
    from_list = selectors.process_current_sop(listed[process.pk])
    direct = selectors.process_current_sop(process)
    assert from_list is not None
    assert (from_list.version, from_list.body) == (2, "second")
    assert direct is not None
    assert (direct.version, direct.body) == (2, "second")
    assert selectors.process_current_sop(listed[bare.pk]) is None


def test_process_list_reads_every_current_sop_in_a_constant_number_of_queries(two_clients):
    # given
    provider, acme, _ = two_clients
    ops = make_principal(provider, "ops_manager")

    def count_queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            for p in selectors.process_list(principal=ops):
                selectors.process_current_sop(p)
        return len(ctx.captured_queries)

    for i in range(2):
        process = make_process(acme, sop=f"steps {i}")
        services.process_update(actor=ops, process=process, data={}, sop=f"steps {i} v2")
    # when
    with_two = count_queries()
    for i in range(6):
        make_process(acme, sop=f"more steps {i}")
    with_eight = count_queries()
    # then: the processes, then their current SOPs
    assert with_two == with_eight == 2


def test_engagement_site_shores_classifies_each_provider_site():
    # given
    provider = make_provider()
    engagement = make_engagement(make_client(country="US"), provider)
    make_site(provider, name="Austin", country="US", timezone="America/Chicago")
    make_site(provider, name="Monterrey", country="MX", timezone="America/Monterrey")
    make_site(provider, name="Manila", country="PH", timezone="Asia/Manila")
    make_site(make_provider(), name="Elsewhere", country="US", timezone="America/Chicago")
    # when
    shores = selectors.engagement_site_shores(engagement=engagement)
    # then
    assert [(s.site.name, s.shore) for s in shores] == [
        ("Austin", Shore.ONSHORE),
        ("Manila", Shore.OFFSHORE),
        ("Monterrey", Shore.NEARSHORE),
    ]


# ------------------------------------------------------------------ calendar preview


def test_calendar_preview_days_starts_today_in_the_calendars_zone(two_clients):
    # given: 23:30 UTC on Saturday is already Sunday 00:30 in Warsaw
    _, acme, _ = two_clients
    calendar = make_calendar(acme, spec=WARSAW_OFFICE)
    now = datetime(2026, 3, 28, 23, 30, tzinfo=UTC)
    # when
    preview = selectors.calendar_preview_days(calendar=calendar, days=2, now=now)
    # then
    assert (preview.start, preview.timezone) == (date(2026, 3, 29), "Europe/Warsaw")
    assert [(d.date, d.open_minutes) for d in preview.days] == [
        (date(2026, 3, 29), 180),
        (date(2026, 3, 30), 480),
    ]


def test_calendar_preview_days_outside_the_covered_years_names_start(two_clients):
    # given
    _, acme, _ = two_clients
    calendar = make_calendar(acme)
    # when
    with pytest.raises(errors.ValidationFailed) as exc:
        selectors.calendar_preview_days(calendar=calendar, start=date(1, 1, 1))
    # then
    assert [e.field for e in exc.value.errors] == ["start"]


def test_calendar_preview_days_of_a_stored_spec_that_no_longer_parses_conflicts(two_clients):
    # given: an admin edit stored a spec the services would refuse
    _, acme, _ = two_clients
    calendar = make_calendar(acme)
    BusinessCalendar.objects.filter(pk=calendar.pk).update(spec={"timezone": "Mars/Base"})
    calendar.refresh_from_db()
    # when
    with pytest.raises(errors.Conflict) as exc:
        selectors.calendar_preview_days(calendar=calendar, start=date(2026, 1, 5))
    # then
    assert "Mars/Base" in exc.value.detail


# ------------------------------------------------------------------ policy versions


def test_sla_policy_versions_newest_first_with_their_makers_and_target_changes(two_clients):
    # given
    provider, acme, _ = two_clients
    ops = make_principal(provider, "ops_manager")
    v1 = make_policy(
        acme,
        actor=ops,
        targets=[target("first_response", "P1", "4"), target("turnaround", "", "2")],
    )
    v2 = services.sla_policy_revise(
        actor=ops,
        policy=v1,
        targets=[
            target("first_response", "P1", "2", credit={"percent_of_fees": "2.5"}),
            target("accuracy", "", "99.5"),
        ],
    )
    v3 = services.sla_policy_revise(actor=None, policy=v2, warning_percents=[80])
    # when
    versions = selectors.sla_policy_versions(principal=make_principal(acme.client), policy=v1)
    # then
    assert [(v.policy.pk, v.created_by) for v in versions] == [
        (v3.pk, "system"),
        (v2.pk, ops.label),
        (v1.pk, ops.label),
    ]
    assert versions[0].changes == []
    assert versions[1].changes == [
        selectors.TargetChange("accuracy", "", None, "at least 99.5 percent"),
        selectors.TargetChange(
            "first_response",
            "P1",
            "within 4 business hours",
            "within 2 business hours, credit 2.5 % of fees",
        ),
        selectors.TargetChange("turnaround", "", "within 2 business days", None),
    ]
    assert versions[2].changes == []


def test_sla_policy_versions_takes_three_queries_for_any_number(two_clients):
    # given
    provider, acme, _ = two_clients
    ops = make_principal(provider, "ops_manager")
    calendar = make_calendar(acme)
    policy = make_policy(acme, targets=[target(calendar=calendar)])
    for n in range(5):
        policy = services.sla_policy_revise(actor=ops, policy=policy, name=f"v{n + 2}")
    # when
    with CaptureQueriesContext(connection) as ctx:
        versions = selectors.sla_policy_versions(principal=ops, policy=policy)
        texts = [selectors.describe_target(t) for v in versions for t in v.policy.targets.all()]
        calendars = {v.policy.calendar.name for v in versions}
    # then
    assert len(versions) == 6
    assert texts == [f"within 1 business hours, on {calendar.name}"] * 6
    assert len(calendars) == 1
    assert len(ctx.captured_queries) == 3


def test_sla_policy_versions_shows_another_client_nothing(two_clients):
    # given
    _, acme, globex = two_clients
    policy = make_policy(acme)
    # when
    versions = selectors.sla_policy_versions(principal=make_principal(globex.client), policy=policy)
    # then
    assert versions == []


# ------------------------------------------------------------------ recompute requests


def test_sla_recompute_due_is_what_is_not_done_and_due_oldest_first(two_clients):
    # given
    provider, acme, _ = two_clients
    admin = make_principal(provider, "admin")
    v1 = make_policy(acme)
    v2 = services.sla_policy_revise(actor=admin, policy=v1, name="v2")
    calendar = v1.calendar
    services.calendar_update(
        actor=admin, calendar=calendar, data={"spec": {**calendar.spec, "closed": ["2026-12-24"]}}
    )
    v3 = services.sla_policy_revise(actor=admin, policy=v2, name="v3")
    now = timezone.now()
    SlaRecompute.objects.filter(policy=v3).update(due_at=now + timedelta(minutes=5))
    done = services.sla_recompute_calendar(calendar=calendar)
    services.sla_recompute_done(recomputes=[done], now=now)
    # when
    due = selectors.sla_recompute_due(now=now)
    # then
    assert [(r.kind, r.policy, r.calendar) for r in due] == [
        ("policy", v2, None),
        ("calendar", None, calendar),
    ]


def test_sla_recompute_due_is_claimed_by_the_sweep_helper(two_clients):
    # given
    _, acme, _ = two_clients
    v1 = make_policy(acme)
    v2 = services.sla_policy_revise(actor=None, policy=v1, name="v2")
    # when
    with transaction.atomic():
        claimed = sweeps.claim_due(selectors.sla_recompute_due(now=timezone.now()), limit=10)
        services.sla_recompute_done(recomputes=claimed, now=timezone.now())
    # then
    assert [r.policy for r in claimed] == [v2]
    assert list(selectors.sla_recompute_due(now=timezone.now())) == []
    assert [p.pk for p in selectors.sla_policy_earlier_versions(policy=v2)] == [v1.pk]
