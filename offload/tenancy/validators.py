"""Checks of standard codes, each answering with a message that names the reason."""

from __future__ import annotations

import zoneinfo
from functools import cache

import pycountry

UNKNOWN_COUNTRY = "'{value}' is not an ISO 3166-1 alpha-2 country code"
UNKNOWN_CURRENCY = "'{value}' is not an ISO 4217 currency code"
UNKNOWN_TIMEZONE = "'{value}' is not an IANA time zone"
UNKNOWN_LANGUAGE = "'{value}' is not an ISO 639-1 language code"


@cache
def _timezones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def country_error(value: str) -> str | None:
    ok = len(value) == 2 and pycountry.countries.get(alpha_2=value.upper()) is not None
    return None if ok and value.isupper() else UNKNOWN_COUNTRY.format(value=value)


def currency_error(value: str) -> str | None:
    ok = len(value) == 3 and value.isupper() and pycountry.currencies.get(alpha_3=value)
    return None if ok else UNKNOWN_CURRENCY.format(value=value)


def timezone_error(value: str) -> str | None:
    return None if value in _timezones() else UNKNOWN_TIMEZONE.format(value=value)


def language_error(value: str) -> str | None:
    ok = len(value) == 2 and value.islower() and pycountry.languages.get(alpha_2=value)
    return None if ok else UNKNOWN_LANGUAGE.format(value=value)
