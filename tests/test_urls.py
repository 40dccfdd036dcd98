"""The API's routes, grouped by their first segment (config.urls.by_first_segment),
answer every path as the flat list django-ninja makes would."""

from __future__ import annotations

import re

import pytest
from django.urls import URLPattern, resolve, reverse

from config.api import api
from config.urls import by_first_segment

# A value for each kind of path parameter the API's routes use.
SAMPLES = {"int": "7", "path": "some/where", "str": "abc"}


def sample(route: str) -> str:
    """A path the route matches, each parameter replaced by a sample value."""

    def value(match: re.Match[str]) -> str:
        kind = match.group(1).split(":")[0] if ":" in match.group(1) else "str"
        return SAMPLES[kind]

    return re.sub(r"<([^>]*)>", value, route)


def first_flat_match(path: str) -> URLPattern:
    """The route the flat list answers `path` with: the first that matches it."""
    for pattern in api.urls[0]:
        if isinstance(pattern, URLPattern) and pattern.resolve(path) is not None:
            return pattern
    raise AssertionError(f"nothing matches {path}")


@pytest.mark.parametrize("route", sorted({str(p.pattern) for p in api.urls[0]}))
def test_every_route_resolves_as_the_flat_list_resolves_it(route):
    # given: a path of the route, and the route the flat list answers it with
    path = sample(route)
    flat = first_flat_match(path)
    # when: the grouped list resolves it
    found = resolve(f"/api/v1/{path}")
    # then: the same route, with the same parameters
    assert (found.route, found.url_name) == (f"api/v1/{flat.pattern}", flat.name)
    flat_match = flat.resolve(path)
    assert flat_match is not None
    assert found.kwargs == flat_match.kwargs


def test_paths_near_a_group_fall_through_to_the_catch_all():
    # given: paths that share a group's first segment but name no route
    for path in ["items/7/no-such-action", "work-queue", "work", "itemsx/7"]:
        # when / then: the catch-all answers, as in the flat list
        assert resolve(f"/api/v1/{path}").route == "api/v1/<path:rest>"
        assert str(first_flat_match(path).pattern) == "<path:rest>"


def test_the_groups_come_first_and_keep_every_route():
    patterns, app_name, namespace = by_first_segment(api.urls)
    # then: as many routes as before, the namespace kept, the catch-all last
    count = sum(len(p.url_patterns) if hasattr(p, "url_patterns") else 1 for p in patterns)
    assert count == len(api.urls[0])
    assert (app_name, namespace) == api.urls[1:]
    assert str(patterns[-2].pattern) == "<path:rest>"
    # and: a route's name still reverses to its path
    assert reverse("api:work_item_claim") == "/api/v1/work/next"
