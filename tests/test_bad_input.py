"""Bad input to every write route: a problem+json 4xx naming the field, and no write.

The write routes (POST, PATCH, PUT) come from the API's OpenAPI document; each is
sent, as a principal allowed to make it, a valid request from tests/routes.py
WRITE_CASES changed in one way: malformed JSON, wrong types, an unknown field, a
value outside an enum, an oversized body. Which fields are integers, enums or
closed objects is read from the route's own schema, so a new field is covered too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from django.test import Client

from offload.tenancy.tests.factories import api_client
from tests import routes
from tests.factories import Writers, make_writers, placeholder_refs

if TYPE_CHECKING:
    from tests.routes import Response

pytestmark = pytest.mark.django_db

WRITE_ROUTES = [r for r in routes.api_routes() if r.method in routes.WRITE_METHODS]
JSON_ROUTES = [r for r in WRITE_ROUTES if r.content_type == routes.JSON]
MULTIPART_ROUTES = [r for r in WRITE_ROUTES if r.content_type == routes.MULTIPART]
CASED_ROUTES = [r for r in WRITE_ROUTES if r.key in routes.WRITE_CASES]
# Any ids do to read a body's shape; the tests build bodies from real ones.
SHAPE = placeholder_refs()
NOT_A_CHOICE = "not-a-choice"


def _fields(kind: str) -> list[tuple[routes.Route, routes.Path]]:
    finders = {
        "integer": routes.integer_paths,
        "enum": routes.enum_paths,
        "closed": routes.closed_object_paths,
    }
    return [
        (route, path)
        for route in CASED_ROUTES
        if route.body_schema is not None
        for path in finders[kind](routes.WRITE_CASES[route.key].body(SHAPE), route.body_schema)
    ]


def _id(value: object) -> str:
    if isinstance(value, routes.Route):
        return str(value)
    return routes.field_name(value) if isinstance(value, tuple) else str(value)


@pytest.fixture
def writers() -> Writers:
    return make_writers()


class Call:
    """One write route, as the principal its WriteCase names, on that side's objects."""

    def __init__(self, route: routes.Route, writers: Writers) -> None:
        self.route = route
        self.case = routes.write_case(route)
        self.refs = writers.client.refs
        if self.case.prepare is not None:
            self.case.prepare(self.refs)
        provider = self.case.writer == "provider"
        secret = writers.provider_key if provider else writers.client.admin_key
        self.client: Client = api_client(secret)
        self.url = route.url(self.refs)

    def valid_body(self) -> dict[str, Any]:
        return self.case.body(self.refs)

    def send(self, body: dict[str, Any] | None) -> Response:
        return routes.send(self.client, self.route, self.url, body)

    def send_raw(self, data: bytes | str, content_type: str) -> Response:
        return self.client.generic(self.route.method, self.url, data, content_type=content_type)


def assert_problem(response: Response, statuses: set[int], fields: set[str] | None = None):
    assert response.status_code in statuses, response.content
    assert response["Content-Type"] == routes.PROBLEM
    body = response.json()
    assert {"type", "title", "status", "detail"} <= body.keys(), body
    assert body["status"] == response.status_code
    if response.status_code == 422:
        assert body["errors"], body
        assert all(e.keys() == {"field", "message"} and e["message"] for e in body["errors"])
    if fields is not None:
        assert {e["field"] for e in body.get("errors", [])} == fields, body


# ------------------------------------------------------------------ the table


def test_every_write_route_has_a_valid_request():
    # given
    keys = {r.key for r in WRITE_ROUTES}
    # then: a new write route needs a WriteCase; a stale case names a route now gone
    assert sorted(k for k in keys if k not in routes.WRITE_CASES) == []
    assert sorted(k for k in routes.WRITE_CASES if k not in keys) == []


@pytest.mark.parametrize("route", CASED_ROUTES, ids=str)
def test_the_valid_request_is_accepted(route: routes.Route, writers: Writers):
    """The control: each bad request below differs from an accepted one in one way."""
    # given
    call = Call(route, writers)
    # when
    response = call.send(call.valid_body())
    # then
    assert 200 <= response.status_code < 300, response.content


# ------------------------------------------------------------------ bad requests


@pytest.mark.parametrize("route", JSON_ROUTES, ids=str)
def test_malformed_json_is_a_400_naming_the_body(route: routes.Route, writers: Writers):
    # given
    call = Call(route, writers)
    before = routes.snapshot()
    # when
    response = call.send_raw('{"name": ', routes.JSON)
    # then
    assert_problem(response, {400}, {"body"})
    assert routes.changes(before, routes.snapshot()) == []


@pytest.mark.parametrize("route", JSON_ROUTES, ids=str)
@pytest.mark.parametrize("raw", ["", "[1]", "null", '"text"', "\xff\xfe"], ids=repr)
def test_a_body_that_is_not_an_object_names_the_body(
    route: routes.Route, raw: str, writers: Writers
):
    # given
    call = Call(route, writers)
    before = routes.snapshot()
    # when
    response = call.send_raw(raw.encode("latin-1"), routes.JSON)
    # then
    assert_problem(response, {400, 422}, {"body"})
    assert routes.changes(before, routes.snapshot()) == []


@pytest.mark.parametrize("route", MULTIPART_ROUTES, ids=str)
def test_malformed_multipart_is_a_400_naming_the_body(route: routes.Route, writers: Writers):
    # given
    call = Call(route, writers)
    before = routes.snapshot()
    # when: no boundary, so the form cannot be split into fields
    response = call.send_raw(b"--x\r\nContent-Disposition: form-data", "multipart/form-data")
    # then
    assert_problem(response, {400}, {"body"})
    assert routes.changes(before, routes.snapshot()) == []


