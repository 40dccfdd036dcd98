"""The pure invoice check: sums, tax, totals, tax ids, duplicates. No database."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from offload.work.bots import invoice_check as ic

VALID: dict[str, Any] = {
    "supplier_name": "Paper & Co Ltd",
    "supplier_tax_id": "GB434031494",
    "invoice_number": "INV-20417",
    "currency": "GBP",
    "net_amount": "155.50",
    "tax_rate": "20",
    "tax_amount": "31.10",
    "total_amount": "186.60",
    "lines": [
        {"description": "Paper", "amount": "120.00"},
        {"description": "Toner", "amount": "35.50"},
    ],
}


def invoice(**changes: Any) -> dict[str, Any]:
    payload = {**VALID, **changes}
    return {k: v for k, v in payload.items() if v is not None}


def codes(payload: dict[str, Any], **kwargs: Any) -> list[str]:
    return ic.check(payload, **kwargs).codes


def test_a_consistent_invoice_passes_with_its_figures():
    # when
    result = ic.check(VALID, duplicate_of=lambda tax_id, number: None)
    # then
    assert result.ok
    assert result.findings == ()
    assert result.figures == {
        "currency": "GBP",
        "lines_total": "155.50",
        "net_amount": "155.50",
        "tax_rate": "20",
        "tax_expected": "31.10",
        "tax_amount": "31.10",
        "total_expected": "186.60",
        "total_amount": "186.60",
        "supplier_tax_id": "GB434031494",
        "supplier_country": "GB",
        "invoice_number": "INV-20417",
    }
    assert result.as_dict() == {
        "bot": "invoice-check",
        "ok": True,
        "findings": [],
        "figures": result.figures,
    }


def test_lines_that_do_not_add_up_to_the_net_are_named():
    # given
    payload = invoice(lines=[{"amount": "80.00"}, {"amount": "45.00"}], net_amount="120.00")
    payload.update(tax_amount="24.00", total_amount="144.00")
    # when
    result = ic.check(payload)
    # then
    assert result.findings == (
        ic.Finding(
            ic.LINES_MISMATCH, "net_amount", "the lines add up to 125.00, not the net amount 120.00"
        ),
    )
    assert result.figures["lines_total"] == "125.00"


def test_a_cent_off_is_off():
    assert codes(invoice(lines=[{"amount": "120.00"}, {"amount": "35.49"}])) == [ic.LINES_MISMATCH]


@pytest.mark.parametrize(
    ("net", "rate", "tax"),
    [
        ("512.37", "20", "102.47"),  # 102.474 rounds down
        ("845.55", "5", "42.28"),  # 42.2775 rounds up
        ("0.10", "5", "0.01"),  # 0.005: half-up, not half-even (which gives 0.00)
        ("0.30", "5", "0.02"),  # 0.015
        ("100.00", "5.5", "5.50"),
        ("100.00", "0", "0.00"),
        ("-50.00", "20", "-10.00"),  # a credit note
    ],
)
def test_tax_is_the_net_times_the_rate_rounded_half_up(net, rate, tax):
    # given
    payload = invoice(
        net_amount=net, tax_rate=rate, tax_amount=tax, total_amount=None, lines=[{"amount": net}]
    )
    # when
    result = ic.check(payload)
    # then
    assert result.ok, result.findings
    assert result.figures["tax_expected"] == tax


def test_tax_that_does_not_match_the_rate_names_the_expected_amount():
    # when
    result = ic.check(invoice(tax_amount="31.11", total_amount="186.61"))
    # then
    assert result.findings == (
        ic.Finding(ic.TAX_MISMATCH, "tax_amount", "20 % of 155.50 is 31.10, not 31.11"),
    )


def test_a_total_is_net_plus_tax_and_is_optional():
    assert codes(invoice(total_amount="186.59")) == [ic.TOTAL_MISMATCH]
    assert codes(invoice(total_amount=None)) == []
    assert "total_amount" not in ic.check(invoice(total_amount=None)).figures


def test_missing_fields_are_each_named():
    # when
    result = ic.check({"lines": []})
    # then
    assert {(f.code, f.field) for f in result.findings} == {
        (ic.MISSING, "currency"),
        (ic.BAD_LINES, "lines"),
        (ic.MISSING, "net_amount"),
        (ic.MISSING, "tax_rate"),
        (ic.MISSING, "tax_amount"),
        (ic.MISSING, "supplier_tax_id"),
        (ic.MISSING, "invoice_number"),
    }


@pytest.mark.parametrize(
    ("changes", "code", "field"),
    [
        ({"net_amount": "12,50"}, ic.BAD_AMOUNT, "net_amount"),
        ({"net_amount": 12.5}, ic.BAD_AMOUNT, "net_amount"),
        ({"net_amount": True}, ic.BAD_AMOUNT, "net_amount"),
        ({"tax_amount": "NaN"}, ic.BAD_AMOUNT, "tax_amount"),
        ({"lines": [{"amount": "1e3"}]}, ic.BAD_AMOUNT, "lines[0].amount"),
        ({"lines": [{"description": "no amount"}]}, ic.MISSING, "lines[0].amount"),
        ({"lines": ["120.00"]}, ic.MISSING, "lines[0].amount"),
        ({"lines": {"amount": "1"}}, ic.BAD_LINES, "lines"),
        ({"tax_amount": "31.105"}, ic.BAD_PRECISION, "tax_amount"),
        ({"tax_rate": "abc"}, ic.BAD_RATE, "tax_rate"),
        ({"tax_rate": "120"}, ic.BAD_RATE, "tax_rate"),
        ({"tax_rate": "-5"}, ic.BAD_RATE, "tax_rate"),
        ({"currency": "pounds"}, ic.BAD_CURRENCY, "currency"),
        ({"supplier_tax_id": "  "}, ic.MISSING, "supplier_tax_id"),
        ({"invoice_number": ""}, ic.MISSING, "invoice_number"),
    ],
)
def test_unusable_values_are_findings_never_errors(changes, code, field):
    # when
    result = ic.check(invoice(**changes))
    # then
    assert (code, field) in {(f.code, f.field) for f in result.findings}, result.findings
    assert not result.ok


def test_trailing_zeros_and_integers_are_amounts():
    payload = invoice(lines=[{"amount": 120}, {"amount": "35.500"}], net_amount="155.5")
    assert codes(payload) == []


def test_a_currency_without_cents_is_checked_in_whole_units():
    # given: yen have no minor unit
    payload = invoice(
        currency="JPY",
        net_amount="1001",
        tax_rate="10",
        tax_amount="100",
        total_amount="1101",
        lines=[{"amount": "1001"}],
    )
    # when / then: 100.1 rounds to 100
    assert codes(payload) == []
    assert codes({**payload, "tax_amount": "100.10", "total_amount": None}) == [ic.BAD_PRECISION]


# ------------------------------------------------------------------ tax ids


@pytest.mark.parametrize(
    "tax_id",
    [
        "GB434031494",
        "GB980780684",
        "GB 980 7806 84",
        "gb999999973",
        "GB999999973001",  # a branch: 12 digits, the first nine checked
        "GBGD001",
        "GBHA599",
        "XI434031494",
        "DE136695976",
        "PL5260250274",
        "PL 526 025 02 74",
        "FR40303265045",
        "FRK7399859412",  # a letter key: format only
        "NL123456789B01",
        "ESA12345674",
        "ES12345678Z",
        "IT00743110157",
        "12-3456789",
    ],
)
def test_well_formed_tax_ids_pass(tax_id):
    assert ic.tax_id_findings(tax_id) == []


@pytest.mark.parametrize(
    ("tax_id", "code"),
    [
        ("GB123456789", ic.TAX_ID_CHECKSUM),
        ("GB43403149", ic.TAX_ID_FORMAT),
        ("GBGD500", ic.TAX_ID_FORMAT),
        ("GBHA100", ic.TAX_ID_FORMAT),
        ("DE12345678", ic.TAX_ID_FORMAT),
        ("DE1234567890", ic.TAX_ID_FORMAT),
        ("PL1234567890", ic.TAX_ID_CHECKSUM),
        ("PL526025027", ic.TAX_ID_FORMAT),
        ("FR41303265045", ic.TAX_ID_CHECKSUM),
        ("FR4030326504", ic.TAX_ID_FORMAT),
        ("NL123456789A01", ic.TAX_ID_FORMAT),
        ("ES123456789", ic.TAX_ID_FORMAT),
        ("IT00743110158", ic.TAX_ID_CHECKSUM),
        ("123456789", ic.TAX_ID_COUNTRY),
        ("12-345678", ic.TAX_ID_COUNTRY),
        ("BE0123456749", ic.TAX_ID_COUNTRY),
    ],
)
def test_malformed_tax_ids_are_named_by_what_is_wrong(tax_id, code):
    # when
    findings = ic.tax_id_findings(tax_id)
    # then
    assert [f.code for f in findings] == [code]
    assert findings[0].field == "supplier_tax_id"
    assert tax_id in findings[0].message


def test_the_supplier_country_comes_from_the_tax_id():
    assert ic.check(invoice(supplier_tax_id="DE136695976")).figures["supplier_country"] == "DE"
    assert ic.check(invoice(supplier_tax_id="12-3456789")).figures["supplier_country"] == "US"
    assert "supplier_country" not in ic.check(invoice(supplier_tax_id="BE0123")).figures


# ------------------------------------------------------------------ duplicates


def test_a_duplicate_names_the_earlier_item():
    # given
    asked: list[tuple[str, str]] = []

    def duplicate_of(tax_id: str, number: str) -> str | None:
        asked.append((tax_id, number))
        return "GBX-AP-0001"

    # when
    result = ic.check(
        invoice(supplier_tax_id="gb 434 031 494", invoice_number=" inv-20417 "),
        duplicate_of=duplicate_of,
    )
    # then: asked with the normalised key
    assert asked == [("GB434031494", "INV-20417")]
    assert result.findings == (
        ic.Finding(
            ic.DUPLICATE,
            "invoice_number",
            "invoice INV-20417 of GB434031494 was already received as item GBX-AP-0001",
        ),
    )


def test_without_a_lookup_or_a_key_there_is_no_duplicate_check():
    assert ic.check(VALID).ok
    assert codes(invoice(invoice_number=None), duplicate_of=lambda t, n: "X") == [ic.MISSING]


def test_invoice_key_normalises_both_parts():
    assert ic.invoice_key({"supplier_tax_id": "gb 434.031.494", "invoice_number": " a-1 "}) == (
        "GB434031494",
        "A-1",
    )
    assert ic.invoice_key({"supplier_tax_id": "GB1", "invoice_number": 7}) is None
    assert ic.invoice_key({"supplier_tax_id": " ", "invoice_number": "A"}) is None


def test_the_reason_lists_the_findings_within_the_limit():
    # given
    result = ic.check(invoice(tax_amount="1.00", supplier_tax_id="GB123456789"))
    # when
    reason = result.reason()
    short = result.reason(limit=40)
    # then
    assert reason.startswith("invoice check failed: tax_amount: 20 % of 155.50 is 31.10")
    assert "(tax_id_checksum)" in reason
    assert len(short) == 40
    assert short.endswith("…")


def test_applies_to_schemas_that_declare_every_invoice_field():
    fields: dict[str, Any] = {f: {} for f in ic.FIELDS}
    assert ic.applies_to({"type": "object", "properties": fields})
    del fields["lines"]
    assert not ic.applies_to({"type": "object", "properties": fields})
    assert not ic.applies_to({"type": "object"})


# ------------------------------------------------------------------ properties

CENTS = st.integers(min_value=1, max_value=10_000_000)
RATES = st.sampled_from(["0", "5", "5.5", "7", "8", "10", "19", "20", "21", "23"])
TAX_IDS = st.sampled_from(
    [
        "GB434031494",
        "GB220430231",
        "DE136695976",
        "PL5260250274",
        "FR40303265045",
        "NL123456789B01",
        "ESA12345674",
        "IT00743110157",
        "12-3456789",
    ]
)


def _money(cents: int) -> str:
    return str(Decimal(cents) / 100)


@st.composite
def consistent_invoices(draw: st.DrawFn) -> dict[str, Any]:
    lines = draw(st.lists(CENTS, min_size=1, max_size=12))
    rate = draw(RATES)
    net = Decimal(sum(lines)) / 100
    tax = (net * Decimal(rate) / 100).quantize(Decimal("0.01"), ROUND_HALF_UP)
    payload = {
        "supplier_tax_id": draw(TAX_IDS),
        "invoice_number": draw(st.from_regex(r"[A-Z]{2,4}-[0-9]{1,8}", fullmatch=True)),
        "currency": draw(st.sampled_from(["GBP", "EUR", "USD"])),
        "net_amount": str(net),
        "tax_rate": rate,
        "tax_amount": str(tax),
        "lines": [{"description": f"line {i}", "amount": _money(c)} for i, c in enumerate(lines)],
    }
    if draw(st.booleans()):
        payload["total_amount"] = str(net + tax)
    return payload


@settings(max_examples=300, deadline=None)
@given(consistent_invoices())
def test_any_invoice_built_consistently_passes(payload):
    result = ic.check(payload, duplicate_of=lambda tax_id, number: None)
    assert result.ok, result.findings


@settings(max_examples=300, deadline=None)
@given(consistent_invoices(), st.data())
def test_a_line_a_cent_off_fails_with_the_lines_code_only(payload, data):
    # given
    index = data.draw(st.integers(min_value=0, max_value=len(payload["lines"]) - 1))
    cent = data.draw(st.sampled_from([Decimal("0.01"), Decimal("-0.01")]))
    line = payload["lines"][index]
    line["amount"] = str(Decimal(line["amount"]) + cent)
    # when
    result = ic.check(payload)
    # then
    assert result.codes == [ic.LINES_MISMATCH]
    assert result.findings[0].field == "net_amount"
