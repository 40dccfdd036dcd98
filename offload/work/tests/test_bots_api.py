"""The attended invoice check: POST /items/{id}/bots/invoice-check and its service."""

from __future__ import annotations

import json
from typing import Any

import pytest

from offload.contracts.models import Process
from offload.tenancy import visibility
from offload.tenancy.tests.factories import api_client, make_api_key, make_user
from offload.tenancy.visibility import Principal
from offload.work import leases, services
from offload.work.bots import attended, invoice_check
from offload.work.models import Assignment, WorkItem, WorkItemEvent
from offload.work.tests.factories import (
    invoice_payload,
    make_invoice_process,
    make_item,
    make_process,
)
from offload.workers import services as worker_services
from offload.workers.models import Worker
from offload.workers.tests.factories import make_agent

pytestmark = pytest.mark.django_db

PROBLEM = "application/problem+json"


def url(item: WorkItem) -> str:
    return f"/api/v1/items/{item.pk}/bots/invoice-check"


def agent(process: Process, username: str = "") -> Worker:
    worker = make_agent(
        process.provider,
        username=username,
        skills={},
        processes=[process],
        channels={process.channel: 3},
    )
    return worker_services.worker_set_presence(actor=None, worker=worker, presence="available")


def key_of(worker: Worker) -> str:
    return make_api_key(worker.provider, user=worker.user)[1]


def principal(worker: Worker) -> Principal:
    found = visibility.principal_for_user(worker.user)
    assert found is not None
    return found


def invoice(process: Process, reference: str = "", **changes: Any) -> WorkItem:
    more = {"reference": reference} if reference else {}
    return make_item(process, payload=invoice_payload(**changes), **more)


def last_event(item: WorkItem) -> WorkItemEvent:
    event = WorkItemEvent.objects.filter(item=item).order_by("-seq").first()
    assert event is not None
    return event


def test_a_valid_invoice_is_checked_recorded_and_left_as_it_was():
    # given
    process = make_invoice_process()
    item = invoice(process, invoice_number="INV-1")
    worker = agent(process)
    # when
    response = api_client(key_of(worker)).post(url(item))
    # then
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["bot"] == "invoice-check"
    assert body["item_id"] == item.pk
    assert body["ok"] is True
    assert body["findings"] == []
    assert body["figures"]["tax_expected"] == "31.10"
    assert body["figures"]["invoice_number"] == "INV-1"
    event = last_event(item)
    assert (event.type, event.seq) == ("bot_checked", body["event_seq"])
    assert event.actor_user_id == worker.user_id
    assert event.data == {
        "bot": "invoice-check",
        "attended": True,
        "ok": True,
        "findings": [],
        "figures": body["figures"],
    }
    item.refresh_from_db()
    assert item.status == "queued"


def test_an_invalid_invoice_answers_its_findings_and_stays_put():
    # given
    process = make_invoice_process()
    item = invoice(process, tax_amount="31.00", total_amount=None, supplier_tax_id="GB123456789")
    worker = agent(process)
    # when
    response = api_client(key_of(worker)).post(url(item))
    # then
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["ok"] is False
    assert [(f["code"], f["field"]) for f in body["findings"]] == [
        ("tax_mismatch", "tax_amount"),
        ("tax_id_checksum", "supplier_tax_id"),
    ]
    assert last_event(item).data["findings"] == body["findings"]
    item.refresh_from_db()
    assert (item.status, item.failure_kind) == ("queued", "")


def test_a_duplicate_is_an_earlier_live_item_of_the_same_client_and_process():
    # given
    process = make_invoice_process()
    first = invoice(process, reference="FIRST", invoice_number="INV-7")
    second = invoice(
        process, reference="SECOND", invoice_number=" inv-7 ", supplier_tax_id="gb 434031494"
    )
    other = make_invoice_process(engagement=process.engagement, name="Other AP")
    elsewhere = invoice(other, reference="ELSEWHERE", invoice_number="INV-7")
    agent_of_both = principal(agent(process))
    # when
    earlier, later, apart = (
        attended.work_item_invoice_check(actor=agent_of_both, item=i)[0]
        for i in (first, second, elsewhere)
    )
    # then
    assert earlier.ok
    assert later.codes == [invoice_check.DUPLICATE]
    assert "as item FIRST" in later.findings[0].message
    assert apart.ok


