"""The invoice check: is a supplier invoice fit to pay? Pure: no Django, no I/O.

The input is a work item's payload (the AP invoice shape of docs/bots.md); the
output is a `Result`: `ok`, the findings (code, field, message) and the computed
figures. Money is `Decimal` in the currency's minor units, never a float.

- the line amounts add up to the net amount, to the cent;
- the tax amount is the net amount times the rate, rounded half-up to the cent;
- the total, when the invoice states one, is the net amount plus the tax;
- the supplier's tax id has its country's format (EU VAT ids: country prefix and
  national pattern, with the national checksum where it is simple; US EINs);
- the invoice is not a duplicate: no earlier item of the same client and process
  has the same supplier tax id and invoice number. Only the caller can know that,
  so it passes `duplicate_of`, a lookup of the earlier item's reference.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

NAME = "invoice-check"

# The payload fields the check reads. A process whose item schema declares all of
# them is an invoice process: the item page offers the check there.
FIELDS = (
    "supplier_tax_id",
    "invoice_number",
    "currency",
    "net_amount",
    "tax_rate",
    "tax_amount",
    "lines",
)
TOTAL = "total_amount"

# ISO 4217 minor units of the currencies whose exponent is not 2.
MINOR_UNITS = {"JPY": 0, "KRW": 0, "VND": 0, "CLP": 0, "ISK": 0, "BHD": 3, "KWD": 3, "OMR": 3}
AMOUNT = re.compile(r"-?\d+(\.\d+)?")
CURRENCY = re.compile(r"[A-Z]{3}")
EIN = re.compile(r"\d{2}-\d{7}")

# Finding codes, stable for machines (a client's systems read them from the result).
MISSING = "missing_field"
BAD_AMOUNT = "invalid_amount"
BAD_PRECISION = "amount_precision"
BAD_CURRENCY = "invalid_currency"
BAD_RATE = "invalid_tax_rate"
BAD_LINES = "invalid_lines"
LINES_MISMATCH = "lines_net_mismatch"
TAX_MISMATCH = "tax_mismatch"
TOTAL_MISMATCH = "total_mismatch"
TAX_ID_COUNTRY = "tax_id_country"
TAX_ID_FORMAT = "tax_id_format"
TAX_ID_CHECKSUM = "tax_id_checksum"
DUPLICATE = "duplicate_invoice"

MISSING_MESSAGE = "is missing"
BAD_AMOUNT_MESSAGE = "'{value}' is not an amount"
BAD_PRECISION_MESSAGE = "{value} has more decimals than {currency} has ({places})"
BAD_CURRENCY_MESSAGE = "'{value}' is not an ISO 4217 currency code"
BAD_RATE_MESSAGE = "'{value}' is not a tax rate in percent (0 to 100)"
BAD_LINES_MESSAGE = "must be a non-empty list of lines, each with an amount"
LINES_MISMATCH_MESSAGE = "the lines add up to {lines}, not the net amount {net}"
TAX_MISMATCH_MESSAGE = "{rate} % of {net} is {expected}, not {tax}"
TOTAL_MISMATCH_MESSAGE = "net {net} plus tax {tax} is {expected}, not {total}"
TAX_ID_COUNTRY_MESSAGE = (
    "'{value}' is not a tax id the bot can check (EU VAT ids of {countries}, GB/XI, "
    "or a US EIN NN-NNNNNNN); a person checks it"
)
TAX_ID_FORMAT_MESSAGE = "'{value}' is not a {country} VAT id ({shape})"
TAX_ID_CHECKSUM_MESSAGE = "'{value}' fails the {country} VAT id check digits"
DUPLICATE_MESSAGE = "invoice {number} of {tax_id} was already received as item {earlier}"
FAILED_REASON = "invoice check failed: {findings}"

# (normalised supplier tax id, normalised invoice number) -> the reference of an earlier
# item with that invoice, or None.
DuplicateOf = Callable[[str, str], str | None]


# ------------------------------------------------------------------ the result


@dataclass(frozen=True)
class Finding:
    code: str
    field: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "field": self.field, "message": self.message}

    def __str__(self) -> str:
        return f"{self.field}: {self.message} ({self.code})"


@dataclass(frozen=True)
class Result:
    findings: tuple[Finding, ...]
    figures: Mapping[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.findings

    @property
    def codes(self) -> list[str]:
        return [f.code for f in self.findings]

    def as_dict(self) -> dict[str, Any]:
        """The JSON shape: `bot`, `ok`, `findings` and `figures` (amounts as strings)."""
        return {
            "bot": NAME,
            "ok": self.ok,
            "findings": [f.as_dict() for f in self.findings],
            "figures": dict(self.figures),
        }

    def reason(self, limit: int = 2000) -> str:
        """The findings as a failure reason a person reads, within `limit` characters."""
        text = FAILED_REASON.format(findings="; ".join(str(f) for f in self.findings))
        return text if len(text) <= limit else text[: limit - 1] + "…"


def applies_to(item_schema: Mapping[str, Any]) -> bool:
    """Whether a process's item schema describes invoices (declares every field read)."""
    properties = item_schema.get("properties")
    return isinstance(properties, Mapping) and all(f in properties for f in FIELDS)


