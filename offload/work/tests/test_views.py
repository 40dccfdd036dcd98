"""The work-item pages: list with filters (client portal and provider side) and timeline."""

import pytest
from django.test import Client

from offload.contracts.tests.factories import make_engagement
from offload.tenancy.models import Organisation
from offload.tenancy.tests.factories import make_client, make_provider, make_user
from offload.work.tests.factories import make_item, make_process

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    provider = make_provider()
    acme, globex = make_client(name="Acme"), make_client(name="Globex")
    acme_process = make_process(engagement=make_engagement(acme, provider), name="Email support")
    globex_process = make_process(engagement=make_engagement(globex, provider), name="Claims")
    return provider, acme, globex, acme_process, globex_process


def signed_in(org: Organisation, *roles: str) -> Client:
    client = Client()
    client.force_login(make_user(org, *roles))
    return client


def test_a_client_lists_its_own_items_only(world):
    # given
    _, acme, _, acme_process, globex_process = world
    make_item(acme_process, reference="ACME-1", subject="Router down")
    make_item(globex_process, reference="GLOBEX-1", subject="Claim for hail")
    # when
    response = signed_in(acme, "client_viewer").get("/items/")
    # then
    assert response.status_code == 200
    body = response.content.decode()
    assert "ACME-1" in body
    assert "GLOBEX-1" not in body


def test_the_provider_lists_items_across_its_clients_with_the_client_named(world):
    # given
    provider, _, _, acme_process, globex_process = world
    make_item(acme_process, reference="ACME-1")
    make_item(globex_process, reference="GLOBEX-1")
    # when
    body = signed_in(provider, "team_lead").get("/items/").content.decode()
    # then
    assert "ACME-1" in body
    assert "GLOBEX-1" in body
    assert "<th>Client</th>" in body


def test_filters_narrow_the_list_and_htmx_gets_only_the_rows(world):
    # given
    _, acme, _, acme_process, _ = world
    make_item(acme_process, reference="A-1", subject="Router down", priority="P1")
    make_item(acme_process, reference="A-2", subject="Billing question", priority="P3")
    client = signed_in(acme, "client_admin")
    # when
    full = client.get("/items/", {"q": "router"})
    fragment = client.get("/items/", {"priority": "P3"}, headers={"HX-Request": "true"})
    # then
    assert "A-1" in full.content.decode()
    assert "A-2" not in full.content.decode()
    assert "A-2" in fragment.content.decode()
    assert "A-1" not in fragment.content.decode()
    assert "<html" not in fragment.content.decode()


def test_a_bad_cursor_is_a_form_error_not_a_500(world):
    # given
    _, acme, _, _, _ = world
    # when
    response = signed_in(acme, "client_admin").get("/items/", {"cursor": "not-a-cursor"})
    # then
    assert response.status_code == 200
    assert "not a cursor this API issued" in response.content.decode()


def test_the_list_pages_with_a_next_link(world, monkeypatch):
    # given
    _, acme, _, acme_process, _ = world
    monkeypatch.setattr("offload.work.views.PAGE_SIZE", 2)
    for n in range(3):
        make_item(acme_process, reference=f"P-{n}")
    client = signed_in(acme, "client_admin")
    # when
    first = client.get("/items/", {"status": "queued"})
    cursor = first.context["next_cursor"]
    second = client.get("/items/", {"status": "queued", "cursor": cursor}).content.decode()
    # then: pages in creation order, the next link keeps the filters
    assert [i.reference for i in first.context["items"]] == ["P-0", "P-1"]
    assert f"status=queued&amp;cursor={cursor}" in first.content.decode()
    assert "P-2" in second
    assert "P-0" not in second


def test_item_detail_shows_the_timeline_in_order(world):
    # given
    _, acme, _, acme_process, _ = world
    item = make_item(acme_process, reference="T-1")
    # when
    body = signed_in(acme, "client_viewer").get(f"/items/{item.pk}/").content.decode()
    # then
    assert body.index("<strong>created</strong>") < body.index("<strong>queued</strong>")


def test_another_clients_item_is_a_404(world):
    # given
    _, acme, _, _, globex_process = world
    foreign = make_item(globex_process, reference="G-1")
    # when
    response = signed_in(acme, "client_admin").get(f"/items/{foreign.pk}/")
    # then
    assert response.status_code == 404


def test_the_item_list_query_count_does_not_grow_with_rows(world, django_assert_max_num_queries):
    # given
    provider, _, _, acme_process, globex_process = world
    for n in range(10):
        make_item(acme_process if n % 2 else globex_process, reference=f"Q-{n}")
    client = signed_in(provider, "admin")
    # when / then
    with django_assert_max_num_queries(8):
        assert client.get("/items/").status_code == 200
