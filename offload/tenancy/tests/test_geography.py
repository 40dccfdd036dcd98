import itertools

import pycountry
import pytest

from offload.tenancy import geography
from offload.tenancy.geography import Shore

ALL_COUNTRIES = sorted(set().union(*geography.REGIONS.values()))


@pytest.mark.parametrize(
    ("site", "client", "expected"),
    [
        # Same country.
        ("US", "US", Shore.ONSHORE),
        ("PH", "PH", Shore.ONSHORE),
        # The demo's sites against its US client (Acme).
        ("PH", "US", Shore.OFFSHORE),
        ("MX", "US", Shore.NEARSHORE),
        ("PL", "US", Shore.OFFSHORE),
        # ... and against its GB client (Globex): GB is western_europe, PL is
        # central_eastern_europe and they share no border, so Krakow is offshore.
        ("PL", "GB", Shore.OFFSHORE),
        ("MX", "GB", Shore.OFFSHORE),
        # A border across regions is nearshore, both ways round.
        ("PL", "DE", Shore.NEARSHORE),
        ("DE", "PL", Shore.NEARSHORE),
        ("GT", "MX", Shore.NEARSHORE),
        ("MA", "ES", Shore.NEARSHORE),
        # Same region without a border.
        ("IE", "DE", Shore.NEARSHORE),
        ("RO", "PL", Shore.NEARSHORE),
        ("CA", "MX", Shore.NEARSHORE),
        # Neither.
        ("IN", "GB", Shore.OFFSHORE),
        ("ZA", "US", Shore.OFFSHORE),
        ("CO", "US", Shore.OFFSHORE),
    ],
)
def test_classify_by_country_border_and_region(site, client, expected):
    # given a site country and a client country
    # when
    shore = geography.classify(site, client)
    # then
    assert shore == expected


def test_countries_outside_the_table_are_offshore_unless_identical():
    # given two countries no region lists
    # when / then: "no region" is not a shared region
    assert geography.classify("AQ", "GL") == Shore.OFFSHORE
    assert geography.classify("AQ", "AQ") == Shore.ONSHORE


def test_each_country_belongs_to_at_most_one_region():
    # given
    memberships = [c for members in geography.REGIONS.values() for c in members]
    # when
    duplicates = {c for c in memberships if memberships.count(c) > 1}
    # then
    assert duplicates == set()


def test_every_country_in_the_tables_is_an_iso_code():
    # given
    border_countries = {c for pair in geography.CROSS_REGION_BORDERS for c in pair}
    # when
    unknown = {
        c
        for c in set(ALL_COUNTRIES) | border_countries
        if pycountry.countries.get(alpha_2=c) is None
    }
    # then
    assert unknown == set()


def test_border_table_lists_only_borders_that_cross_regions():
    # given the documented rule: borders inside a region add nothing
    # when
    inside = [
        sorted(pair)
        for pair in geography.CROSS_REGION_BORDERS
        if len({geography.region_of(c) for c in pair}) == 1
    ]
    # then
    assert inside == []
    assert all(len(pair) == 2 for pair in geography.CROSS_REGION_BORDERS)


def test_classify_is_symmetric_over_the_whole_table():
    # given every ordered pair of countries the tables know
    pairs = itertools.product(ALL_COUNTRIES, repeat=2)
    # when
    asymmetric = [(a, b) for a, b in pairs if geography.classify(a, b) != geography.classify(b, a)]
    # then
    assert asymmetric == []
