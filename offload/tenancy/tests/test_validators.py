import pytest

from offload.tenancy import validators


@pytest.mark.parametrize("value", ["US", "PH", "PL", "GB"])
def test_country_accepts_iso_alpha_2(value):
    # given / when / then
    assert validators.country_error(value) is None


@pytest.mark.parametrize("value", ["us", "XX", "USA", "U", "", "UK"])
def test_country_refuses_anything_else_naming_the_value(value):
    # given / when
    message = validators.country_error(value)
    # then
    assert message == validators.UNKNOWN_COUNTRY.format(value=value)


@pytest.mark.parametrize("value", ["USD", "JPY", "KWD", "EUR"])
def test_currency_accepts_iso_4217(value):
    # given / when / then
    assert validators.currency_error(value) is None


@pytest.mark.parametrize("value", ["usd", "ABC", "US", "DOLLAR", ""])
def test_currency_refuses_anything_else_naming_the_value(value):
    # given / when
    message = validators.currency_error(value)
    # then
    assert message == validators.UNKNOWN_CURRENCY.format(value=value)


@pytest.mark.parametrize("value", ["UTC", "Asia/Manila", "Europe/Warsaw", "America/Monterrey"])
def test_timezone_accepts_iana_names(value):
    # given / when / then
    assert validators.timezone_error(value) is None


@pytest.mark.parametrize("value", ["Mars/Olympus", "asia/manila", "GMT+8", "", "Europe"])
def test_timezone_refuses_anything_else_naming_the_value(value):
    # given / when
    message = validators.timezone_error(value)
    # then
    assert message == validators.UNKNOWN_TIMEZONE.format(value=value)


@pytest.mark.parametrize("value", ["en", "tl", "pl", "es"])
def test_language_accepts_iso_639_1(value):
    # given / when / then
    assert validators.language_error(value) is None


@pytest.mark.parametrize("value", ["EN", "eng", "xx", "e", ""])
def test_language_refuses_anything_else_naming_the_value(value):
    # given / when
    message = validators.language_error(value)
    # then
    assert message == validators.UNKNOWN_LANGUAGE.format(value=value)
