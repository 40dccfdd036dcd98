"""Every API route, walked as another client and as an unrelated provider.

The routes come from the API's own OpenAPI document (tests/routes.py), so a new
route is walked without editing this file. Globex, a client of the same provider
as Acme, calls each route with Acme's ids; then Initech, a provider with no tie to
either client, does the same. Every object route answers 404, every list answers
without a foreign row, every create that references a foreign object is refused,
and nothing in the database changes.

What may legitimately be seen across organisations (and so is not used as a
foreign object here):

- a provider's organisation and its sites, by the provider's clients: a client
  reads where its work is done (its engagements' site shores) and who does it.
  Acme and Globex share Northwind, so for Globex the foreign site is Initech's.

Workers are the other way round: no client sees any worker, not even its own
provider's (an item names its assignee by id only). So the controls below read a
worker as its provider, and `/workers/me`, which answers the caller itself, is a
404 for walkers that are not workers.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

import pytest
from django.test import Client

from offload.tenancy.tests.factories import api_client
from tests import routes
from tests.factories import Refs, World, make_world

if TYPE_CHECKING:
    from tests.routes import Response

pytestmark = pytest.mark.django_db

ROUTES = routes.api_routes()
REF_NAMES = routes.REF_NAMES
WALKERS = ["globex", "initech"]
# A list's items name other objects by these keys; each maps to the Refs field of
# the object it points at.
REFERENCE_KEYS = {"client_id": "org_id", "organisation_id": "org_id", "sla_policy_id": "policy_id"}
# Objects only their provider sees, named by their Refs field: the controls read them
# as the provider (Northwind), not as Globex.
PROVIDER_ONLY = frozenset(
    {
        "worker_id",
        "forecast_id",
        "adjustment_id",
        "target_id",
        "schedule_id",
        "time_off_id",
        "template_id",
        "scenario_id",
        "run_id",
        "planning_rule_id",
        "agent_contract_id",
    }
)
# Routes that answer the caller itself, not a list: a walker that is not a worker
# (the walkers are admins) gets a 404, and never anyone else's object.
SELF_ROUTES = frozenset({("GET", "/api/v1/workers/me")})
# Routes about the caller's own user that are neither an object nor a list: its
# inbox's unread count, marking its whole inbox read, its notification preferences.
# Each walker gets its own answer and may change its own rows, never another
# organisation's.
CALLER_ROUTES = frozenset(
    {
        ("GET", "/api/v1/notifications/unread-count"),
        ("POST", "/api/v1/notifications/read-all"),
        ("GET", "/api/v1/notifications/preferences"),
        ("PATCH", "/api/v1/notifications/preferences"),
        # The caller's own shifts (empty for a walker that is not an agent).
        ("GET", "/api/v1/my-shifts"),
    }
)


@dataclasses.dataclass(frozen=True)
class Walk:
    client: Client  # the walker's read+write admin key
    foreign: Refs  # ids the walker must not reach
    foreign_orgs: frozenset[int]  # organisations whose rows it must not touch
    foreign_markers: tuple[str, ...]  # names that must not appear in what it reads

    def markers_in(self, response: Response) -> list[str]:
        text = response.content.decode().lower()
        return [m for m in self.foreign_markers if m in text]


@pytest.fixture
def world() -> World:
    return make_world()


def walk_as(world: World, walker: str) -> Walk:
    acme = world.acme
    if walker == "globex":
        # Northwind's site is Globex's partner's site (legitimately visible), so the
        # foreign site is the unrelated provider's.
        return Walk(
            client=api_client(world.globex.admin_key),
            foreign=dataclasses.replace(acme.refs, site_id=world.initech_site.pk),
            foreign_orgs=frozenset({acme.organisation.pk, world.initech.pk}),
            foreign_markers=(*acme.markers, "initech"),
        )
    return Walk(
        client=api_client(world.initech_key),
        foreign=acme.refs,  # including Northwind's site, which Initech has no tie to
        foreign_orgs=frozenset(
            {acme.organisation.pk, world.globex.organisation.pk, world.northwind.pk}
        ),
        foreign_markers=(*acme.markers, *world.globex.markers, "northwind"),
    )


def detail_param(route: routes.Route) -> str | None:
    """The path parameter of a list's detail route (`/engagements` -> `engagement_id`)."""
    for other in ROUTES:
        is_detail = other.method == "GET" and len(other.path_params) == 1
        if is_detail and other.path == f"{route.path}/{{{other.path_params[0]}}}":
            return other.path_params[0]
    return None


def foreign_ids_in(items: list[dict[str, Any]], id_param: str | None, foreign: Refs) -> list[str]:
    found = []
    for item in items:
        for key, value in item.items():
            ref = id_param if key == "id" else REFERENCE_KEYS.get(key, key)
            if ref in REF_NAMES and value == getattr(foreign, ref):
                found.append(f"{key}={value}")
    return found


def body_for(route: routes.Route, refs: Refs) -> dict[str, Any] | None:
    return routes.write_case(route).body(refs) if route.content_type else None