# ------------------------------------------------------------------ tax ids


def _gb(number: str) -> bool:
    """HMRC's modulus 97 (and the 9755 variant) over the first nine digits."""
    digits = [int(c) for c in number[:9]]
    total = sum(d * w for d, w in zip(digits[:7], range(8, 1, -1), strict=True))
    total += int(number[7:9])
    return total % 97 == 0 or (total + 55) % 97 == 0


def _pl(number: str) -> bool:
    """NIP: weights 6 5 7 2 3 4 5 6 7, the sum modulo 11 is the last digit (never 10)."""
    digits = [int(c) for c in number]
    rest = sum(d * w for d, w in zip(digits[:9], (6, 5, 7, 2, 3, 4, 5, 6, 7), strict=True)) % 11
    return rest != 10 and rest == digits[9]


def _it(number: str) -> bool:
    """Partita IVA: the Luhn check over the eleven digits."""
    total = 0
    for i, c in enumerate(reversed(number)):
        d = int(c)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _fr(number: str) -> bool:
    """A numeric key is (12 + 3 * (SIREN mod 97)) mod 97; a letter key is not checked."""
    key, siren = number[:2], number[2:]
    if not key.isdigit():
        return True
    return int(key) == (12 + 3 * (int(siren) % 97)) % 97


@dataclass(frozen=True)
class TaxIdRule:
    country: str
    shape: str  # how a person would describe the national part
    pattern: re.Pattern[str]
    checksum: Callable[[str], bool] | None = None


_GB = TaxIdRule(
    "UK",
    "GB and 9 or 12 digits, or GD/HA and 3 digits",
    re.compile(r"\d{9}|\d{12}|GD[0-4]\d{2}|HA[5-9]\d{2}"),
    lambda n: not n[:1].isdigit() or _gb(n),
)
VAT_RULES: dict[str, TaxIdRule] = {
    "DE": TaxIdRule("German", "DE and 9 digits", re.compile(r"\d{9}")),
    "ES": TaxIdRule(
        "Spanish",
        "ES, a letter or digit, 7 digits, a letter or digit, one of them a letter",
        re.compile(r"[A-Z]\d{7}[A-Z0-9]|\d{8}[A-Z]"),
    ),
    "FR": TaxIdRule(
        "French",
        "FR, a 2-character key and the 9-digit SIREN",
        re.compile(r"[0-9A-Z]{2}\d{9}"),
        _fr,
    ),
    "GB": _GB,
    "XI": TaxIdRule("Northern Irish", "XI and 9 or 12 digits", _GB.pattern, _GB.checksum),
    "IT": TaxIdRule("Italian", "IT and 11 digits", re.compile(r"\d{11}"), _it),
    "NL": TaxIdRule("Dutch", "NL, 9 digits, B and 2 digits", re.compile(r"\d{9}B\d{2}")),
    "PL": TaxIdRule("Polish", "PL and 10 digits", re.compile(r"\d{10}"), _pl),
}