def test_a_cancelled_earlier_item_is_no_duplicate():
    # given
    process = make_invoice_process()
    first = invoice(process, invoice_number="INV-8")
    second = invoice(process, invoice_number="INV-8")
    services.work_item_cancel(actor=None, item=first, reason="sent twice")
    # when
    result, _ = attended.work_item_invoice_check(actor=principal(agent(process)), item=second)
    # then
    assert result.ok


def test_a_retry_is_no_duplicate_of_the_attempt_it_retries():
    # given: a system failure's retry carries the payload of the failed item
    process = make_invoice_process()
    failed = invoice(process, invoice_number="INV-9")
    services.work_item_fail(actor=None, item=failed, kind="system", reason="ERP timeout")
    retry = make_item(process, payload=failed.payload, parent=failed, reference="RETRY")
    WorkItem.objects.filter(pk=retry.pk).update(attempt=2)
    # when
    result, _ = attended.work_item_invoice_check(actor=principal(agent(process)), item=retry)
    # then
    assert result.ok


def test_only_the_holder_or_a_supervisor_checks_a_held_item():
    # given
    process = make_invoice_process()
    item = invoice(process)
    holder, other = agent(process, "holder"), agent(process, "other")
    claim = leases.work_item_claim(actor=principal(holder))
    assert claim is not None
    lease_before = claim.assignment.lease_expires_at
    lead = make_user(process.provider, "team_lead")
    lead_key = make_api_key(process.provider, user=lead)[1]
    # when
    refused = api_client(key_of(other)).post(url(item))
    by_holder = api_client(key_of(holder)).post(url(item))
    by_lead = api_client(lead_key).post(url(item))
    # then
    assert refused.status_code == 409
    assert refused["Content-Type"] == PROBLEM
    assert refused.json()["holder"] == holder.pk
    assert by_holder.status_code == 200
    assert by_lead.status_code == 200
    lease = Assignment.objects.get(pk=claim.assignment.pk)
    assert lease.lease_expires_at >= lease_before
    assert WorkItemEvent.objects.filter(item=item, type="bot_checked").count() == 2


def test_clients_and_viewers_may_not_run_bots():
    # given
    process = make_invoice_process()
    item = invoice(process)
    client_admin = make_api_key(process.client, user=make_user(process.client, "client_admin"))[1]
    viewer = make_api_key(process.provider, user=make_user(process.provider, "qa_analyst"))[1]
    # when
    responses = [api_client(key).post(url(item)) for key in (client_admin, viewer)]
    # then
    assert [r.status_code for r in responses] == [403, 403]
    assert not WorkItemEvent.objects.filter(item=item, type="bot_checked").exists()


def test_a_final_item_or_a_process_without_invoices_is_a_conflict():
    # given
    process = make_invoice_process()
    cancelled = invoice(process)
    services.work_item_cancel(actor=None, item=cancelled, reason="duplicate")
    completed = invoice(process)
    services.work_item_complete(actor=None, item=completed, outcome="resolved")
    ticket = make_item(make_process(engagement=process.engagement, channel="back_office"))
    key = key_of(agent(process))
    # when
    on_cancelled = api_client(key).post(url(cancelled))
    on_completed = api_client(key).post(url(completed))
    on_ticket = api_client(key).post(url(ticket))
    # then
    assert on_cancelled.status_code == 409
    assert on_cancelled.json()["current"] == "cancelled"
    assert "cannot run a bot on an item that is cancelled" in on_cancelled.json()["detail"]
    assert on_completed.status_code == 200
    assert on_ticket.status_code == 409
    assert "the invoice check applies to processes" in on_ticket.json()["detail"]


def test_another_providers_item_is_not_found():
    # given
    item = invoice(make_invoice_process())
    stranger = agent(make_invoice_process())
    # when
    response = api_client(key_of(stranger)).post(url(item))
    # then
    assert response.status_code == 404
    assert response["Content-Type"] == PROBLEM


def test_a_bots_key_records_an_unattended_check():
    # given
    process = make_invoice_process()
    item = invoice(process)
    bot_user = make_user(process.provider, "bot")
    key = make_api_key(process.provider, user=bot_user)[1]
    # when
    response = api_client(key).post(url(item), json.dumps({}), content_type="application/json")
    # then
    assert response.status_code == 200, response.content
    assert last_event(item).data["attended"] is False
