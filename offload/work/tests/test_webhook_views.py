"""The webhook pages: endpoints and their delivery log in the client portal."""

from __future__ import annotations

import pytest
from django.test import Client

from offload.tenancy.models import AuditEvent, Organisation
from offload.tenancy.tests.factories import make_user
from offload.work import webhooks
from offload.work.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from offload.work.tests.factories import make_item

pytestmark = pytest.mark.django_db


def signed_in(org: Organisation, *roles: str) -> Client:
    client = Client()
    client.force_login(make_user(org, *roles))
    return client


def endpoint_for(org_item, url: str = "https://hooks.example.com/in") -> WebhookEndpoint:
    return webhooks.webhook_endpoint_create(
        actor=None,
        client=org_item.client,
        provider=org_item.provider,
        url=url,
        event_types=["*"],
    )


def test_a_client_admin_adds_an_endpoint_and_sees_its_secret_once():
    # given
    item = make_item()
    browser = signed_in(item.client, "client_admin")
    # when
    created = browser.post(
        "/webhooks/", {"url": "https://hooks.example.com/offload", "event_types": ["completed"]}
    )
    again = browser.get("/webhooks/")
    # then
    endpoint = WebhookEndpoint.objects.get(client=item.client)
    assert created.status_code == 200
    assert endpoint.secret in created.content.decode()
    assert endpoint.secret not in again.content.decode()
    assert "https://hooks.example.com/offload" in again.content.decode()
    assert endpoint.event_types == ["completed"]
    assert AuditEvent.objects.filter(action="webhook.create").exists()


def test_an_internal_url_is_refused_on_the_form_with_the_reason(settings):
    # given
    settings.OFFLOAD_ALLOW_PRIVATE_URLS = False
    item = make_item()
    browser = signed_in(item.client, "client_admin")
    # when
    response = browser.post(
        "/webhooks/", {"url": "http://169.254.169.254/latest", "event_types": ["*"]}
    )
    # then
    assert response.status_code == 422
    assert "private, loopback or link-local" in response.content.decode()
    assert not WebhookEndpoint.objects.exists()


def test_a_viewer_sees_the_endpoints_but_no_form():
    # given
    item = make_item()
    endpoint_for(item)
    browser = signed_in(item.client, "client_viewer")
    # when
    body = browser.get("/webhooks/").content.decode()
    refused = browser.post("/webhooks/", {"url": "https://x.example.com/", "event_types": ["*"]})
    # then
    assert "hooks.example.com" in body
    assert 'data-testid="webhook-form"' not in body
    assert refused.status_code == 403
    assert WebhookEndpoint.objects.count() == 1


def test_the_delivery_log_shows_a_dead_delivery_with_its_last_error_and_redelivers_it():
    # given
    item = make_item()
    endpoint = endpoint_for(item)
    second = make_item(item.process, reference="SECOND")  # its events owe deliveries
    delivery = WebhookDelivery.objects.filter(endpoint=endpoint, item=second).first()
    assert delivery is not None
    delivery.status = DeliveryStatus.DEAD
    delivery.attempts = 9
    delivery.last_error = "HTTP 503 Service Unavailable"
    delivery.save()
    browser = signed_in(item.client, "client_admin")
    # when
    log = browser.get(f"/webhooks/{endpoint.pk}/?status=dead").content.decode()
    swapped = browser.post(f"/webhooks/deliveries/{delivery.pk}/redeliver/", HTTP_HX_REQUEST="true")
    # then
    assert "HTTP 503 Service Unavailable" in log
    assert f'data-testid="delivery-{delivery.pk}"' in log
    assert swapped.status_code == 200
    assert "pending" in swapped.content.decode()
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.PENDING, 0)


def test_an_endpoint_is_paused_and_deleted_from_its_page():
    # given
    item = make_item()
    endpoint = endpoint_for(item)
    browser = signed_in(item.client, "client_admin")
    # when
    paused = browser.post(
        f"/webhooks/{endpoint.pk}/", {"url": endpoint.url, "event_types": ["failed"]}
    )
    endpoint.refresh_from_db()
    # then
    assert paused.status_code == 302
    assert (endpoint.is_active, endpoint.event_types) == (False, ["failed"])
    # when
    deleted = browser.post(f"/webhooks/{endpoint.pk}/", {"delete": "1"})
    # then
    assert deleted.status_code == 302
    assert not WebhookEndpoint.objects.filter(pk=endpoint.pk).exists()


def test_another_client_cannot_see_or_redeliver():
    # given
    item = make_item()
    endpoint = endpoint_for(item)
    make_item(item.process, reference="SECOND")
    delivery = WebhookDelivery.objects.filter(endpoint=endpoint).first()
    assert delivery is not None
    other = make_item()
    browser = signed_in(other.client, "client_admin")
    # when
    listing = browser.get("/webhooks/").content.decode()
    detail = browser.get(f"/webhooks/{endpoint.pk}/")
    redeliver = browser.post(f"/webhooks/deliveries/{delivery.pk}/redeliver/")
    # then
    assert "hooks.example.com" not in listing
    assert detail.status_code == 404
    assert redeliver.status_code == 404


def test_the_provider_admin_adds_an_endpoint_for_a_client_it_serves():
    # given
    item = make_item()
    browser = signed_in(item.provider, "admin")
    # when
    page = browser.get("/webhooks/").content.decode()
    created = browser.post(
        "/webhooks/",
        {"client_id": item.client_id, "url": "https://erp.example.com/in", "event_types": ["*"]},
    )
    # then
    assert item.client.name in page
    assert created.status_code == 200
    assert WebhookEndpoint.objects.get(client=item.client).event_types == ["*"]