def normalise_tax_id(value: str) -> str:
    """Upper case, without the spaces and dots people type into VAT numbers."""
    return re.sub(r"[\s.]", "", value).upper()


def normalise_number(value: str) -> str:
    return value.strip().upper()


def tax_id_country(tax_id: str) -> str:
    """The country a normalised tax id belongs to ("" when it is not one the check knows)."""
    if EIN.fullmatch(tax_id):
        return "US"
    prefix = tax_id[:2]
    return prefix if prefix in VAT_RULES else ""


def tax_id_findings(raw: str, field_name: str = "supplier_tax_id") -> list[Finding]:
    tax_id = normalise_tax_id(raw)
    country = tax_id_country(tax_id)
    if not country:
        countries = ", ".join(c for c in sorted(VAT_RULES) if c not in {"GB", "XI"})
        message = TAX_ID_COUNTRY_MESSAGE.format(value=raw, countries=countries)
        return [Finding(TAX_ID_COUNTRY, field_name, message)]
    if country == "US":
        return []
    rule, national = VAT_RULES[country], tax_id[2:]
    if not rule.pattern.fullmatch(national):
        message = TAX_ID_FORMAT_MESSAGE.format(value=raw, country=rule.country, shape=rule.shape)
        return [Finding(TAX_ID_FORMAT, field_name, message)]
    if rule.checksum is not None and not rule.checksum(national):
        message = TAX_ID_CHECKSUM_MESSAGE.format(value=raw, country=rule.country)
        return [Finding(TAX_ID_CHECKSUM, field_name, message)]
    return []


def invoice_key(payload: Mapping[str, Any]) -> tuple[str, str] | None:
    """(normalised supplier tax id, normalised invoice number), or None when either is
    missing: what makes two invoices the same invoice."""
    tax_id, number = payload.get("supplier_tax_id"), payload.get("invoice_number")
    if not isinstance(tax_id, str) or not isinstance(number, str):
        return None
    key = (normalise_tax_id(tax_id), normalise_number(number))
    return key if all(key) else None


# ------------------------------------------------------------------ amounts


class _Reader:
    """Reads the payload's fields, collecting a finding for each one it cannot use."""

    def __init__(self, payload: Mapping[str, Any], places: int, currency: str) -> None:
        self.payload = payload
        self.places = places
        self.currency = currency
        self.findings: list[Finding] = []

    def add(self, code: str, field_name: str, message: str) -> None:
        self.findings.append(Finding(code, field_name, message))

    def amount(self, value: Any, field_name: str) -> Decimal | None:
        if value is None:
            self.add(MISSING, field_name, MISSING_MESSAGE)
            return None
        text = str(value).strip() if isinstance(value, str | int) else None
        if isinstance(value, bool) or text is None or not AMOUNT.fullmatch(text):
            self.add(BAD_AMOUNT, field_name, BAD_AMOUNT_MESSAGE.format(value=value))
            return None
        amount = Decimal(text)
        if amount != amount.quantize(Decimal(1).scaleb(-self.places)):
            message = BAD_PRECISION_MESSAGE.format(
                value=text, currency=self.currency or "the currency", places=self.places
            )
            self.add(BAD_PRECISION, field_name, message)
            return None
        return amount

    def field(self, name: str) -> Decimal | None:
        return self.amount(self.payload.get(name), name)

    def rate(self) -> Decimal | None:
        value = self.payload.get("tax_rate")
        if value is None:
            self.add(MISSING, "tax_rate", MISSING_MESSAGE)
            return None
        try:
            rate = Decimal(str(value).strip()) if isinstance(value, str | int) else None
        except InvalidOperation:
            rate = None
        if isinstance(value, bool) or rate is None or not rate.is_finite() or not 0 <= rate <= 100:
            self.add(BAD_RATE, "tax_rate", BAD_RATE_MESSAGE.format(value=value))
            return None
        return rate

    def lines(self) -> Decimal | None:
        lines = self.payload.get("lines")
        if lines is None:
            self.add(MISSING, "lines", MISSING_MESSAGE)
            return None
        if not isinstance(lines, list) or not lines:
            self.add(BAD_LINES, "lines", BAD_LINES_MESSAGE)
            return None
        total, good = Decimal(0), True
        for i, line in enumerate(lines):
            value = line.get("amount") if isinstance(line, Mapping) else None
            amount = self.amount(value, f"lines[{i}].amount")
            if amount is None:
                good = False
            else:
                total += amount
        return total if good else None


