"""Webhooks end to end against a real HTTP receiver on loopback."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.utils import timezone

from offload.contracts.models import Process
from offload.core import safe_http
from offload.tenancy.tests.factories import api_client, key_for
from offload.work import services, webhooks
from offload.work.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from offload.work.tests.factories import make_item, make_process

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _receiver_on_loopback(settings):
    """The test receiver listens on 127.0.0.1, which production refuses (SSRF)."""
    settings.OFFLOAD_ALLOW_PRIVATE_URLS = True


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """Records every POST; answers 500 to the next `fail_next` of them, then 204."""

    url: str = ""
    requests: list[Received] = field(default_factory=list)
    fail_next: int = 0

    @property
    def types(self) -> list[str]:
        return [r.json["event"]["type"] for r in self.requests]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            state.requests.append(Received(dict(self.headers.items()), body))
            if state.fail_next > 0:
                state.fail_next -= 1
                self.send_response(500)
            else:
                self.send_response(204)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


def _endpoint(process: Process, url: str, types: list[str]) -> WebhookEndpoint:
    return webhooks.webhook_endpoint_create(
        actor=None, client=process.client, provider=process.provider, url=url, event_types=types
    )


def _sweep(now: datetime) -> int:
    return webhooks.webhook_deliveries_due(now)


def _verify(secret: str, received: Received) -> bool:
    """How a receiver checks a delivery (docs/webhooks.md)."""
    parts = dict(p.split("=", 1) for p in received.headers["Offload-Signature"].split(","))
    signed = f"{parts['t']}.".encode() + received.body
    expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, parts["v1"])


def test_an_event_is_delivered_signed(receiver: Receiver):
    # given
    process = make_process()
    endpoint = _endpoint(process, receiver.url, ["created"])
    item = make_item(process, reference="ORD-1")
    delivery = WebhookDelivery.objects.get(endpoint=endpoint)
    # when
    handled = _sweep(timezone.now())
    # then
    assert handled == 1
    [got] = receiver.requests
    assert got.headers["Content-Type"] == "application/json"
    assert got.headers["Offload-Delivery"] == str(delivery.pk)
    assert _verify(endpoint.secret, got)
    assert not _verify("another secret", got)
    assert got.json["id"] == delivery.pk
    assert got.json["item"] == {"id": item.pk, "reference": "ORD-1", "status": "queued"}
    assert got.json["event"]["type"] == "created"
    assert got.json["event"]["seq"] == 1
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.DELIVERED
    assert delivery.attempts == 1
    assert delivery.last_status_code == 204


def test_only_subscribed_types_of_active_endpoints_are_queued(receiver: Receiver):
    # given
    process = make_process()
    wanted = _endpoint(process, receiver.url, ["completed"])
    everything = _endpoint(process, receiver.url, ["*"])
    off = _endpoint(process, receiver.url, ["*"])
    off.is_active = False
    off.save()
    # when
    item = make_item(process)
    services.work_item_complete(actor=None, item=item, outcome="resolved")
    # then
    assert WebhookDelivery.objects.filter(endpoint=wanted).count() == 1
    assert WebhookDelivery.objects.filter(endpoint=everything).count() == 3
    assert not WebhookDelivery.objects.filter(endpoint=off).exists()


def test_failures_back_off_then_deliver(receiver: Receiver):
    # given
    process = make_process()
    _endpoint(process, receiver.url, ["created"])
    make_item(process)
    receiver.fail_next = 2
    t0 = timezone.now()
    # when: the first attempt fails
    _sweep(t0)
    # then: the second is due 2 minutes later
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.PENDING, 1)
    assert delivery.next_attempt_at == t0 + timedelta(minutes=2)
    assert delivery.last_status_code == 500
    assert "500" in delivery.last_error
    # when: not yet due, then due and failing again
    assert _sweep(t0 + timedelta(minutes=1)) == 0
    _sweep(t0 + timedelta(minutes=2))
    delivery.refresh_from_db()
    assert delivery.attempts == 2
    assert delivery.next_attempt_at == t0 + timedelta(minutes=2 + 4)
    # when: the third attempt succeeds
    _sweep(t0 + timedelta(minutes=6))
    # then
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.DELIVERED
    assert delivery.attempts == 3
    assert len(receiver.requests) == 3
    assert {r.headers["Offload-Delivery"] for r in receiver.requests} == {str(delivery.pk)}


def test_backoff_is_capped_at_six_hours():
    assert webhooks.backoff(1) == timedelta(minutes=2)
    assert webhooks.backoff(8) == timedelta(minutes=256)
    assert webhooks.backoff(9) == timedelta(hours=6)
    assert webhooks.backoff(60) == timedelta(hours=6)


def test_a_later_event_waits_for_the_earlier_one(receiver: Receiver):
    # given: created and queued owed to one endpoint, the first attempt failing
    process = make_process()
    _endpoint(process, receiver.url, ["*"])
    make_item(process)
    receiver.fail_next = 1
    t0 = timezone.now()
    # when
    _sweep(t0)
    _sweep(t0 + timedelta(minutes=1))
    # then: `queued` is not sent while `created` is pending
    assert receiver.types == ["created"]
    # when: created goes through, then queued
    _sweep(t0 + timedelta(minutes=2))
    _sweep(t0 + timedelta(minutes=2))
    # then
    assert receiver.types == ["created", "created", "queued"]
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {"delivered"}


def test_a_delivery_is_dead_after_24_hours_and_the_next_one_goes(receiver: Receiver):
    # given
    process = make_process()
    _endpoint(process, receiver.url, ["*"])
    make_item(process)
    receiver.fail_next = 1000
    t0 = timezone.now()
    _sweep(t0)
    # when
    _sweep(t0 + timedelta(hours=23))
    first = WebhookDelivery.objects.order_by("id").first()
    assert first is not None
    assert first.status == DeliveryStatus.PENDING
    _sweep(t0 + timedelta(hours=25))
    # then
    first.refresh_from_db()
    assert first.status == DeliveryStatus.DEAD
    assert first.attempts == 3
    assert "500" in first.last_error
    # and the item's next event is no longer held back
    _sweep(t0 + timedelta(hours=25))
    assert receiver.types[-1] == "queued"


def test_redeliver_makes_a_dead_delivery_due_now(receiver: Receiver):
    # given
    process = make_process()
    endpoint = _endpoint(process, receiver.url, ["created"])
    make_item(process)
    delivery = WebhookDelivery.objects.get()
    delivery.status = DeliveryStatus.DEAD
    delivery.attempts = 9
    delivery.last_error = "HTTP 500 Internal Server Error"
    delivery.save()
    client = api_client(key_for(process.client, "client_admin"))
    # when
    response = client.post(
        f"/api/v1/webhooks/deliveries/{delivery.pk}/redeliver", {}, content_type="application/json"
    )
    # then
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "pending"
    assert response.json()["attempts"] == 0
    assert _sweep(timezone.now()) == 1
    assert receiver.requests[0].headers["Offload-Delivery"] == str(delivery.pk)
    log = client.get(f"/api/v1/webhooks/{endpoint.pk}/deliveries").json()["items"]
    assert [(d["id"], d["status"]) for d in log] == [(delivery.pk, "delivered")]


def test_create_shows_the_secret_once():
    # given
    process = make_process()
    client = api_client(key_for(process.client, "client_admin"))
    # when
    created = client.post(
        "/api/v1/webhooks",
        {"url": "https://erp.example.com/offload", "event_types": ["completed"]},
        content_type="application/json",
    )
    # then
    assert created.status_code == 201, created.content
    body = created.json()
    assert len(body["secret"]) >= 40
    assert body["client_id"] == process.client_id
    assert body["provider_id"] == process.provider_id
    fetched = client.get(f"/api/v1/webhooks/{body['id']}").json()
    assert "secret" not in fetched
    assert WebhookEndpoint.objects.get(pk=body["id"]).secret == body["secret"]


def test_bad_event_types_and_urls_are_422_by_field():
    # given
    process = make_process()
    client = api_client(key_for(process.client, "client_admin"))
    # when
    response = client.post(
        "/api/v1/webhooks",
        {"url": "ftp://example.com/x", "event_types": ["completed", "exploded"]},
        content_type="application/json",
    )
    # then
    assert response.status_code == 422
    assert {f["field"] for f in response.json()["errors"]} == {"url", "event_types[1]"}


def test_a_client_cannot_see_or_change_another_clients_endpoints():
    # given
    mine, theirs = make_process(), make_process()
    endpoint = _endpoint(theirs, "https://theirs.example.com/hooks", ["*"])
    client = api_client(key_for(mine.client, "client_admin"))
    # when / then
    assert client.get("/api/v1/webhooks").json()["items"] == []
    assert client.get(f"/api/v1/webhooks/{endpoint.pk}").status_code == 404
    assert client.delete(f"/api/v1/webhooks/{endpoint.pk}").status_code == 404
    assert WebhookEndpoint.objects.filter(pk=endpoint.pk).exists()


def test_a_viewer_cannot_manage_endpoints():
    # given
    process = make_process()
    client = api_client(key_for(process.client, "client_viewer"))
    # when
    response = client.post(
        "/api/v1/webhooks",
        {"url": "https://erp.example.com/offload", "event_types": ["*"]},
        content_type="application/json",
    )
    # then
    assert response.status_code == 403


def test_a_provider_admin_manages_its_clients_endpoints():
    # given
    process = make_process()
    client = api_client(key_for(process.provider, "admin"))
    body = {"url": "https://erp.example.com/offload", "event_types": ["*"]}
    # when
    missing = client.post("/api/v1/webhooks", body, content_type="application/json")
    created = client.post(
        "/api/v1/webhooks",
        {**body, "client_id": process.client_id},
        content_type="application/json",
    )
    # then
    assert missing.status_code == 422
    assert [f["field"] for f in missing.json()["errors"]] == ["client_id"]
    assert created.status_code == 201, created.content
    endpoint_id = created.json()["id"]
    patched = client.patch(
        f"/api/v1/webhooks/{endpoint_id}", {"is_active": False}, content_type="application/json"
    )
    assert patched.json()["is_active"] is False
    assert client.delete(f"/api/v1/webhooks/{endpoint_id}").status_code == 204


def test_a_worker_killed_while_sending_leaves_the_delivery_due_after_its_lease(
    receiver: Receiver, monkeypatch: pytest.MonkeyPatch
):
    # given: the first send dies with the worker, after the claim committed
    process = make_process()
    endpoint = _endpoint(process, receiver.url, ["created"])
    make_item(process)
    delivery = WebhookDelivery.objects.get(endpoint=endpoint)
    real_post = safe_http.post

    def dies(*args: Any, **kwargs: Any) -> Any:
        raise SystemExit("worker killed")

    monkeypatch.setattr(safe_http, "post", dies)
    now = timezone.now()
    with pytest.raises(SystemExit):
        _sweep(now)
    delivery.refresh_from_db()
    # then: still owed, reserved for the lease, so another worker does not double-send
    assert delivery.status == DeliveryStatus.PENDING
    assert delivery.next_attempt_at == now + webhooks.LEASE
    assert _sweep(now + timedelta(seconds=1)) == 0
    # when: the lease has run out and a live worker sweeps
    monkeypatch.setattr(safe_http, "post", real_post)
    handled = _sweep(now + webhooks.LEASE)
    # then: sent once more, under the same delivery id
    assert handled == 1
    assert [r.headers["Offload-Delivery"] for r in receiver.requests] == [str(delivery.pk)]
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.DELIVERED


def test_a_manual_redelivery_during_a_send_is_not_overwritten_by_its_answer(
    receiver: Receiver, monkeypatch: pytest.MonkeyPatch
):
    # given: while the receiver is being called, someone asks for a redelivery
    process = make_process()
    endpoint = _endpoint(process, receiver.url, ["created"])
    make_item(process)
    delivery = WebhookDelivery.objects.get(endpoint=endpoint)
    receiver.fail_next = 1
    real_post = safe_http.post

    def post_then_redeliver(*args: Any, **kwargs: Any) -> Any:
        answer = real_post(*args, **kwargs)
        webhooks.webhook_delivery_redeliver(actor=None, delivery=delivery, reason="retry now")
        return answer

    monkeypatch.setattr(safe_http, "post", post_then_redeliver)
    # when
    _sweep(timezone.now())
    # then: the failure did not push the fresh redelivery back by a backoff
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.PENDING
    assert delivery.attempts == 0
    assert delivery.last_error == ""
