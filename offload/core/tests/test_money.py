from decimal import Decimal

import pytest

from offload.core import money


@pytest.mark.parametrize(
    ("currency", "expected"),
    [("USD", 2), ("EUR", 2), ("JPY", 0), ("KRW", 0), ("KWD", 3), ("BHD", 3), ("jpy", 0)],
)
def test_minor_units_follow_iso_4217(currency, expected):
    # given a currency code
    # when
    units = money.minor_units(currency)
    # then
    assert units == expected


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        # JPY has no minor unit: halves go to the even yen.
        ("1234.5", "JPY", "1234"),
        ("1235.5", "JPY", "1236"),
        ("1234.51", "JPY", "1235"),
        # KWD has three decimals.
        ("1.2345", "KWD", "1.234"),
        ("1.2355", "KWD", "1.236"),
        ("7", "KWD", "7.000"),
        # Two decimals, banker's rounding (not half-up).
        ("2.675", "USD", "2.68"),
        ("2.665", "USD", "2.66"),
        ("-2.665", "USD", "-2.66"),
        ("10", "EUR", "10.00"),
    ],
)
def test_quantize_rounds_half_to_even_at_the_minor_unit(amount, currency, expected):
    # given
    value = Decimal(amount)
    # when
    rounded = money.quantize(value, currency)
    # then: same value and same exponent (so "10.00" is not "10")
    assert rounded == Decimal(expected)
    assert rounded.as_tuple().exponent == Decimal(expected).as_tuple().exponent