@pytest.mark.parametrize("route", [r for r in CASED_ROUTES if r in JSON_ROUTES], ids=str)
def test_every_field_of_the_wrong_type_is_named(route: routes.Route, writers: Writers):
    # given: each field a list of numbers, which no field of any schema here accepts
    call = Call(route, writers)
    body = {name: [1] for name in call.valid_body()}
    before = routes.snapshot()
    # when
    response = call.send(body)
    # then
    assert_problem(response, {422})
    named = [e["field"] for e in response.json()["errors"]]
    assert [n for n in body if not any(routes.within(f, n) for f in named)] == []
    assert routes.changes(before, routes.snapshot()) == []


@pytest.mark.parametrize(("route", "path"), _fields("integer"), ids=_id)
def test_an_integer_field_given_text_is_named(
    route: routes.Route, path: routes.Path, writers: Writers
):
    # given
    call = Call(route, writers)
    body = routes.replaced(call.valid_body(), path, "twelve")
    before = routes.snapshot()
    # when
    response = call.send(body)
    # then
    assert_problem(response, {422}, {routes.field_name(path)})
    assert routes.changes(before, routes.snapshot()) == []


@pytest.mark.parametrize(("route", "path"), _fields("integer"), ids=_id)
def test_an_integer_beyond_any_column_never_fails_the_server(
    route: routes.Route, path: routes.Path, writers: Writers
):
    # given: larger than a bigint, which neither SQLite nor PostgreSQL can store or compare
    call = Call(route, writers)
    body = routes.replaced(call.valid_body(), path, 2**64)
    before = routes.snapshot()
    # when
    response = call.send(body)
    # then: a reference to a row is refused by name; a number kept in a JSON document
    # (a tier's volume) may be accepted, but nothing answers 500
    if str(path[-1]).endswith("_id"):
        assert_problem(response, {422}, {routes.field_name(path)})
        assert routes.changes(before, routes.snapshot()) == []
    else:
        assert response.status_code < 500, response.content


@pytest.mark.parametrize(("route", "path"), _fields("closed"), ids=_id)
def test_an_unknown_field_is_named(route: routes.Route, path: routes.Path, writers: Writers):
    # given
    call = Call(route, writers)
    body = routes.replaced(call.valid_body(), (*path, "bogus"), 1)
    before = routes.snapshot()
    # when
    response = call.send(body)
    # then
    assert_problem(response, {422}, {routes.field_name((*path, "bogus"))})
    assert routes.changes(before, routes.snapshot()) == []


@pytest.mark.parametrize("route", MULTIPART_ROUTES, ids=str)
def test_an_unknown_form_field_is_named(route: routes.Route, writers: Writers):
    # given
    call = Call(route, writers)
    body = {**call.valid_body(), "bogus": "1"}
    before = routes.snapshot()
    # when
    response = call.send(body)
    # then
    assert_problem(response, {422}, {"bogus"})
    assert routes.changes(before, routes.snapshot()) == []


@pytest.mark.parametrize(("route", "path"), _fields("enum"), ids=_id)
def test_a_value_outside_the_enum_is_named(
    route: routes.Route, path: routes.Path, writers: Writers
):
    # given
    call = Call(route, writers)
    body = routes.replaced(call.valid_body(), path, NOT_A_CHOICE)
    before = routes.snapshot()
    # when
    response = call.send(body)
    # then
    assert_problem(response, {422}, {routes.field_name(path)})
    assert routes.changes(before, routes.snapshot()) == []


@pytest.mark.parametrize("route", MULTIPART_ROUTES, ids=str)
def test_a_form_without_its_file_names_the_file(route: routes.Route, writers: Writers):
    # given
    call = Call(route, writers)
    body = {k: v for k, v in call.valid_body().items() if not hasattr(v, "read")}
    before = routes.snapshot()
    # when
    response = call.send(body)
    # then
    assert_problem(response, {422}, {"file"})
    assert routes.changes(before, routes.snapshot()) == []


# Routes that take a body; a bodiless POST (a heartbeat) has nothing to oversize.
BODY_ROUTES = [r for r in CASED_ROUTES if r.content_type is not None]


@pytest.mark.parametrize("route", BODY_ROUTES, ids=str)
def test_an_oversized_body_is_a_413(route: routes.Route, writers: Writers, settings):
    # given
    settings.OFFLOAD_MAX_BODY_BYTES = 1024
    call = Call(route, writers)
    body = routes.replaced(call.valid_body(), ("padding",), "x" * 2048)
    before = routes.snapshot()
    # when
    response = call.send(body)
    # then
    assert_problem(response, {413})
    assert "1024" in response.json()["detail"]
    assert routes.changes(before, routes.snapshot()) == []


def _top_fields() -> list[tuple[routes.Route, str]]:
    return [
        (route, name)
        for route in CASED_ROUTES
        if route in JSON_ROUTES and route.body_schema is not None
        for name in routes._properties(route.body_schema)
    ]


@pytest.mark.parametrize(("route", "field"), _top_fields(), ids=_id)
def test_a_null_field_never_fails_the_server(route: routes.Route, field: str, writers: Writers):
    # given: a valid request with one field sent as an explicit null
    call = Call(route, writers)
    body = {**call.valid_body(), field: None}
    before = routes.snapshot()
    # when
    response = call.send(body)
    # then: null is either a meaning the field documents (clear it) or a 422 naming it
    assert response.status_code < 500, response.content
    if response.status_code >= 400:
        assert_problem(response, {422}, {field})
        assert routes.changes(before, routes.snapshot()) == []
