"""The demo's AP invoices: some fit to pay, some deliberately not, for the invoice bot."""

from io import StringIO

import pytest
from django.core.management import call_command

from offload.contracts.models import Process
from offload.demo import seed
from offload.tenancy.models import AuditEvent
from offload.work.bots import attended, invoice_check
from offload.work.models import WorkItem

REFERENCES = [invoice.reference for invoice in seed.AP_INVOICES]


def _ap_items() -> list[WorkItem]:
    return list(WorkItem.objects.filter(reference__in=REFERENCES).order_by("pk"))


@pytest.mark.django_db
def test_the_demo_queues_globexs_invoices_some_of_them_wrong(tmp_path):
    # when
    seed.load(credentials_path=tmp_path / "credentials.json")
    # then
    items = _ap_items()
    assert [i.reference for i in items] == REFERENCES
    assert {(i.client.slug, i.process.slug, i.status) for i in items} == {
        ("globex", "ap-invoices", "queued")
    }
    verdicts = {
        i.reference: invoice_check.check(i.payload, duplicate_of=attended.earlier_invoice(i))
        for i in items
    }
    wrong = {invoice.reference for invoice in seed.AP_INVOICES if invoice.wrong}
    assert {ref for ref, result in verdicts.items() if not result.ok} == wrong
    assert len(wrong) == 5
    assert verdicts["GBX-AP-0006"].codes == [invoice_check.LINES_MISMATCH]
    assert verdicts["GBX-AP-0007"].codes == [invoice_check.TAX_MISMATCH]
    assert verdicts["GBX-AP-0008"].codes == [invoice_check.TAX_ID_CHECKSUM]
    assert verdicts["GBX-AP-0009"].codes == [invoice_check.DUPLICATE]
    assert verdicts["GBX-AP-0010"].codes == [invoice_check.TOTAL_MISMATCH]


@pytest.mark.django_db
def test_a_demo_with_the_old_invoice_schema_is_brought_up_to_date_once(tmp_path):
    # given: a demo loaded when the AP schema took British VAT numbers only
    path = tmp_path / "credentials.json"
    seed.load(credentials_path=path)
    old = {"type": "object", "properties": {"supplier_tax_id": {"pattern": r"^GB\d{9}$"}}}
    Process.objects.filter(slug="ap-invoices").update(item_schema=old)
    # when
    upgraded = seed.load(credentials_path=path)
    again = seed.load(credentials_path=path)
    # then
    assert Process.objects.get(slug="ap-invoices").item_schema == seed.AP_INVOICE_SCHEMA
    assert upgraded.audit_events_written == 1
    assert AuditEvent.objects.filter(action="process.update").count() == 1
    assert again.audit_events_written == 0
    assert len(_ap_items()) == len(REFERENCES)


@pytest.mark.django_db(transaction=True)
def test_the_demo_bot_key_runs_the_invoice_bot(tmp_path, live_server):
    # given
    credentials = seed.load(credentials_path=tmp_path / "credentials.json")
    key = credentials.bot_keys["bot.invoice-check"]
    out = StringIO()
    # when
    call_command(
        "bot", "run", "invoice-check", "--once", "--api", live_server.url, "--key", key, stdout=out
    )
    # then
    items = {i.reference: i for i in _ap_items()}
    for invoice in seed.AP_INVOICES:
        item = items[invoice.reference]
        if invoice.wrong:
            assert (item.status, item.failure_kind) == ("failed", "business"), out.getvalue()
            assert item.queue.slug == "ap-invoices-review"
        else:
            assert (item.status, item.outcome) == ("completed", "resolved"), out.getvalue()
    assert "5 completed, 5 failed to review" in out.getvalue()