@pytest.mark.parametrize("walker", WALKERS)
@pytest.mark.parametrize("route", ROUTES, ids=str)
def test_route_never_reaches_another_organisation(route: routes.Route, walker: str, world: World):
    # given
    if route.unknown_params:
        pytest.fail(routes.UNKNOWN_PARAMS.format(route=route, params=route.unknown_params))
    walk = walk_as(world, walker)
    before = routes.snapshot()
    may_create = may_edit_own = False
    # when
    if route.path_params:
        response = routes.send(
            walk.client, route, route.url(walk.foreign), body_for(route, walk.foreign)
        )
        # then: another organisation's object looks exactly like a missing one
        assert response.status_code == 404, (route, response.content)
        assert response["Content-Type"] == routes.PROBLEM
    elif route.key in SELF_ROUTES:
        response = walk.client.get(route.path)
        # then: the walker is no worker, so there is no "me" to answer
        assert response.status_code == 404, (route, response.content)
        assert response["Content-Type"] == routes.PROBLEM
        assert walk.markers_in(response) == [], route
    elif route.key in CALLER_ROUTES:
        response = routes.send(walk.client, route, route.path, body_for(route, walk.foreign))
        # then: the walker's own answer, with nothing of another organisation in it
        assert response.status_code == 200, (route, response.content)
        assert walk.markers_in(response) == [], route
        may_edit_own = True
    elif route.method == "GET":
        # the list as it is, and filtered by foreign ids where it takes such filters
        # (`/documents?engagement_id=<Acme's>`)
        filters = {p: getattr(walk.foreign, p) for p in route.query_params if p in REF_NAMES}
        for query in [{}, filters] if filters else [{}]:
            response = walk.client.get(route.path, query)
            # then: the list answers, without a foreign row or name in it
            assert response.status_code == 200, (route, query, response.content)
            items = response.json()["items"]
            assert foreign_ids_in(items, detail_param(route), walk.foreign) == [], (route, query)
            assert walk.markers_in(response) == [], (route, query)
    elif route.method == "POST":
        case = routes.write_case(route)
        body = case.body(walk.foreign)
        response = routes.send(walk.client, route, route.path, body)
        # then
        assert response.status_code < 500, (route, response.content)
        assert walk.markers_in(response) == [], route
        if body != case.body(world.globex.refs):  # the body names a foreign object
            assert response.status_code in {404, 422}, (route, response.content)
            assert response["Content-Type"] == routes.PROBLEM
        else:
            # Nothing foreign is named (e.g. a new user): the walker may create in its
            # own organisation, and only there.
            may_create = True
    else:
        pytest.fail(f"{route}: a {route.method} without a path parameter; teach this walk it")
    after = routes.snapshot()
    changed = routes.changes(before, after)
    if may_create:
        changed = [c for c in changed if not c.endswith(" added")]
        assert routes.added_rows_of(before, after, walk.foreign_orgs) == [], route
    if may_edit_own:
        assert routes.edited_rows_of(before, after, walk.foreign_orgs) == [], route
        changed = [c for c in changed if not c.endswith(" edited")]
    assert changed == [], route


@pytest.mark.parametrize(
    "route", [r for r in ROUTES if r.method == "GET" and r.path_params], ids=str
)
def test_route_serves_the_walkers_own_objects(route: routes.Route, world: World):
    """The control: the 404s above come from isolation, not from a broken route."""
    # given: Globex's objects, read as Globex (or, for the provider's own, as Northwind)
    provider_only = PROVIDER_ONLY & set(route.path_params)
    client = api_client(world.northwind_key if provider_only else world.globex.admin_key)
    # when
    response = client.get(route.url(world.globex.refs))
    # then
    assert response.status_code == 200, (route, response.content)


@pytest.mark.parametrize(
    "route",
    [
        r
        for r in ROUTES
        if r.method == "GET" and not r.path_params and r.key not in SELF_ROUTES | CALLER_ROUTES
    ],
    ids=str,
)
def test_list_shows_the_walkers_own_rows(route: routes.Route, world: World):
    # given
    param = detail_param(route)
    client = api_client(world.northwind_key if param in PROVIDER_ONLY else world.globex.admin_key)
    # when
    response = client.get(route.path)
    # then
    assert response.status_code == 200, (route, response.content)
    ids = [item.get("id") for item in response.json()["items"]]
    assert ids, route
    if param is not None:
        assert getattr(world.globex.refs, param) in ids, route


def test_shared_objects_are_visible_to_the_providers_clients(world: World):
    """The documented exception: a client reads its provider and the provider's sites."""
    # given
    client = api_client(world.globex.admin_key)
    # when
    provider = client.get(f"/api/v1/organisations/{world.northwind.pk}")
    site = client.get(f"/api/v1/sites/{world.northwind_site.pk}")
    # then
    assert provider.status_code == 200
    assert site.status_code == 200
    assert site.json()["provider_id"] == world.northwind.pk


def test_workers_are_never_visible_to_clients_even_their_providers(world: World):
    """Unlike sites, the provider's workers stay with the provider: a client sees an
    item's assignee id, never the worker behind it."""
    # given: the Northwind agent who works Globex's own process
    client = api_client(world.globex.admin_key)
    # when
    worker = client.get(f"/api/v1/workers/{world.globex.refs.worker_id}")
    roster = client.get("/api/v1/workers")
    log = client.get(f"/api/v1/workers/{world.globex.refs.worker_id}/presence-changes")
    # then
    assert worker.status_code == 404
    assert roster.status_code == 200
    assert roster.json()["items"] == []
    assert log.status_code == 404
