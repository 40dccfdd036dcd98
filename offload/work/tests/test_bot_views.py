"""The invoice check on the item page: the button, the result block, the timeline."""

import pytest
from django.test import Client

from offload.tenancy.models import Organisation
from offload.tenancy.tests.factories import make_user
from offload.work import services
from offload.work.models import WorkItemEvent
from offload.work.tests.factories import (
    invoice_payload,
    make_invoice_process,
    make_item,
    make_process,
)

pytestmark = pytest.mark.django_db

BUTTON = 'data-testid="run-invoice-check"'
HTMX = {"HX-Request": "true"}


def signed_in(org: Organisation, *roles: str) -> Client:
    client = Client()
    client.force_login(make_user(org, *roles))
    return client


def check_url(pk: int) -> str:
    return f"/items/{pk}/bots/invoice-check/"


def test_the_item_page_offers_the_check_on_invoices_to_those_who_act():
    # given
    process = make_invoice_process()
    item = make_item(process, payload=invoice_payload())
    ticket = make_item(make_process(engagement=process.engagement))
    agent = signed_in(process.provider, "agent")
    # when
    on_invoice = agent.get(f"/items/{item.pk}/").content.decode()
    on_ticket = agent.get(f"/items/{ticket.pk}/").content.decode()
    as_client = signed_in(process.client, "client_admin").get(f"/items/{item.pk}/")
    as_viewer = signed_in(process.provider, "qa_analyst").get(f"/items/{item.pk}/")
    # then
    assert BUTTON in on_invoice
    assert BUTTON not in on_ticket
    assert BUTTON not in as_client.content.decode()
    assert BUTTON not in as_viewer.content.decode()


def test_the_button_is_gone_once_the_item_is_cancelled():
    # given
    process = make_invoice_process()
    item = make_item(process, payload=invoice_payload())
    services.work_item_cancel(actor=None, item=item, reason="sent twice")
    # when
    body = signed_in(process.provider, "agent").get(f"/items/{item.pk}/").content.decode()
    # then
    assert BUTTON not in body


def test_htmx_gets_the_result_block_and_the_timeline_with_the_event():
    # given
    process = make_invoice_process()
    item = make_item(process, payload=invoice_payload(tax_amount="30.00", total_amount=None))
    agent = signed_in(process.provider, "agent")
    # when
    response = agent.post(check_url(item.pk), headers=HTMX)
    # then
    assert response.status_code == 200
    body = response.content.decode()
    assert 'data-testid="bot-result"' in body
    assert "1 finding" in body
    assert "20 % of 155.50 is 31.10, not 30.00" in body
    assert 'id="timeline"' in body
    assert 'hx-swap-oob="true"' in body
    assert "<strong>bot_checked</strong>" in body
    assert "<html" not in body
    assert WorkItemEvent.objects.filter(item=item, type="bot_checked").count() == 1


def test_a_valid_invoice_says_so():
    # given
    process = make_invoice_process()
    item = make_item(process, payload=invoice_payload())
    # when
    response = signed_in(process.provider, "agent").post(check_url(item.pk), headers=HTMX)
    # then
    body = response.content.decode()
    assert "The invoice passes every check." in body
    assert 'data-testid="bot-figures"' in body


def test_without_htmx_the_post_runs_and_returns_to_the_item():
    # given
    process = make_invoice_process()
    item = make_item(process, payload=invoice_payload())
    agent = signed_in(process.provider, "agent")
    # when
    response = agent.post(check_url(item.pk))
    page = agent.get(f"/items/{item.pk}/").content.decode()
    # then
    assert response.status_code == 302
    assert response["Location"] == f"/items/{item.pk}/"
    assert "<strong>bot_checked</strong>" in page


def test_a_get_goes_to_the_item_page():
    process = make_invoice_process()
    item = make_item(process, payload=invoice_payload())
    response = signed_in(process.provider, "agent").get(check_url(item.pk))
    assert (response.status_code, response["Location"]) == (302, f"/items/{item.pk}/")


def test_a_refusal_is_said_on_the_page_and_writes_nothing():
    # given
    process = make_invoice_process()
    item = make_item(process, payload=invoice_payload())
    client = signed_in(process.client, "client_admin")
    # when
    fragment = client.post(check_url(item.pk), headers=HTMX)
    page = client.post(check_url(item.pk))
    # then
    assert fragment.status_code == 200
    assert 'data-testid="bot-problem"' in fragment.content.decode()
    assert page.status_code == 403
    assert 'data-testid="bot-problem"' in page.content.decode()
    assert not WorkItemEvent.objects.filter(item=item, type="bot_checked").exists()