def _currency(payload: Mapping[str, Any]) -> tuple[str, int, Finding | None]:
    value = payload.get("currency")
    if value is None:
        return "", 2, Finding(MISSING, "currency", MISSING_MESSAGE)
    if not isinstance(value, str) or not CURRENCY.fullmatch(value):
        return "", 2, Finding(BAD_CURRENCY, "currency", BAD_CURRENCY_MESSAGE.format(value=value))
    return value, MINOR_UNITS.get(value, 2), None


def _money(amount: Decimal, places: int) -> str:
    return str(amount.quantize(Decimal(1).scaleb(-places)))


# ------------------------------------------------------------------ the check


def check(payload: Mapping[str, Any], *, duplicate_of: DuplicateOf | None = None) -> Result:
    """Check one invoice; `duplicate_of` finds an earlier item with the same invoice."""
    currency, places, currency_problem = _currency(payload)
    read = _Reader(payload, places, currency)
    if currency_problem is not None:
        read.findings.append(currency_problem)
    figures: dict[str, str] = {}
    if currency:
        figures["currency"] = currency

    lines, net, rate = read.lines(), read.field("net_amount"), read.rate()
    tax = read.field("tax_amount")
    total = read.field(TOTAL) if payload.get(TOTAL) is not None else None

    def money(amount: Decimal) -> str:
        return _money(amount, places)

    if lines is not None:
        figures["lines_total"] = money(lines)
    if net is not None:
        figures["net_amount"] = money(net)
    if lines is not None and net is not None and lines != net:
        message = LINES_MISMATCH_MESSAGE.format(lines=money(lines), net=money(net))
        read.add(LINES_MISMATCH, "net_amount", message)
    if rate is not None:
        figures["tax_rate"] = str(rate)
    if net is not None and rate is not None:
        expected_tax = (net * rate / 100).quantize(Decimal(1).scaleb(-places), ROUND_HALF_UP)
        figures["tax_expected"] = money(expected_tax)
        if tax is not None and tax != expected_tax:
            message = TAX_MISMATCH_MESSAGE.format(
                rate=rate, net=money(net), expected=money(expected_tax), tax=money(tax)
            )
            read.add(TAX_MISMATCH, "tax_amount", message)
    if tax is not None:
        figures["tax_amount"] = money(tax)
    if net is not None and tax is not None:
        figures["total_expected"] = money(net + tax)
        if total is not None:
            figures["total_amount"] = money(total)
            if total != net + tax:
                message = TOTAL_MISMATCH_MESSAGE.format(
                    net=money(net), tax=money(tax), expected=money(net + tax), total=money(total)
                )
                read.add(TOTAL_MISMATCH, TOTAL, message)

    raw_tax_id = payload.get("supplier_tax_id")
    if not isinstance(raw_tax_id, str) or not raw_tax_id.strip():
        read.add(MISSING, "supplier_tax_id", MISSING_MESSAGE)
    else:
        figures["supplier_tax_id"] = normalise_tax_id(raw_tax_id)
        country = tax_id_country(figures["supplier_tax_id"])
        if country:
            figures["supplier_country"] = country
        read.findings.extend(tax_id_findings(raw_tax_id))
    number = payload.get("invoice_number")
    if not isinstance(number, str) or not number.strip():
        read.add(MISSING, "invoice_number", MISSING_MESSAGE)
    else:
        figures["invoice_number"] = normalise_number(number)

    key = invoice_key(payload)
    if key is not None and duplicate_of is not None:
        earlier = duplicate_of(*key)
        if earlier is not None:
            message = DUPLICATE_MESSAGE.format(number=key[1], tax_id=key[0], earlier=earlier)
            read.add(DUPLICATE, "invoice_number", message)
    return Result(findings=tuple(read.findings), figures=figures)
