"""offload.workers.selectors: the roster through the visibility rules, and "me"."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from offload.contracts.tests.factories import make_engagement
from offload.tenancy.models import Membership, Organisation, User
from offload.tenancy.tests.factories import (
    make_client,
    make_key_principal,
    make_principal,
    make_provider,
    make_site,
)
from offload.tenancy.visibility import Principal, principal_for_user
from offload.workers import selectors, services
from offload.workers.tests.factories import make_agent, make_bot, make_process

pytestmark = pytest.mark.django_db


@pytest.fixture
def floor():
    provider = make_provider("Northwind")
    manila, krakow = make_site(provider), make_site(provider, country="PL")
    claims = make_process(provider, channel="back_office")
    maria = make_agent(provider, site=manila, skills={"billing": 4}, processes=[claims])
    anna = make_agent(provider, site=krakow, skills={"billing": 2, "claims": 5})
    bot = make_bot(provider, processes=[claims])
    services.worker_set_presence(actor=None, worker=maria, presence="available")
    return {
        "provider": provider,
        "viewer": make_principal(provider, "team_lead"),
        "manila": manila,
        "claims": claims,
        "maria": maria,
        "anna": anna,
        "bot": bot,
    }


def signed_in(user: User, organisation: Organisation | None = None) -> Principal:
    principal = principal_for_user(user, organisation)
    assert principal is not None
    return principal


def ids(qs) -> set[int]:
    return {w.pk for w in qs}


def test_worker_list_filters_by_kind_site_presence_process_and_skill(floor):
    # given
    viewer = floor["viewer"]
    maria, anna, bot = floor["maria"], floor["anna"], floor["bot"]

    def listed(**filters) -> set[int]:
        return ids(selectors.worker_list(principal=viewer, **filters))

    # then
    assert listed() == {maria.pk, anna.pk, bot.pk}
    assert listed(kind="bot") == {bot.pk}
    assert listed(site_id=floor["manila"].pk) == {maria.pk}
    assert listed(presence="available") == {maria.pk}
    assert listed(process_id=floor["claims"].pk) == {maria.pk, bot.pk}
    assert listed(skill="billing") == {maria.pk, anna.pk}
    assert listed(skill="billing", skill_level=3) == {maria.pk}
    assert listed(skill="claims", skill_level=5) == {anna.pk}
    assert listed(skill="cooking") == set()
    assert listed(is_active=False) == set()


def test_a_client_sees_no_worker_not_even_its_providers(floor):
    # given: a client of Northwind, whose process Maria works
    client = floor["claims"].client
    # when
    seen = selectors.worker_list(principal=make_principal(client, "client_admin"))
    # then
    assert list(seen) == []


def test_another_provider_sees_none_of_them(floor):
    # given
    other = make_provider("Initech")
    make_engagement(client=make_client(), provider=other)
    # when
    seen = selectors.worker_list(principal=make_principal(other, "admin"))
    # then
    assert list(seen) == []


def test_worker_for_principal_is_the_signed_in_agent_or_the_bots_key(floor):
    # given
    provider, maria, bot = floor["provider"], floor["maria"], floor["bot"]
    # when
    by_login = selectors.worker_for_principal(signed_in(maria.user))
    by_key = selectors.worker_for_principal(make_key_principal(provider, user=bot.user))
    org_key = selectors.worker_for_principal(make_key_principal(provider))
    admin = selectors.worker_for_principal(make_principal(provider, "admin"))
    # then
    assert by_login == maria
    assert by_key == bot
    assert org_key is None
    assert admin is None


def test_worker_for_principal_is_none_in_another_organisation(floor):
    # given: Maria's user is also a member of a client (an unusual but possible setup)
    client = make_client()
    maria = floor["maria"]
    Membership.objects.create(user=maria.user, organisation=client, role="client_viewer")
    # when
    there = selectors.worker_for_principal(signed_in(maria.user, client))
    # then
    assert there is None


def test_worker_list_reads_a_fixed_number_of_queries(floor):
    # given
    viewer = floor["viewer"]

    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            for worker in selectors.worker_list(principal=viewer):
                list(worker.channels.all())
                list(worker.processes.all())
                _ = (worker.user.username, worker.site)
        return len(ctx.captured_queries)

    few = count()
    for _ in range(5):
        make_agent(floor["provider"], processes=[floor["claims"]])
    # then
    assert count() == few
