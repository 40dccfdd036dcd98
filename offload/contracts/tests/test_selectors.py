"""Reads of the contract side: scoping, filters, prefetching and site classification."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from offload.contracts import selectors, services
from offload.contracts.tests.factories import (
    make_calendar,
    make_document,
    make_engagement,
    make_policy,
    make_process,
    make_rate_card,
)
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
