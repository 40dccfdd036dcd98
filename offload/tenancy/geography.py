"""Onshore, nearshore or offshore: where a delivery site stands relative to its client.

Pure data and one function, no Django. The rule, documented in docs/sites.md:
- onshore: the site is in the client's country;
- nearshore: the site shares a border with the client's country, or both are in
  the same region of the table below;
- offshore: anything else.
"""

from __future__ import annotations

from enum import StrEnum

# Regions of the world as nearshore decisions are usually made in BPO sourcing.
REGIONS: dict[str, frozenset[str]] = {
    "north_america": frozenset({"US", "CA", "MX"}),
    "central_america_caribbean": frozenset(
        {"GT", "BZ", "HN", "SV", "NI", "CR", "PA", "CU", "DO", "JM", "PR", "TT", "BS", "BB", "HT"}
    ),
    "south_america": frozenset(
        {"CO", "VE", "EC", "PE", "BO", "BR", "PY", "UY", "AR", "CL", "GY", "SR"}
    ),
    "western_europe": frozenset(
        {
            "GB",
            "IE",
            "FR",
            "BE",
            "NL",
            "LU",
            "DE",
            "AT",
            "CH",
            "ES",
            "PT",
            "IT",
            "MT",
            "MC",
            "GR",
            "CY",
        }
    ),
    "northern_europe": frozenset({"DK", "SE", "NO", "FI", "IS", "EE", "LV", "LT"}),
    "central_eastern_europe": frozenset(
        {"PL", "CZ", "SK", "HU", "RO", "BG", "SI", "HR", "RS", "BA", "ME", "MK", "AL", "MD", "UA"}
    ),
    "middle_east_north_africa": frozenset(
        {"MA", "DZ", "TN", "EG", "JO", "LB", "IL", "AE", "SA", "QA", "BH", "KW", "OM", "TR"}
    ),
    "sub_saharan_africa": frozenset({"ZA", "KE", "NG", "GH", "MU", "RW", "UG", "TZ", "ET"}),
    "south_asia": frozenset({"IN", "PK", "BD", "LK", "NP"}),
    "southeast_asia": frozenset({"PH", "MY", "SG", "ID", "TH", "VN", "KH", "MM"}),
    "east_asia": frozenset({"CN", "JP", "KR", "TW", "HK", "MO", "MN"}),
    "oceania": frozenset({"AU", "NZ", "FJ", "PG"}),
}

# Land borders that cross the regions above (borders inside a region add nothing).
CROSS_REGION_BORDERS: frozenset[frozenset[str]] = frozenset(
    frozenset(pair)
    for pair in [
        ("MX", "GT"),
        ("MX", "BZ"),
        ("PA", "CO"),
        ("DE", "PL"),
        ("DE", "CZ"),
        ("DE", "DK"),
        ("AT", "CZ"),
        ("AT", "SK"),
        ("AT", "HU"),
        ("AT", "SI"),
        ("IT", "SI"),
        ("ES", "MA"),
        ("GR", "BG"),
        ("GR", "AL"),
        ("GR", "MK"),
        ("GR", "TR"),
        ("BG", "TR"),
        ("CN", "IN"),
        ("CN", "VN"),
        ("CN", "PK"),
        ("IN", "MM"),
        ("BD", "MM"),
    ]
)


class Shore(StrEnum):
    ONSHORE = "onshore"
    NEARSHORE = "nearshore"
    OFFSHORE = "offshore"


def region_of(country: str) -> str | None:
    for name, members in REGIONS.items():
        if country in members:
            return name
    return None


def classify(site_country: str, client_country: str) -> Shore:
    if site_country == client_country:
        return Shore.ONSHORE
    if frozenset({site_country, client_country}) in CROSS_REGION_BORDERS:
        return Shore.NEARSHORE
    region = region_of(site_country)
    if region is not None and region == region_of(client_country):
        return Shore.NEARSHORE
    return Shore.OFFSHORE
